package daemon

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// served is a Daemon behind a real server (Serve), as loomd runs it.
type served struct {
	d    *Daemon
	addr string
}

func serve(t *testing.T, limits Limits, l Listen) *served {
	t.Helper()
	d, err := New(Config{Log: zaptest.NewLogger(t), StateDir: t.TempDir(), Auth: Auth{Token: token}, Limits: limits}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Addr = "127.0.0.1:0"
	srv, addr, err := Serve(l, d.Handler(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &served{d: d, addr: addr.String()}
}

func (s *served) client() *api.Client {
	return &api.Client{Server: "http://" + s.addr, Token: token}
}

// raw opens a connection and sends req as is.
func (s *served) raw(t *testing.T, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// closedBy waits up to limit for the server to close c (reading and
// dropping what it sends) and returns what it sent and how long it took.
func closedBy(t *testing.T, c net.Conn, limit time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not close the connection within %v: %v (read %q)", limit, err, b)
	}
	return string(b), time.Since(start)
}

func validateBody(yaml string) string {
	b, _ := json.Marshal(api.Files{Files: map[string]string{"net.yaml": yaml}})
	return string(b)
}

func post(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: loomd\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, token, len(body), body)
}

// A body over the limit is refused with 413 before it is read when its
// length is announced, and as soon as it passes the limit when not.
func TestBodyLimit(t *testing.T) {
	s := serve(t, Limits{MaxBody: 4 << 10}, Listen{})
	big := validateBody(topo + strings.Repeat("# padding\n", 1000))
	for _, path := range []string{"validate", "plan"} {
		out, _ := closedBy(t, s.raw(t, post("/api/v1/"+path, big)), 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 413 ") || !strings.Contains(out, `request body over the limit of 4 KiB (4096 bytes) (setting api-max-body)`) {
			t.Errorf("%s with Content-Length over the limit: %q", path, out)
		}
	}
	// Chunked: no length announced.
	req, _ := http.NewRequest("PUT", "http://"+s.addr+"/api/v1/topology", io.MultiReader(strings.NewReader(`{"revision":0,"files":{"a":"`),
		strings.NewReader(strings.Repeat("x", 8<<10)), strings.NewReader(`"}}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), "api-max-body") {
		t.Errorf("chunked body over the limit: %d %s", resp.StatusCode, b)
	}
	// Under the limit: served.
	v, err := s.client().Validate(context.Background(), map[string]string{"net.yaml": topo})
	if err != nil || !v.Valid {
		t.Errorf("a topology under the limit: %+v, %v", v, err)
	}
	if got := s.d.Topology(); got.Revision != 0 {
		t.Errorf("a refused PUT changed the topology: %+v", got)
	}
}

// Over MaxCalls, a call waits a second for a turn, then gets 503 with
// Retry-After; the API's client tries again and gets through once a turn
// is free.
func TestCallLimit(t *testing.T) {
	s := serve(t, Limits{MaxCalls: 1}, Listen{})
	s.d.calls <- struct{}{} // a call in progress
	start := time.Now()
	out, _ := closedBy(t, s.raw(t, post("/api/v1/validate", validateBody(topo))+"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 10*time.Second)
	waited := time.Since(start)
	if !strings.HasPrefix(out, "HTTP/1.1 503 ") || !strings.Contains(out, "\r\nRetry-After: 1\r\n") ||
		!strings.Contains(out, `"error": "loomd is busy: 1 validate, plan or topology writes are being served, the most it serves at once (setting api-max-calls); try again in a second"`) {
		t.Errorf("a call over the limit: %q", out)
	}
	if waited < callWait {
		t.Errorf("refused after %v, before waiting %v for a turn", waited, callWait)
	}
	// Calls that need no turn are served meanwhile (here on the same connection).
	if !strings.Contains(out, "HTTP/1.1 200 OK") {
		t.Errorf("healthz after the refusal: %q", out)
	}
	if _, err := s.client().Status(context.Background()); err != nil {
		t.Errorf("status while busy: %v", err)
	}

	// The client tries again: the turn comes free after the first refusal.
	go func() {
		time.Sleep(callWait + callWait/2)
		<-s.d.calls
	}()
	start = time.Now()
	a, err := s.client().PutTopology(context.Background(), api.TopologyUpdate{Revision: 0, Files: map[string]string{"net.yaml": topo}})
	if err != nil || a.Revision != 1 {
		t.Fatalf("PUT while busy, then free: %+v, %v", a, err)
	}
	if d := time.Since(start); d < 2*callWait {
		t.Errorf("PUT served after %v: it did not wait for the turn", d)
	}
	// The slot was given back.
	if n := len(s.d.calls); n != 0 {
		t.Errorf("%d slots still taken", n)
	}
}

// An unbearable number of problems is cut to the first
// topology.MaxErrors and a count of the others, and the message counts
// them all.
func TestProblemsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(topo)
	const extra = 10
	for i := range topology.MaxErrors + extra {
		fmt.Fprintf(&b, "  - {name: p%d, switch: blue, host: nohost, mac: auto, interface: x%d}\n", i, i)
	}
	s := serve(t, Limits{}, Listen{})
	v, err := s.client().Validate(context.Background(), map[string]string{"net.yaml": b.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Errors) != topology.MaxErrors+1 || !strings.HasPrefix(v.Errors[topology.MaxErrors].Message, fmt.Sprintf("%d more errors not listed", extra)) {
		t.Errorf("%d errors, the last: %+v", len(v.Errors), v.Errors[len(v.Errors)-1])
	}
	if v.Errors[0].Line == 0 {
		t.Errorf("the first problem has no position: %+v", v.Errors[0])
	}
	_, err = s.client().PutTopology(context.Background(), api.TopologyUpdate{Files: map[string]string{"net.yaml": b.String()}})
	var e *api.Error
	if !errors.As(err, &e) || len(e.Problems) != topology.MaxErrors+1 || !strings.Contains(e.Message, fmt.Sprintf("(%d problems)", topology.MaxErrors+extra)) {
		t.Errorf("PUT: %v", err)
	}
}

var shortTimeouts = Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond, Write: 600 * time.Millisecond, Idle: 400 * time.Millisecond}

// Connections that make no progress are closed: idle keep-alive ones,
// ones that never send a request, and slow bodies (with a 408 that says
// so). The status stream outlives every timeout.
func TestTimeouts(t *testing.T) {
	s := serve(t, Limits{}, Listen{Timeouts: shortTimeouts})
	to := shortTimeouts

	t.Run("idle keep-alive", func(t *testing.T) {
		c := s.raw(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		out, took := closedBy(t, c, 10*to.Idle)
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || took < to.Idle/2 {
			t.Errorf("closed after %v: %q", took, out)
		}
	})
	t.Run("no request", func(t *testing.T) {
		out, took := closedBy(t, s.raw(t, ""), 10*to.ReadHeader)
		if out != "" || took < to.ReadHeader/2 {
			t.Errorf("closed after %v: %q", took, out)
		}
	})
	t.Run("slow headers", func(t *testing.T) {
		_, took := closedBy(t, s.raw(t, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n"), 10*to.ReadHeader)
		if took < to.ReadHeader/2 {
			t.Errorf("closed after %v", took)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		c := s.raw(t, fmt.Sprintf("POST /api/v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n{\"files\": {\"a\": \"", token))
		out, took := closedBy(t, c, 10*to.Read)
		if !strings.HasPrefix(out, "HTTP/1.1 408 ") || !strings.Contains(out, "the request body did not arrive in time: loomd waits 600ms for it (10s, and a second per MiB)") {
			t.Errorf("after %v: %q", took, out)
		}
		// Its turn was given back.
		if n := len(s.d.calls); n != 0 {
			t.Errorf("%d call slots still taken", n)
		}
	})
	t.Run("status stream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/api/v1/status?watch=true", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		if l := <-lines; !strings.Contains(l, `"type":"snapshot"`) {
			t.Fatalf("first line: %q", l)
		}
		// Quiet for longer than every timeout, then an event.
		time.Sleep(3 * max(to.Read, to.Write, to.Idle))
		if _, err := s.client().PutTopology(context.Background(), api.TopologyUpdate{Files: map[string]string{"net.yaml": topo}}); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-lines:
			if !ok || !strings.Contains(l, `"type":"topology"`) {
				t.Fatalf("after a quiet spell: %q (stream open: %v)", l, ok)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	})
}

// A call that has its turn gets bodyWait (and a second per MiB) for its
// body, not the whole read timeout: a slow client does not keep the turn
// long.
func TestSlowBodyGivesItsTurnBack(t *testing.T) {
	defer func(w time.Duration) { bodyWait = w }(bodyWait)
	bodyWait = 300 * time.Millisecond
	s := serve(t, Limits{MaxCalls: 1}, Listen{Timeouts: Timeouts{Read: time.Minute}})
	start := time.Now()
	c := s.raw(t, fmt.Sprintf("PUT /api/v1/topology HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n{\"files\": {\"a\": \"", token))
	out, took := closedBy(t, c, 10*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 408 ") || !strings.Contains(out, "loomd waits 300ms for it (300ms, and a second per MiB)") {
		t.Errorf("after %v: %q", took, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the slow body kept its turn %v", d)
	}
	if _, err := s.client().Validate(context.Background(), map[string]string{"net.yaml": topo}); err != nil {
		t.Errorf("validate after the slow body: %v", err)
	}
}

// An answer ready after the write timeout is still delivered (a plan may
// wait for the hosts): the timeout counts from when the answer is
// written, over HTTP/1 and HTTP/2 alike. Without that, the same answer is
// lost (the positive control).
func TestSlowAnswerDelivered(t *testing.T) {
	p := newPKI(t)
	cert, key := p.issue("loomd", x509.ExtKeyUsageServerAuth)
	for _, https := range []bool{false, true} {
		for _, extend := range []bool{true, false} {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if extend {
					w = answerInTime(w, r)
				}
				time.Sleep(2 * shortTimeouts.Write)
				writeJSON(w, http.StatusOK, map[string]string{"late": "yes"})
			})
			l := Listen{Addr: "127.0.0.1:0", Timeouts: shortTimeouts}
			c := &api.Client{}
			if https {
				l.CertFile, l.KeyFile = cert, key
				c.TLS = &tls.Config{RootCAs: p.pool}
			}
			srv, addr, err := Serve(l, h, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + addr.String() + "/"
			if https {
				url = "https://" + addr.String() + "/"
			}
			c.Server = url
			resp, err := c.HTTPClient().Get(url)
			var b []byte
			proto := ""
			if err == nil {
				proto = resp.Proto
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			delivered := err == nil && strings.Contains(string(b), `"late": "yes"`)
			if delivered != extend {
				t.Errorf("https %v (%s), deadline from the answer %v: delivered %v (%v, %q)", https, proto, extend, delivered, err, b)
			}
			srv.Close()
		}
	}
}

// Connections over the limit are answered 503 at once; once one closes,
// a new one is served.
func TestConnLimit(t *testing.T) {
	s := serve(t, Limits{}, Listen{MaxConns: 3})
	var held []net.Conn
	for range 3 {
		c := s.raw(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection under the limit: %v %v", resp, err)
		}
		resp.Body.Close()
		held = append(held, c)
	}
	start := time.Now()
	out, _ := closedBy(t, s.raw(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 5*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.1 503 ") || !strings.Contains(out, "too many API connections open (setting api-max-connections)") {
		t.Errorf("connection over the limit: %q", out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refused after %v", d)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one closed: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GET version says what loomd is and which API it serves.
func TestVersion(t *testing.T) {
	s := serve(t, Limits{}, Listen{})
	v, err := s.client().Version(context.Background())
	if err != nil || v.APIVersion != "v1" || v.Version == "" || v.GoVersion == "" {
		t.Errorf("version: %+v, %v", v, err)
	}
	if _, err := (&api.Client{Server: "http://" + s.addr}).Version(context.Background()); err == nil {
		t.Error("version without credentials")
	}
}

// RequireAuth guards what loomd puts behind it (/metrics).
func TestRequireAuth(t *testing.T) {
	d, err := New(Config{Log: zap.NewNop(), StateDir: t.TempDir(), Auth: Auth{Token: token}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := d.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	srv, addr, err := Serve(Listen{Addr: "127.0.0.1:0"}, h, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		tok  string
		code int
	}{{"", 401}, {"wrong-token-0123456", 401}, {token, 200}} {
		req, _ := http.NewRequest("GET", "http://"+addr.String()+"/metrics", nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 200) != (string(b) == "secret") {
			t.Errorf("token %q: %d %s", tc.tok, resp.StatusCode, b)
		}
	}
}

// The status file is replaced whole through a temporary file of its own
// in the same folder; nothing else is left there.
func TestStatusFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	sf := &statusFile{path: path, log: zaptest.NewLogger(t), m: map[string]api.HostStatus{}}
	for i := range 50 {
		sf.update(api.HostStatus{Host: fmt.Sprintf("h%d", i%5), State: api.StateInSync, Revision: int64(i)})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got map[string]api.HostStatus
		b, err := os.ReadFile(path)
		if err == nil && json.Unmarshal(b, &got) == nil && len(got) == 5 && got["h4"].Revision == 49 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status file after 50 updates: %v\n%s", err, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files left in the folder: %v", ents)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for _, content := range []string{"one\n", "two\n"} {
		if err := writeFileAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("content %q, want %q", b, content)
		}
	}
	// A folder that is not there: an error, nothing written.
	if err := writeFileAtomic(filepath.Join(dir, "no", "f.json"), []byte("x"), 0o600); err == nil {
		t.Error("no error for a missing folder")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left: %v", ents)
	}
}

// Over HTTPS (HTTP/2, where the write timeout resets the stream), the
// status stream also outlives every timeout.
func TestStatusStreamOverHTTPS(t *testing.T) {
	p := newPKI(t)
	cert, key := p.issue("loomd", x509.ExtKeyUsageServerAuth)
	d, err := New(Config{Log: zaptest.NewLogger(t), StateDir: t.TempDir(), Auth: Auth{Token: token}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, addr, err := Serve(Listen{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, Timeouts: shortTimeouts}, d.Handler(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := &api.Client{Server: "https://" + addr.String(), Token: token, TLS: &tls.Config{RootCAs: p.pool}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := make(chan api.Event, 10)
	go func() {
		c.Watch(ctx, func(ev api.Event) error { events <- ev; return nil })
	}()
	if ev := <-events; ev.Type != api.EventSnapshot {
		t.Fatalf("first event: %+v", ev)
	}
	// HTTP/2 carries it (the client's connection is shared).
	resp, err := c.HTTPClient().Get(c.Server + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Fatalf("protocol %s, want HTTP/2.0", resp.Proto)
	}
	time.Sleep(3 * max(shortTimeouts.Read, shortTimeouts.Write, shortTimeouts.Idle))
	if _, err := c.PutTopology(ctx, api.TopologyUpdate{Files: map[string]string{"net.yaml": topo}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Type != api.EventTopology {
			t.Fatalf("after a quiet spell: %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event after a quiet spell longer than the timeouts")
	}
}
