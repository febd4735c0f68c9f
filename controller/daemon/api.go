package daemon

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/topology"
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

// maxBody bounds a request body: a topology of 100,000 ports is about 15 MB.
const maxBody = 64 << 20

// Handler serves the API under /api/v1/ (see controller/api), and
// /healthz and /readyz, which need no credentials.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.Prefix+"topology", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Topology())
	})
	mux.HandleFunc("PUT "+api.Prefix+"topology", func(w http.ResponseWriter, r *http.Request) {
		var u api.TopologyUpdate
		if !readJSON(w, r, &u) {
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
	})
	mux.HandleFunc("POST "+api.Prefix+"validate", func(w http.ResponseWriter, r *http.Request) {
		var f api.Files
		if !readJSON(w, r, &f) {
			return
		}
		if len(f.Files) == 0 {
			writeError(w, badRequest("no files to validate"))
			return
		}
		writeJSON(w, http.StatusOK, validate(f.Files))
	})
	mux.HandleFunc("POST "+api.Prefix+"plan", func(w http.ResponseWriter, r *http.Request) {
		var f api.Files
		if r.ContentLength != 0 && !readJSON(w, r, &f) {
			return
		}
		p, err := d.plan(r.Context(), f.Files)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
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
			o.Interfaces = []ovsdb.InterfaceState{}
		}
		writeJSON(w, http.StatusOK, api.HostInterfaces{Host: host, Observed: o})
	})
	if d.cfg.Level != nil {
		mux.Handle(api.Prefix+"log/level", d.cfg.Level)
	}
	mux.HandleFunc(api.Prefix, func(w http.ResponseWriter, r *http.Request) {
		// A known path with another method is a 405 that names those allowed.
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost} {
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
	outer.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.Auth.allows(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loomd"`)
			writeError(w, &api.Error{Message: "missing or wrong credentials: send the bearer token (loomctl --token-file) or a client certificate loomd trusts", Code: http.StatusUnauthorized})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return outer
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, &api.Error{Message: fmt.Sprintf("Content-Type %q: send application/json", ct), Code: http.StatusUnsupportedMediaType})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, &api.Error{Message: fmt.Sprintf("request body over %d bytes", maxBody), Code: http.StatusRequestEntityTooLarge})
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
		return &api.Validation{Errors: api.Problems(err)}
	}
	return &api.Validation{Valid: true, Warnings: warnings(t), Summary: api.Summarize(t)}
}

// plan asks every host of files' topology (or of the one in force) what
// it would need; it changes nothing.
func (d *Daemon) plan(ctx context.Context, files map[string]string) (*api.Plan, error) {
	t, rev := d.current()
	if files != nil {
		var err error
		if t, err = topology.LoadBytes(api.BytesOf(files)); err != nil {
			return nil, invalid(err)
		}
	} else if t == nil {
		return nil, &api.Error{Message: "no topology in force: send files to plan", Code: http.StatusConflict}
	}
	c := d.cfg.Reconciler
	e := &controller.Engine{Log: d.log.With(zap.String("call", "plan")), Opts: controller.Options{
		HostTimeout: min(c.HostTimeout, 30*time.Second), Parallel: c.Parallel, DryRun: true, TLS: c.TLS}}
	results, err := e.Apply(ctx, t)
	if err != nil {
		return nil, invalid(err)
	}
	p := &api.Plan{Revision: rev, Hosts: make([]api.HostPlan, len(results)), Warnings: warnings(t)}
	for i, r := range results {
		p.Hosts[i] = api.PlanOf(r)
	}
	return p, nil
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
	rep, err := controller.InspectFlows(ctx, t, hs, d.cfg.Reconciler.TLS.OpenFlow(hs.OpenFlow))
	if err != nil {
		return nil, &api.Error{Message: fmt.Sprintf("host %s: %v", host, err), Code: http.StatusBadGateway}
	}
	f := api.FlowsOf(rep)
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
func (d *Daemon) watch(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errors.New("streaming unsupported"))
		return
	}
	c := d.hub.subscribe()
	defer d.hub.unsubscribe(c)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	s := d.Status()
	if enc.Encode(api.Event{Type: api.EventSnapshot, Status: &s}) != nil {
		return
	}
	fl.Flush()
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
			if enc.Encode(ev) != nil {
				return
			}
		case <-keep.C:
			// An empty line keeps proxies from closing a quiet stream.
			if _, err := w.Write([]byte("\n")); err != nil {
				return
			}
		}
		fl.Flush()
	}
}
