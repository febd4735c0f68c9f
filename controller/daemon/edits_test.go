package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// h1Flows is how many flows host h1 has with the edit fixture's files and
// ports (YAML flow-style list items) added.
func h1Flows(t *testing.T, ports ...string) int {
	t.Helper()
	net := commented
	for _, p := range ports {
		net += "  - " + p + "\n"
	}
	topo, err := topology.LoadBytes(map[string][]byte{"net.yaml": []byte(net), "z.yaml": []byte(other)})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := flows.CompileHost(topo, "h1")
	if err != nil {
		t.Fatal(err)
	}
	return hs.NumFlows()
}

// commented is topo with comments and blank lines an edit must keep.
const commented = `apiVersion: loom/v1
# The lab's hosts.
hosts:
  - name: h1
    ovsdb: tcp:127.0.0.1:1     # nobody listens
    tunnelIP: 192.0.2.1
  - name: h2
    ovsdb: tcp:127.0.0.1:1
    tunnelIP: 192.0.2.2

switches:
  - name: blue   # the only one
    tunnelKey: 100
    subnets: [192.0.2.0/24]

ports:
  # web
  - name: web1
    switch: blue
    host: h1
    mac: "02:00:00:00:01:01"
    ips: [192.0.2.11]
    interface: lm-web1
`

// other is a second stored file, which edits must leave byte for byte.
const other = "apiVersion: loom/v1\nacls:\n  - name: web-in   # in\n    rules:\n      - {name: http, action: allow, proto: tcp, dstPorts: 80}\n"

func editBody(t *testing.T, req api.EditRequest) string {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fields(kv ...any) api.Fields {
	var fs api.Fields
	for i := 0; i+1 < len(kv); i += 2 {
		v, _ := json.Marshal(kv[i+1])
		fs = append(fs, api.Field{Key: kv[i].(string), Value: v})
	}
	return fs
}

func rev(n int64) *int64 { return &n }

// editFixture is a loomd holding commented and other at revision 1.
func editFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, t.TempDir(), "")
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": commented, "z.yaml": other}), nil); code != 200 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	return f
}

func (f *fixture) edit(req api.EditRequest) (int, *api.EditResult, *api.Error) {
	f.t.Helper()
	code, raw := f.call("POST", "/api/v1/edits", token, editBody(f.t, req), nil)
	if code == 200 {
		var r api.EditResult
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			f.t.Fatal(err)
		}
		return code, &r, nil
	}
	var e api.Error
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		f.t.Fatalf("%d %s", code, raw)
	}
	return code, nil, &e
}

func (f *fixture) stored() api.Topology {
	f.t.Helper()
	var tp api.Topology
	if code, raw := f.call("GET", "/api/v1/topology", token, "", &tp); code != 200 {
		f.t.Fatalf("GET topology: %d %s", code, raw)
	}
	return tp
}

func TestEditAddSetDel(t *testing.T) {
	f := editFixture(t)
	code, res, e := f.edit(api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "port", Name: "web2",
		Fields: fields("switch", "blue", "host", "h2", "mac", "auto", "ips", []string{"192.0.2.12"}, "interface", "lm-web2")}}})
	if code != 200 {
		t.Fatalf("%d %+v", code, e)
	}
	if res.Revision != 2 || res.FromRevision != 1 || len(res.Done) != 1 || res.Done[0] != `port "web2" added to switch blue on host h2` ||
		fmt.Sprint(res.Files) != "[net.yaml]" || res.Summary.Ports != 2 || res.Unchanged || res.Diff != "" {
		t.Errorf("result %+v", res)
	}
	steps := map[string]bool{}
	for _, s := range res.Timings {
		steps[s.Step] = true
	}
	for _, s := range []string{"edit", "load", "compile", "store", "install"} {
		if !steps[s] {
			t.Errorf("no %s in the timings %+v", s, res.Timings)
		}
	}
	tp := f.stored()
	want := commented + "  - name: web2\n    switch: blue\n    host: h2\n    mac: auto\n    ips: [192.0.2.12]\n    interface: lm-web2\n"
	if tp.Revision != 2 || tp.Files["net.yaml"] != want || tp.Files["z.yaml"] != other {
		t.Errorf("stored revision %d:\n%s\nwant:\n%s", tp.Revision, tp.Files["net.yaml"], want)
	}

	// Several edits, one revision: a switch, a port on it, a rule.
	code, res, e = f.edit(api.EditRequest{Revision: rev(2), Edits: []api.Edit{
		{Op: "add", Kind: "switch", Name: "red", Fields: fields("tunnelKey", 300, "subnets", []string{"198.51.100.0/24"})},
		{Op: "set", Kind: "port", Name: "web2", Fields: fields("switch", "red", "ips", []string{"198.51.100.2"}, "acls.toPort", []string{"web-in"})},
		{Op: "add", Kind: "rule", ACL: "web-in", Position: new(int), Fields: fields("name", "ssh", "action", "allow", "proto", "tcp", "dstPorts", 22)},
	}})
	if code != 200 || res.Revision != 3 || fmt.Sprint(res.Files) != "[net.yaml z.yaml]" {
		t.Fatalf("%d %+v %+v", code, res, e)
	}
	if want := `[switch "red" added port "web2" updated: switch=red ips=[198.51.100.2] acls.toPort=[web-in] rule "ssh" added to ACL web-in at index 0]`; fmt.Sprint(res.Done) != want {
		t.Errorf("done %q", res.Done)
	}
	f.d.mu.Lock()
	topo := f.d.topo
	f.d.mu.Unlock()
	if acl, _ := topo.ACL("web-in"); len(acl.Rules) != 2 || acl.Rules[0].Name != "ssh" {
		t.Errorf("acl web-in %+v", acl)
	}

	// Setting what is so changes nothing: no new revision.
	code, res, _ = f.edit(api.EditRequest{Edits: []api.Edit{{Op: "set", Kind: "port", Name: "web1", Fields: fields("host", "h1")}}})
	if code != 200 || !res.Unchanged || res.Revision != 3 || len(res.Files) != 0 {
		t.Errorf("no-op set: %d %+v", code, res)
	}

	// Undone in one edit: the files come back as they were, byte for byte.
	code, res, e = f.edit(api.EditRequest{Edits: []api.Edit{
		{Op: "del", Kind: "rule", ACL: "web-in", Name: "ssh"},
		{Op: "del", Kind: "port", Name: "web2"},
		{Op: "del", Kind: "switch", Name: "red"},
	}})
	if code != 200 || res.Revision != 4 {
		t.Fatalf("%d %+v %+v", code, res, e)
	}
	if tp := f.stored(); tp.Files["net.yaml"] != commented || tp.Files["z.yaml"] != other {
		t.Errorf("after undoing:\n%s\n%s", tp.Files["net.yaml"], tp.Files["z.yaml"])
	}

	// The revision and files survive a restart.
	g, err := New(Config{Log: zaptest.NewLogger(t), StateDir: f.dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tp := g.Topology(); tp.Revision != 4 || tp.Files["net.yaml"] != commented || !g.Ready() {
		t.Errorf("after a restart: revision %d, ready %v", tp.Revision, g.Ready())
	}
}

func TestEditDryRun(t *testing.T) {
	f := editFixture(t)
	code, res, e := f.edit(api.EditRequest{DryRun: true, Edits: []api.Edit{{Op: "set", Kind: "switch", Name: "blue", Fields: fields("mtu", 1400)}}})
	if code != 200 {
		t.Fatalf("%d %+v", code, e)
	}
	want := "--- a/net.yaml\n+++ b/net.yaml\n@@ -12,6 +12,7 @@\n   - name: blue   # the only one\n     tunnelKey: 100\n     subnets: [192.0.2.0/24]\n+    mtu: 1400\n \n ports:\n   # web\n"
	if !res.DryRun || res.Revision != 1 || res.Diff != want {
		t.Errorf("dry run %+v\ndiff:\n%s\nwant:\n%s", res, res.Diff, want)
	}
	if tp := f.stored(); tp.Revision != 1 || tp.Files["net.yaml"] != commented {
		t.Errorf("a dry run stored revision %d", tp.Revision)
	}
	// What the compiler refuses (here: a host over its flow budget, which
	// the fixture fills), a dry run refuses.
	defer flows.SetFlowBudgetForTest(h1Flows(t))()
	code, _, e = f.edit(api.EditRequest{DryRun: true, Edits: []api.Edit{{Op: "add", Kind: "port", Name: "vm1",
		Fields: fields("switch", "blue", "host", "h1", "mac", "auto", "ifaceID", "vm1-uuid")}}})
	if code != 400 || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Message, "flows") {
		t.Errorf("over-budget dry run: %d %+v", code, e)
	}
}

// Refused edits change nothing, and say why in the user's terms: the
// objects, not the lines of loomd's files.
func TestEditRefused(t *testing.T) {
	f := editFixture(t)
	for _, c := range []struct {
		name    string
		req     api.EditRequest
		code    int
		message string
		printed []string // the problems as loomctl prints them
	}{
		{"stale revision", api.EditRequest{Revision: rev(7), Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web1"}}}, 409,
			"revision 7 is not the current one (1): the topology changed since; nothing was changed", nil},
		{"no such port", api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web9"}}}, 404,
			`no port named "web9" (did you mean "web1"?): nothing was changed`, nil},
		{"name taken", api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "switch", Name: "blue", Fields: fields("tunnelKey", 1)}}}, 409,
			`switch "blue" already exists: nothing was changed`, nil},
		{"MAC taken", api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "port", Name: "web2",
			Fields: fields("switch", "blue", "host", "h2", "mac", "02:00:00:00:01:01", "interface", "lm-web2")}}}, 400,
			"the edit would make the topology invalid (1 problems): nothing was changed",
			[]string{`port "web2", mac: MAC 02:00:00:00:01:01 on switch "blue" is already used by port "web1"`}},
		{"address outside the subnet", api.EditRequest{Edits: []api.Edit{{Op: "set", Kind: "port", Name: "web1", Fields: fields("ips", []string{"203.0.113.9"})}}}, 400,
			"the edit would make the topology invalid (1 problems): nothing was changed", nil},
		{"a switch in use", api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "switch", Name: "blue"}}}, 400,
			"the edit would delete what other objects use: nothing was changed",
			[]string{`switch "blue" is used by port "web1" (delete them first, or move them elsewhere, in this edit or before it; --cascade deletes them too)`}},
		{"an ACL in use", api.EditRequest{Edits: []api.Edit{
			{Op: "set", Kind: "port", Name: "web1", Fields: fields("acls.toPort", []string{"web-in"})},
			{Op: "add", Kind: "port", Name: "web2", Fields: fields("switch", "blue", "host", "h2", "mac", "auto", "interface", "lm-web2", "acls", map[string]any{"fromPort": []string{"web-in"}})},
			{Op: "del", Kind: "acl", Name: "web-in"},
		}}, 400, "the edit would make the topology invalid (2 problems): nothing was changed", nil},
		{"unknown field", api.EditRequest{Edits: []api.Edit{{Op: "set", Kind: "switch", Name: "blue", Fields: fields("mut", 1400)}}}, 400,
			"the edit would make the topology invalid (1 problems): nothing was changed",
			[]string{`switch "blue", mut: unknown switch field "mut" (did you mean "mtu"?)`}},
		{"unknown kind", api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "router", Name: "r"}}}, 400, `unknown kind "router"`, nil},
		{"unknown op", api.EditRequest{Edits: []api.Edit{{Op: "move", Kind: "port", Name: "web1"}}}, 400, `unknown action "move"`, nil},
		{"second edit fails", api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web1"}, {Op: "del", Kind: "port", Name: "web1"}}}, 404,
			`edit 2 (del port web1): no port named "web1": nothing was changed`, nil},
		{"no edits", api.EditRequest{}, 400, "no edits", nil},
		{"rule without its acl", api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "rule", Name: "http"}}}, 400, "names its acl", nil},
		{"bad field name", api.EditRequest{Edits: []api.Edit{{Op: "set", Kind: "port", Name: "web1", Fields: api.Fields{{Key: "a b", Value: []byte("1")}}}}}, 400, "not a field name", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, res, e := f.edit(c.req)
			if code != c.code || e == nil || !strings.Contains(e.Message, c.message) {
				t.Fatalf("%d %+v %+v, want %d %q", code, res, e, c.code, c.message)
			}
			if c.printed != nil {
				var got []string
				for _, p := range e.Problems {
					got = append(got, p.String())
				}
				if strings.Join(got, "\n") != strings.Join(c.printed, "\n") {
					t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.printed, "\n"))
				}
			}
			for _, p := range e.Problems {
				if strings.Contains(p.String(), "net.yaml") {
					t.Errorf("a problem names loomd's file: %s", p)
				}
			}
			if tp := f.stored(); tp.Revision != 1 || tp.Files["net.yaml"] != commented || tp.Files["z.yaml"] != other {
				t.Errorf("revision %d after a refused edit", tp.Revision)
			}
		})
	}
	if st := f.d.Status(); st.Topology.Revision != 1 || st.Topology.Rejected != "" {
		t.Errorf("status after refused edits: %+v", st.Topology)
	}
	// Malformed requests.
	for body, want := range map[string]string{
		`{"edits": [{"op": "add", "kind": "port", "name": "x", "fields": [1]}]}`:              "want an object",
		`{"edits": [{"op": "add", "kind": "port", "name": "x", "fields": {"a": 1, "a": 2}}]}`: `key "a" given twice`,
		`{"edits": [], "revison": 1}`: `unknown field "revison"`,
		`{"edits": [{"op": "add", "kind": "rule", "acl": "a", "position": -1, "fields": {"action": "allow"}}]}`: "position -1",
	} {
		var e api.Error
		if code, raw := f.call("POST", "/api/v1/edits", token, body, &e); code != 400 || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %d %s", body, code, raw)
		}
	}
}

// Two editors at once: each edit lands whole, none is lost; with the
// revision they expect, one lands and the others get a conflict.
func TestEditRacing(t *testing.T) {
	f := editFixture(t)
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := editBody(t, api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "port", Name: fmt.Sprintf("r%d", i),
				Fields: fields("switch", "blue", "host", "h2", "mac", "auto", "interface", fmt.Sprintf("lm-r%d", i))}}})
			codes[i], _, _ = f.send("POST", "/api/v1/edits", token, body)
		}(i)
	}
	wg.Wait()
	tp := f.stored()
	for i := 0; i < n; i++ {
		if codes[i] != 200 || !strings.Contains(tp.Files["net.yaml"], fmt.Sprintf("  - name: r%d\n", i)) {
			t.Errorf("edit %d: %d; stored:\n%s", i, codes[i], tp.Files["net.yaml"])
		}
	}
	if tp.Revision != 1+n {
		t.Errorf("revision %d, want %d", tp.Revision, 1+n)
	}
	// All expect revision 9: one wins.
	won := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := editBody(t, api.EditRequest{Revision: rev(1 + n), Edits: []api.Edit{{Op: "del", Kind: "port", Name: fmt.Sprintf("r%d", i)}}})
			codes[i], _, _ = f.send("POST", "/api/v1/edits", token, body)
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		switch codes[i] {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("edit %d: %d", i, codes[i])
		}
	}
	if tp := f.stored(); won != 1 || tp.Revision != 2+n || strings.Count(tp.Files["net.yaml"], "  - name: r") != n-1 {
		t.Errorf("%d won, revision %d", won, tp.Revision)
	}
}

// A topology read from files is edited there: the API refuses.
func TestEditFilesSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.yaml")
	if err := os.WriteFile(path, []byte(commented), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, filepath.Join(dir, "state"), path)
	code, _, e := f.edit(api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web1"}}})
	if code != 409 || !strings.Contains(e.Message, "loomd reads its topology from "+path) {
		t.Errorf("%d %+v", code, e)
	}
	if b, _ := os.ReadFile(path); string(b) != commented {
		t.Error("the file changed")
	}
}

// A full edit queue answers 503 at once, with Retry-After.
func TestEditBusy(t *testing.T) {
	f := editFixture(t)
	for i := 0; i < cap(f.d.edits); i++ {
		f.d.edits <- struct{}{}
	}
	code, raw := f.call("POST", "/api/v1/edits", token, editBody(t, api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web1"}}}), nil)
	if code != 503 || !strings.Contains(raw, "edits are being served or waiting") {
		t.Errorf("%d %s", code, raw)
	}
}

func TestReplacePositions(t *testing.T) {
	names := map[string]string{"a.yaml:3": `port "p"`, "b.yaml:10": `switch "s"`}
	got := replacePositions("x (first at a.yaml:3:5), a.yaml:4:1, ba.yaml:3:1, b.yaml:10 and b.yaml:", []string{"ba.yaml", "a.yaml", "b.yaml"},
		func(f string, l, c int) string { return names[fmt.Sprintf("%s:%d", f, l)] })
	if want := `x (first at port "p"), a.yaml:4:1, ba.yaml:3:1, switch "s" and b.yaml:`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Edits that wait behind a change are made together next: each checked
// alone on the result of those before it, each with its own revision or
// refusal, compiled, stored and installed once.
func TestEditBatch(t *testing.T) {
	f := editFixture(t)
	d := f.d
	reqs := []api.EditRequest{
		{Edits: []api.Edit{{Op: "add", Kind: "port", Name: "b1", Fields: fields("switch", "blue", "host", "h1", "mac", "auto", "interface", "lm-b1")}}},
		{Edits: []api.Edit{{Op: "add", Kind: "port", Name: "b2", Fields: fields("switch", "blue", "host", "h1", "mac", "auto", "interface", "lm-b1")}}}, // interface taken by b1
		{Edits: []api.Edit{{Op: "set", Kind: "port", Name: "b1", Fields: fields("host", "h2")}}},                                                        // on b1, made in the same batch
		{DryRun: true, Edits: []api.Edit{{Op: "del", Kind: "port", Name: "b1"}}},
		{Revision: rev(3), Edits: []api.Edit{{Op: "add", Kind: "switch", Name: "red", Fields: fields("tunnelKey", 7)}}}, // revision 3: after the first and third
		{Edits: []api.Edit{{Op: "set", Kind: "port", Name: "b1", Fields: fields("host", "h2")}}},                        // already so
	}
	d.writeMu.Lock() // a change under way: the edits queue behind it
	results := make([]*api.EditResult, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = d.Edit(reqs[i])
		}(i)
		// In order: wait until it is queued.
		for {
			d.editMu.Lock()
			n := len(d.pending)
			d.editMu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	d.writeMu.Unlock()
	wg.Wait()
	want := []struct {
		rev  int64
		err  string
		flag string
	}{{2, "", ""}, {0, `interface "lm-b1" on host "h1" is already used by port "b1"`, ""}, {3, "", ""}, {3, "", "dry"}, {4, "", ""}, {4, "", "unchanged"}}
	for i, w := range want {
		switch {
		case w.err != "":
			if errs[i] == nil || !strings.Contains(errs[i].Error(), w.err) {
				t.Errorf("edit %d: %v, want %q", i, errs[i], w.err)
			}
		case errs[i] != nil:
			t.Errorf("edit %d: %v", i, errs[i])
		case results[i].Revision != w.rev || results[i].DryRun != (w.flag == "dry") || results[i].Unchanged != (w.flag == "unchanged"):
			t.Errorf("edit %d: %+v, want revision %d %s", i, results[i], w.rev, w.flag)
		}
	}
	// One compile for the batch: the accepted edits share its timing.
	compile := func(r *api.EditResult) float64 {
		for _, s := range r.Timings {
			if s.Step == "compile" {
				return s.Ms
			}
		}
		return -1
	}
	if c := compile(results[0]); c < 0 || compile(results[2]) != c || compile(results[4]) != c {
		t.Errorf("timings %+v %+v %+v", results[0].Timings, results[2].Timings, results[4].Timings)
	}
	if !strings.Contains(results[3].Diff, "-  - name: b1") {
		t.Errorf("dry run in the batch: %s", results[3].Diff)
	}
	tp := f.stored()
	if tp.Revision != 4 || !strings.Contains(tp.Files["net.yaml"], "  - name: b1\n    switch: blue\n    host: h2\n") || !strings.Contains(tp.Files["net.yaml"], "  - name: red\n") {
		t.Errorf("stored revision %d:\n%s", tp.Revision, tp.Files["net.yaml"])
	}
	if st := d.Status(); st.Topology.Revision != 4 || st.Topology.Ports != 2 || st.Topology.Switches != 2 {
		t.Errorf("in force: %+v", st.Topology)
	}
}

// A batch the compiler refuses is made again one edit at a time: only the
// edit it refuses is refused.
func TestEditBatchCompileRefusal(t *testing.T) {
	f := editFixture(t)
	d := f.d
	port := func(name string, kv ...any) api.EditRequest {
		fs := fields(append([]any{"switch", "blue", "host", "h1", "mac", "auto"}, kv...)...)
		return api.EditRequest{Edits: []api.Edit{{Op: "add", Kind: "port", Name: name, Fields: fs}}}
	}
	// The compiler refuses vm1 only: its ACL's flows pass the budget
	// (lowered to what the fixture with g1 and g2 has).
	defer flows.SetFlowBudgetForTest(h1Flows(t, "{name: g1, switch: blue, host: h1, mac: auto, interface: lm-g1}",
		"{name: g2, switch: blue, host: h1, mac: auto, interface: lm-g2}"))()
	reqs := []api.EditRequest{port("g1", "interface", "lm-g1"), port("vm1", "ifaceID", "vm1-uuid", "acls", map[string][]string{"toPort": {"web-in"}}),
		port("g2", "interface", "lm-g2")}
	d.writeMu.Lock()
	results := make([]*api.EditResult, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = d.Edit(reqs[i])
		}(i)
		for {
			d.editMu.Lock()
			n := len(d.pending)
			d.editMu.Unlock()
			if n == i+1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	d.writeMu.Unlock()
	wg.Wait()
	if errs[0] != nil || errs[2] != nil || results[0].Revision != 2 || results[2].Revision != 3 {
		t.Errorf("accepted edits: %v %v %+v %+v", errs[0], errs[2], results[0], results[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "more than") {
		t.Errorf("over-budget edit: %v", errs[1])
	}
	if tp := f.stored(); tp.Revision != 3 || strings.Contains(tp.Files["net.yaml"], "vm1") || !strings.Contains(tp.Files["net.yaml"], "name: g2") {
		t.Errorf("stored revision %d:\n%s", tp.Revision, tp.Files["net.yaml"])
	}
}
