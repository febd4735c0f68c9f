package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/controller/api"
)

const token = "0123456789abcdef-test"

// topo is a valid topology whose hosts nobody listens for (port 1 of
// loopback refuses at once): the API works without reaching them.
const topo = `apiVersion: loom/v1
hosts:
  - name: h1
    ovsdb: tcp:127.0.0.1:1
    tunnelIP: 192.0.2.1
  - name: h2
    ovsdb: tcp:127.0.0.1:1
    tunnelIP: 192.0.2.2
switches:
  - name: blue
    tunnelKey: 100
ports:
  - name: web1
    switch: blue
    host: h1
    mac: auto
    interface: lm-web1
`

type fixture struct {
	t   *testing.T
	d   *Daemon
	srv *httptest.Server
	dir string
}

func newFixture(t *testing.T, dir, path string) *fixture {
	t.Helper()
	lvl := zap.NewAtomicLevelAt(zap.InfoLevel)
	d, err := New(Config{Log: zaptest.NewLogger(t), Level: &lvl, StateDir: dir, TopologyPath: path, Auth: Auth{Token: token}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, d: d, srv: srv, dir: dir}
}

// call sends body (raw) and decodes the answer into out; it returns the
// status code and the raw answer.
func (f *fixture) call(method, path, tok, body string, out any) (int, string) {
	f.t.Helper()
	code, raw, err := f.send(method, path, tok, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(raw), out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return code, raw
}

// send is call without the checks, for other goroutines than the test's.
func (f *fixture) send(method, path, tok, body string) (int, string, error) {
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

func put(rev int64, files map[string]string) string {
	b, _ := json.Marshal(api.TopologyUpdate{Revision: rev, Files: files})
	return string(b)
}

func TestAPIBadRequests(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	good := map[string]string{"net.yaml": topo}
	bad := map[string]string{"net.yaml": strings.Replace(topo, "host: h1", "host: h9", 1)}
	for _, c := range []struct {
		name, method, path, tok, body string
		code                          int
		inError                       string
	}{
		{"no token", "GET", "/api/v1/status", "", "", 401, "credentials"},
		{"wrong token", "GET", "/api/v1/topology", "nope", "", 401, "credentials"},
		{"malformed JSON", "PUT", "/api/v1/topology", token, `{"revision": 0, "files": {`, 400, "malformed JSON"},
		{"unknown field", "PUT", "/api/v1/topology", token, `{"revison": 0, "files": {}}`, 400, `unknown field "revison"`},
		{"empty body", "PUT", "/api/v1/topology", token, ``, 400, "empty request body"},
		{"two documents", "PUT", "/api/v1/topology", token, `{} {}`, 400, "more than one JSON value"},
		{"no files", "PUT", "/api/v1/topology", token, put(0, nil), 400, "no files"},
		{"wrong revision", "PUT", "/api/v1/topology", token, put(7, good), 409, "revision 7 is not the current one (0)"},
		{"invalid topology", "PUT", "/api/v1/topology", token, put(0, bad), 400, "the topology is invalid"},
		{"unknown host", "GET", "/api/v1/hosts/h1/flows", token, "", 409, "no topology in force"},
		{"unknown path", "GET", "/api/v1/nope", token, "", 404, "no such API call"},
		{"wrong method", "DELETE", "/api/v1/topology", token, "", 405, "not allowed on /api/v1/topology; allowed: GET, PUT"},
		{"validate without files", "POST", "/api/v1/validate", token, `{}`, 400, "no files"},
		{"plan without topology", "POST", "/api/v1/plan", token, "", 409, "no topology in force"},
	} {
		var e api.Error
		code, raw := f.call(c.method, c.path, c.tok, c.body, &e)
		if code != c.code || !strings.Contains(e.Message, c.inError) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, raw, c.code, c.inError)
		}
	}
	// The invalid topology's problems say where.
	var e api.Error
	f.call("PUT", "/api/v1/topology", token, put(0, bad), &e)
	if len(e.Problems) != 1 || e.Problems[0].File != "net.yaml" || e.Problems[0].Line != 15 ||
		!strings.Contains(e.Problems[0].Message, `no host named "h9"`) {
		t.Errorf("problems: %+v", e.Problems)
	}
	// Nothing of the bad requests was stored.
	var got api.Topology
	f.call("GET", "/api/v1/topology", token, "", &got)
	if got.Revision != 0 || len(got.Files) != 0 {
		t.Errorf("after bad requests: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "topology.json")); !os.IsNotExist(err) {
		t.Errorf("a bad request wrote the state: %v", err)
	}
	// Health needs no token; readiness waits for a topology.
	if code, _ := f.call("GET", "/healthz", "", "", nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := f.call("GET", "/readyz", "", "", nil); code != 503 {
		t.Errorf("readyz without a topology: %d", code)
	}
}

func TestAPIPutPersistsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, "")
	files := map[string]string{"net.yaml": topo}
	var a api.Applied
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(0, files), &a); code != 200 || a.Revision != 1 || a.Summary.Ports != 1 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	// The same files again: nothing changes, not even the revision.
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(1, files), &a); code != 200 || a.Revision != 1 || !a.Unchanged {
		t.Fatalf("PUT of the same files: %d %s", code, raw)
	}
	// A stale revision loses; the current one is in the answer.
	var e api.Error
	files2 := map[string]string{"net.yaml": strings.Replace(topo, "tunnelKey: 100", "tunnelKey: 200", 1)}
	if code, _ := f.call("PUT", "/api/v1/topology", token, put(0, files2), &e); code != 409 || e.Revision != 1 {
		t.Fatalf("stale PUT: %d %+v", code, e)
	}
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(1, files2), &a); code != 200 || a.Revision != 2 {
		t.Fatalf("second PUT: %d %s", code, raw)
	}
	if code, _ := f.call("GET", "/readyz", "", "", nil); code != 200 {
		t.Errorf("readyz with a topology: %d", code)
	}
	var st api.Status
	f.call("GET", "/api/v1/status", token, "", &st)
	if !st.Topology.Loaded || st.Topology.Revision != 2 || len(st.Hosts) != 2 || st.Hosts[0].Desired != 2 {
		t.Errorf("status: %+v", st)
	}

	// A new daemon on the same state: the same topology and revision, in
	// force at once.
	g := newFixture(t, dir, "")
	var got api.Topology
	g.call("GET", "/api/v1/topology", token, "", &got)
	if got.Revision != 2 || got.Files["net.yaml"] != files2["net.yaml"] || got.Source != api.SourceAPI {
		t.Errorf("after restart: %+v", got)
	}
	if !g.d.Ready() {
		t.Error("the restarted daemon has no topology in force")
	}
	if code, raw := g.call("GET", "/api/v1/hosts/h3/flows", token, "", &e); code != 404 || !strings.Contains(e.Message, `no host "h3"`) {
		t.Errorf("flows of an unknown host: %d %s", code, raw)
	}
	if code, raw := g.call("GET", "/api/v1/hosts/h3/interfaces", token, "", &e); code != 404 || !strings.Contains(e.Message, `no host "h3"`) {
		t.Errorf("interfaces of an unknown host: %d %s", code, raw)
	}
	// Not reached yet (no reconciler runs here): nothing observed.
	var hi api.HostInterfaces
	if code, raw := g.call("GET", "/api/v1/hosts/h1/interfaces", token, "", &hi); code != 200 || hi.Host != "h1" ||
		!hi.At.IsZero() || hi.Interfaces == nil || len(hi.Interfaces) != 0 {
		t.Errorf("interfaces of a host never reached: %d %s", code, raw)
	}
}

func TestAPIUnstorableChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	f := newFixture(t, dir, "")
	var a api.Applied
	f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": topo}), &a)
	// The state folder becomes a file: the next save fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var e api.Error
	files2 := map[string]string{"net.yaml": strings.Replace(topo, "tunnelKey: 100", "tunnelKey: 200", 1)}
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(1, files2), &e); code != 500 || !strings.Contains(e.Message, "nothing changed") {
		t.Fatalf("PUT with a broken state dir: %d %s", code, raw)
	}
	var st api.Status
	f.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Revision != 1 || st.Hosts[0].Desired != 1 {
		t.Errorf("a failed store changed the topology in force: %+v", st)
	}
}

func TestAPIValidatePlanAndLogLevel(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	var v api.Validation
	body, _ := json.Marshal(api.Files{Files: map[string]string{"a.yaml": "apiVersion: loom/v1\nhosts: 3\n"}})
	if code, raw := f.call("POST", "/api/v1/validate", token, string(body), &v); code != 200 || v.Valid || len(v.Errors) == 0 || v.Errors[0].Line != 2 {
		t.Errorf("validate: %d %s", code, raw)
	}
	body, _ = json.Marshal(api.Files{Files: map[string]string{"net.yaml": topo}})
	if code, raw := f.call("POST", "/api/v1/validate", token, string(body), &v); code != 200 || !v.Valid || v.Summary.Hosts != 2 {
		t.Errorf("validate: %d %s", code, raw)
	}
	// No topology in force: the hosts of the files are not contacted.
	var p api.Plan
	if code, raw := f.call("POST", "/api/v1/plan", token, string(body), &p); code != 200 || len(p.Hosts) != 2 ||
		p.Hosts[0].NotContacted != "not in the topology in force" || p.Hosts[0].Error != "" || p.Hosts[0].DesiredFlows == 0 {
		t.Errorf("plan: %d %s", code, raw)
	}
	// In force, they are asked; these refuse, and each says so.
	f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": topo}), nil)
	p = api.Plan{}
	if code, raw := f.call("POST", "/api/v1/plan", token, string(body), &p); code != 200 || len(p.Hosts) != 2 ||
		p.Hosts[0].NotContacted != "" || !strings.Contains(p.Hosts[0].Error, "tcp:127.0.0.1:1") {
		t.Errorf("plan: %d %s", code, raw)
	}
	var lvl struct{ Level string }
	if code, raw := f.call("PUT", "/api/v1/log/level", token, `{"level":"debug"}`, &lvl); code != 200 || lvl.Level != "debug" {
		t.Errorf("log level: %d %s", code, raw)
	}
	if f.d.cfg.Level.Level() != zap.DebugLevel {
		t.Error("the level did not change")
	}
}

func TestAPIWatch(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/status?watch=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	next := func() api.Event {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		var ev api.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := next(); ev.Type != api.EventSnapshot || ev.Status == nil || ev.Status.Topology.Loaded {
		t.Fatalf("first event: %+v", ev)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": topo}), nil)
	}()
	if ev := next(); ev.Type != api.EventTopology || ev.Topology.Revision != 1 || !ev.Topology.Loaded {
		t.Fatalf("after PUT: %+v", ev)
	}
}

func TestFilesSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(path, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	f := newFixture(t, state, path)
	var st api.Status
	f.call("GET", "/api/v1/status", token, "", &st)
	if !st.Topology.Loaded || st.Topology.Revision != 1 || st.Topology.Source != api.SourceFiles {
		t.Fatalf("status: %+v", st.Topology)
	}
	var e api.Error
	if code, _ := f.call("PUT", "/api/v1/topology", token, put(1, map[string]string{"x.yaml": topo}), &e); code != 409 || !strings.Contains(e.Message, path) {
		t.Errorf("PUT with source files: %d %+v", code, e)
	}
	// A bad edit is rejected with its position; the topology stays.
	if err := os.WriteFile(path, []byte(strings.Replace(topo, "host: h1", "host: h9", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.d.checkFiles()
	f.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Rejected != "" {
		t.Error("a change was judged before it held still for one check")
	}
	f.d.checkFiles()
	f.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Revision != 1 || st.Topology.Rejected == "" || len(st.Topology.Problems) != 1 || st.Topology.Problems[0].File != path {
		t.Errorf("after a bad edit: %+v", st.Topology)
	}
	// A restart with unchanged files keeps the revision.
	if err := os.WriteFile(path, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, state, path)
	g.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Revision != 1 || !st.Topology.Loaded {
		t.Errorf("restart on the same files: %+v", st.Topology)
	}
	// A restart on files that are now invalid keeps the stored topology in
	// force (its hosts go on being reconciled) and says why the files
	// were not taken; mended files are then taken as usual.
	if err := os.WriteFile(path, []byte(strings.Replace(topo, "host: h1", "host: h9", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newFixture(t, state, path)
	st = api.Status{}
	h.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Revision != 1 || !st.Topology.Loaded || st.Topology.Rejected == "" || len(st.Topology.Problems) != 1 {
		t.Errorf("restart on invalid files: %+v", st.Topology)
	}
	if len(st.Hosts) != 2 {
		t.Errorf("restart on invalid files: %d hosts reconciled, want the stored topology's 2", len(st.Hosts))
	}
	if err := os.WriteFile(path, []byte(strings.Replace(topo, "tunnelKey: 100", "tunnelKey: 101", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	h.d.checkFiles()
	h.d.checkFiles()
	st = api.Status{} // fields left out of the answer must not keep their old values
	h.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Revision != 2 || st.Topology.Rejected != "" {
		t.Errorf("mended files after a restart on invalid ones: %+v", st.Topology)
	}
	// Control: with no stored topology, invalid files leave nothing in force.
	k := newFixture(t, filepath.Join(dir, "state2"), path+".missing")
	st = api.Status{}
	k.call("GET", "/api/v1/status", token, "", &st)
	if st.Topology.Loaded {
		t.Errorf("no stored topology and no readable files, yet one is in force: %+v", st.Topology)
	}
}

// Writers race for a revision: one wins, the others get 409, and readers
// are served meanwhile.
func TestConcurrentPuts(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	const n = 8
	codes := make(chan int, n)
	for i := range n {
		go func() {
			files := map[string]string{"net.yaml": strings.Replace(topo, "tunnelKey: 100", fmt.Sprintf("tunnelKey: %d", 100+i), 1)}
			code, _, err := f.send("PUT", "/api/v1/topology", token, put(0, files))
			if err != nil {
				code = -1
			}
			codes <- code
		}()
		go f.send("GET", "/api/v1/status", token, "") //nolint:errcheck // only load
	}
	won := 0
	for range n {
		switch code := <-codes; code {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("PUT answered %d", code)
		}
	}
	if won != 1 {
		t.Errorf("%d PUTs of revision 0 won, want 1", won)
	}
	var got api.Topology
	f.call("GET", "/api/v1/topology", token, "", &got)
	if got.Revision != 1 {
		t.Errorf("revision %d after the race, want 1", got.Revision)
	}
}
