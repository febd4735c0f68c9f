package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/version"
)

// Auth says who may call the API: a client with the bearer token, or one
// whose TLS client certificate the server verified (mTLS). With neither
// set, anyone who can connect may (loomd then listens on loopback only).
type Auth struct {
	Token       string
	ClientCerts bool
}

func (a Auth) allows(r *http.Request) bool {
	if a.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	if a.Token == "" {
		return !a.ClientCerts
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(a.Token)) == 1
}

// Limits bound what the API's calls may cost loomd.
type Limits struct {
	// MaxBody bounds a request body in bytes (0: DefaultMaxBody).
	MaxBody int64
	// MaxCalls bounds the validate, plan and PUT topology calls served at
	// once (0: DefaultMaxCalls): each loads and compiles a whole topology,
	// which costs CPU and memory in proportion to its size. A call over
	// the limit waits up to a second for another to end, then gets 503
	// with Retry-After.
	MaxCalls int
	// MaxEdits bounds the edits (POST edits) served or waiting their turn
	// (0: DefaultMaxEdits); one over it gets 503 with Retry-After at once.
	// Edits take turns with each other and with topology writes, apart
	// from validate and plan calls, which may wait for hosts.
	MaxEdits int
}

const (
	// DefaultMaxBody is Limits.MaxBody's default. Judging a topology costs
	// about 45 bytes of memory per byte of YAML (the parser's tree): 4 MiB
	// keeps one call under about 200 MB, and holds some 25,000 ports
	// written a block each (docs/performance.md, "Hostile input").
	DefaultMaxBody = 4 << 20
	// DefaultMaxCalls is Limits.MaxCalls's default.
	DefaultMaxCalls = 2
	// DefaultMaxEdits is Limits.MaxEdits's default.
	DefaultMaxEdits = 64
	// callWait is how long a call over MaxCalls waits for a turn.
	callWait = time.Second
)

// bodyWait is how long the body of a call that has its turn may take to
// arrive, plus a second per MiB (a variable for tests).
var bodyWait = 10 * time.Second

func (l Limits) withDefaults() Limits {
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxCalls <= 0 {
		l.MaxCalls = DefaultMaxCalls
	}
	if l.MaxEdits <= 0 {
		l.MaxEdits = DefaultMaxEdits
	}
	return l
}

// RequireAuth serves h to the clients the API's credentials admit, and
// 401 to others (loomd puts /metrics behind it).
func (d *Daemon) RequireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.Auth.allows(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loomd"`)
			writeError(w, &api.Error{Message: "missing or wrong credentials: send the bearer token (loomctl --token-file) or a client certificate loomd trusts", Code: http.StatusUnauthorized})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// heavy admits a call that loads and compiles a topology: its body must
// fit under MaxBody (said before anything is read), and it waits its turn
// among MaxCalls.
func (d *Daemon) heavy(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > d.limits.MaxBody {
			w.Header().Set("Connection", "close") // rather than read the body to drop it
			writeError(w, tooLarge(d.limits.MaxBody))
			return
		}
		t := time.NewTimer(callWait)
		defer t.Stop()
		select {
		case d.calls <- struct{}{}:
			defer func() { <-d.calls }()
		case <-t.C:
			w.Header().Set("Retry-After", "1")
			writeError(w, &api.Error{Message: fmt.Sprintf("loomd is busy: %d validate, plan or topology writes are being served, the most it serves at once (setting api-max-calls); try again in a second", d.limits.MaxCalls),
				Code: http.StatusServiceUnavailable})
			return
		case <-r.Context().Done():
			return
		}
		h(w, r)
	}
}

func tooLarge(max int64) *api.Error {
	return &api.Error{Message: fmt.Sprintf("request body over the limit of %s (setting api-max-body)", sizeString(max)), Code: http.StatusRequestEntityTooLarge}
}

// sizeString writes a byte count as people read it: "32 MiB (33554432 bytes)".
func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB (%d bytes)", n>>20, n)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB (%d bytes)", n>>10, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Handler serves the API under /api/v1/ (see controller/api), and
// /healthz and /readyz, which need no credentials.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.Prefix+"topology", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Topology())
	})
	mux.HandleFunc("PUT "+api.Prefix+"topology", d.heavy(func(w http.ResponseWriter, r *http.Request) {
		var u api.TopologyUpdate
		if !d.readJSON(w, r, &u) {
			return
		}
		a, err := d.Put(u)
		if err != nil {
			writeError(w, err)
			return
		}
		d.log.Info("topology written through the API", zap.Int64("revision", a.Revision), zap.Bool("unchanged", a.Unchanged),
			zap.String("remote", r.RemoteAddr))
		writeJSON(w, http.StatusOK, a)
	}))
	mux.HandleFunc("POST "+api.Prefix+"edits", d.editing(func(w http.ResponseWriter, r *http.Request) {
		var req api.EditRequest
		if !d.readJSON(w, r, &req) {
			return
		}
		res, err := d.Edit(req)
		if err != nil {
			writeError(w, err)
			return
		}
		if !res.DryRun && !res.Unchanged {
			d.log.Info("topology edited through the API", zap.Int64("revision", res.Revision), zap.Strings("edits", res.Done),
				zap.String("remote", r.RemoteAddr))
		}
		writeJSON(w, http.StatusOK, res)
	}))
	mux.HandleFunc("DELETE "+api.Prefix+"removals/{host}", func(w http.ResponseWriter, r *http.Request) {
		res, err := d.ForgetRemoval(r.PathValue("host"))
		if err != nil {
			writeError(w, err)
			return
		}
		if res.Forgotten {
			d.log.Warn("removed host given up on: what Loom made on it stays", zap.String("host", res.Host), zap.String("remote", r.RemoteAddr))
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST "+api.Prefix+"validate", d.heavy(func(w http.ResponseWriter, r *http.Request) {
		var f api.Files
		if !d.readJSON(w, r, &f) {
			return
		}
		if len(f.Files) == 0 {
			writeError(w, badRequest("no files to validate"))
			return
		}
		writeJSON(w, http.StatusOK, validate(f.Files))
	}))
	mux.HandleFunc("POST "+api.Prefix+"plan", d.heavy(func(w http.ResponseWriter, r *http.Request) {
		var f api.Files
		if r.ContentLength != 0 && !d.readJSON(w, r, &f) {
			return
		}
		p, err := d.plan(r.Context(), f)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	}))
	mux.HandleFunc("POST "+api.Prefix+"runtime-ports", d.runtimeCalls(func(w http.ResponseWriter, r *http.Request) {
		var req api.RuntimePortRequest
		if !d.readJSON(w, r, &req) {
			return
		}
		res, err := d.AddRuntimePort(req)
		if err != nil {
			writeError(w, err)
			return
		}
		if res.Created {
			d.log.Info("runtime port added", zap.String("port", res.Name), zap.String("switch", res.Switch), zap.String("host", res.Host),
				zap.String("runtime", res.Runtime), zap.String("container", res.ContainerID), zap.Strings("ips", res.IPs), zap.Int64("revision", res.Revision))
		}
		writeJSON(w, http.StatusOK, res)
	}))
	mux.HandleFunc("GET "+api.Prefix+"runtime-ports", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.RuntimePorts())
	})
	del := func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res, err := d.DeleteRuntimePort(r.PathValue("name"), q.Get("containerID"), q.Get("ifName"))
		if err != nil {
			writeError(w, err)
			return
		}
		if res.Deleted {
			d.log.Info("runtime port deleted", zap.String("port", res.Name), zap.Int64("revision", res.Revision))
		}
		writeJSON(w, http.StatusOK, res)
	}
	mux.HandleFunc("DELETE "+api.Prefix+"runtime-ports", d.runtimeCalls(del))
	mux.HandleFunc("DELETE "+api.Prefix+"runtime-ports/{name}", d.runtimeCalls(del))
	d.networkRoutes(mux)
	mux.HandleFunc("GET "+api.Prefix+"version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.ServerVersion{Info: version.Get(), APIVersion: api.Version})
	})
	mux.HandleFunc("GET "+api.Prefix+"status", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			d.watch(w, r)
			return
		}
		writeJSON(w, http.StatusOK, d.Status())
	})
	mux.HandleFunc("GET "+api.Prefix+"hosts/{host}/flows", func(w http.ResponseWriter, r *http.Request) {
		f, err := d.flows(r.Context(), r.PathValue("host"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("GET "+api.Prefix+"hosts/{host}/interfaces", func(w http.ResponseWriter, r *http.Request) {
		host := r.PathValue("host")
		o, ok := d.rec.Observed(host)
		if !ok {
			_, rev := d.current()
			writeError(w, &api.Error{Message: fmt.Sprintf("no host %q in the topology (revision %d)", host, rev), Code: http.StatusNotFound})
			return
		}
		if o.Interfaces == nil {
			o.Interfaces = []api.Interface{}
		}
		writeJSON(w, http.StatusOK, api.HostInterfaces{Host: host, Observed: o})
	})
	if d.cfg.Level != nil {
		mux.Handle(api.Prefix+"log/level", d.cfg.Level)
	}
	mux.HandleFunc(api.Prefix, func(w http.ResponseWriter, r *http.Request) {
		// A known path with another method is a 405 that names those allowed.
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pat := mux.Handler(r2); pat != api.Prefix {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, &api.Error{Message: fmt.Sprintf("method %s not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")), Code: http.StatusMethodNotAllowed})
			return
		}
		writeError(w, &api.Error{Message: fmt.Sprintf("no such API call: %s %s", r.Method, r.URL.Path), Code: http.StatusNotFound})
	})
	outer := http.NewServeMux()
	outer.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	outer.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			http.Error(w, "no valid topology in force", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	outer.Handle("/api/", d.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(answerInTime(w, r), r)
	})))
	return outer
}

func (d *Daemon) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, &api.Error{Message: fmt.Sprintf("Content-Type %q: send application/json", ct), Code: http.StatusUnsupportedMediaType})
		return false
	}
	// The call holds its turn (heavy) while its body arrives: a slow
	// client must not keep it long. The body gets bodyWait and a second
	// per MiB it announces (or may send), within the server's read
	// timeout.
	wait := time.Duration(0)
	if srv := serverOf(r); srv != nil && srv.ReadTimeout > 0 {
		size := r.ContentLength
		if size < 0 {
			size = d.limits.MaxBody
		}
		wait = min(bodyWait+time.Duration(size>>20)*time.Second, srv.ReadTimeout)
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(wait)) //nolint:errcheck // unsupported: the server's deadline stays
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, d.limits.MaxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, tooLarge(d.limits.MaxBody))
		case errors.Is(err, os.ErrDeadlineExceeded):
			writeError(w, &api.Error{Message: fmt.Sprintf("the request body did not arrive in time: loomd waits %v for it (%v, and a second per MiB)", wait, bodyWait),
				Code: http.StatusRequestTimeout})
		case errors.Is(err, io.EOF):
			writeError(w, badRequest("empty request body: send a JSON document"))
		default:
			writeError(w, badRequest("malformed JSON: %v", err))
		}
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}

// serverOf is the server r came to, if any.
func serverOf(r *http.Request) *http.Server {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	return srv
}

// answerInTime gives an answer the server's whole write timeout from the
// moment it starts to be written, not from the end of the request: a
// plan waits for the hosts, a PUT of a large topology compiles it, and
// the timeout is there to cut off clients that do not read, not slow
// answers.
func answerInTime(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	srv := serverOf(r)
	if srv == nil || srv.WriteTimeout <= 0 {
		return w
	}
	// No deadline until then: over HTTP/2 the write timeout is a timer
	// that resets the stream when it fires, written to or not.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // unsupported: the server's deadline stays
	return &deadlineWriter{ResponseWriter: w, rc: rc, d: srv.WriteTimeout}
}

type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	started bool
}

func (w *deadlineWriter) start() {
	if !w.started {
		w.started = true
		w.rc.SetWriteDeadline(time.Now().Add(w.d)) //nolint:errcheck // unsupported: the server's deadline stays
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeError(w http.ResponseWriter, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = &api.Error{Message: err.Error(), Code: http.StatusInternalServerError}
	}
	writeJSON(w, e.Code, e)
}

func validate(files map[string]string) *api.Validation {
	t, err := topology.LoadBytes(api.BytesOf(files))
	if err == nil {
		_, err = flows.Compile(t)
	}
	if err != nil {
		p, _ := problems(err)
		return &api.Validation{Errors: p}
	}
	return &api.Validation{Valid: true, Warnings: warnings(t), Summary: api.Summarize(t)}
}

// plan asks every host of files' topology (or of the one in force) what
// it would need; it changes nothing. With files, only the hosts of the
// topology in force are asked, and only at the addresses (and with the
// certificate pin) they have there: the request's files do not choose
// where loomd connects with its certificate. The others are listed as
// not contacted. The flows are counted, and listed when f.Flows.
func (d *Daemon) plan(ctx context.Context, f api.Files) (*api.Plan, error) {
	files, force := f.Files, f.Force
	cur, rev := d.current()
	t := cur
	var skip map[string]string
	var removed []string
	if files != nil {
		var err error
		if t, err = topology.LoadBytes(api.BytesOf(files)); err != nil {
			return nil, invalid(err)
		}
		// The files as loomd would take them: with the runtime ports and
		// the addresses it holds (refused, naming them, as a PUT would).
		d.mu.Lock()
		rs := d.st.Runtime
		d.mu.Unlock()
		r, err := resolve(t, rs, force)
		if err != nil {
			return nil, err
		}
		t, removed = r.topo, r.removed
		skip = notContacted(t, cur)
	} else if t == nil {
		return nil, &api.Error{Message: "no topology in force: send files to plan", Code: http.StatusConflict}
	}
	c := d.cfg.Reconciler
	e := &controller.Engine{Log: d.log.With(zap.String("call", "plan")), Opts: controller.Options{
		HostTimeout: min(c.HostTimeout, 30*time.Second), Parallel: c.Parallel, DryRun: true, TLS: c.TLS, Skip: skip}}
	results, err := e.Apply(ctx, t)
	if err != nil {
		return nil, invalid(err)
	}
	p := &api.Plan{Revision: rev, Hosts: make([]api.HostPlan, len(results)), Warnings: warnings(t), RuntimePortsRemoved: removed}
	for i, r := range results {
		p.Hosts[i] = controller.PlanOf(r, f.Flows)
	}
	p.HostsRemoved = d.planRemovals(ctx, cur, t, e.Opts.HostTimeout)
	return p, nil
}

// notContacted lists the hosts of t that a plan must not contact, with
// why: those not in the topology in force (cur), and those whose
// addresses or certificate pin differ there.
func notContacted(t, cur *topology.Topology) map[string]string {
	skip := map[string]string{}
	for _, h := range t.Hosts {
		var now topology.Host
		ok := false
		if cur != nil {
			now, ok = cur.Host(h.Name)
		}
		switch {
		case !ok:
			skip[h.Name] = "not in the topology in force"
		case h.OVSDB != now.OVSDB || h.OpenFlow != now.OpenFlow:
			skip[h.Name] = fmt.Sprintf("its addresses differ from the topology in force (ovsdb %s, openflow %s there)", now.OVSDB, now.OpenFlow)
		case h.TLS != now.TLS:
			skip[h.Name] = "its certificate pin (tls) differs from the topology in force"
		}
	}
	return skip
}

// flows reads one host's flows and explains them with the topology in
// force.
func (d *Daemon) flows(ctx context.Context, host string) (*api.HostFlows, error) {
	// The topology and the host's state it was compiled into, together
	// (install hands the states over under d.mu).
	d.mu.Lock()
	t, rev, hs := d.topo, d.st.Revision, d.rec.Desired(host)
	d.mu.Unlock()
	if t == nil {
		return nil, &api.Error{Message: "no topology in force", Code: http.StatusConflict}
	}
	if hs == nil {
		return nil, &api.Error{Message: fmt.Sprintf("no host %q in the topology (revision %d)", host, rev), Code: http.StatusNotFound}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := d.cfg.Reconciler.TLS.VerifyOpenFlow(ctx, hs)
	var f *api.HostFlows
	if err == nil {
		f, err = controller.InspectFlows(ctx, t, hs, d.cfg.Reconciler.TLS.OpenFlow(hs.OpenFlow))
	}
	if err != nil {
		return nil, &api.Error{Message: fmt.Sprintf("host %s: %v", host, err), Code: http.StatusBadGateway}
	}
	f.Revision = rev
	// Whether the host is at the revision the flows are compared with.
	for _, h := range d.rec.Status() {
		if h.Host == host {
			f.Status = &h
		}
	}
	return f, nil
}

// watch streams status events as JSON lines: a snapshot, then each change.
// The stream lasts as long as its client reads it: the server's read
// timeout does not apply to it (a GET has no body to wait for), and each
// line gets the whole write timeout.
func (d *Daemon) watch(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) //nolint:errcheck // unsupported: no deadline to lift
	write := time.Duration(0)
	if srv := serverOf(r); srv != nil {
		write = srv.WriteTimeout
	}
	send := func(v any) bool {
		if write > 0 {
			rc.SetWriteDeadline(time.Now().Add(write)) //nolint:errcheck
			// None while waiting for the next line: over HTTP/2 a
			// deadline resets the stream when it passes, written to or not.
			defer rc.SetWriteDeadline(time.Time{}) //nolint:errcheck
		}
		var err error
		if v == nil {
			// An empty line keeps proxies from closing a quiet stream.
			_, err = w.Write([]byte("\n"))
		} else {
			err = json.NewEncoder(w).Encode(v)
		}
		return err == nil && rc.Flush() == nil
	}
	c := d.hub.subscribe()
	defer d.hub.unsubscribe(c)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	s := d.Status()
	if !send(api.Event{Type: api.EventSnapshot, Status: &s}) {
		return
	}
	keep := time.NewTicker(30 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case ev, ok := <-c:
			if !ok {
				return // fell behind: the client reconnects for a fresh snapshot
			}
			if !send(ev) {
				return
			}
		case <-keep.C:
			if !send(nil) {
				return
			}
		}
	}
}
