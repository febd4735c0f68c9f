package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
)

// fakeLoomd serves GET and PUT /api/v1/topology as loomd does: a PUT must
// name the current revision (else 409) and a valid topology (else 422
// with the problems).
type fakeLoomd struct {
	mu     sync.Mutex
	rev    int64
	source string
	files  map[string]string
	puts   int // PUTs answered, whatever the answer
	// meanwhile, if set, is another client's change, made (and the
	// revision bumped) before each of the next conflicts PUTs is read.
	meanwhile func(edit.Files) edit.Files
	conflicts int
	reject    []api.Problem // answer PUTs with these
}

func newFake(t *testing.T, files ...string) (*fakeLoomd, string) {
	t.Helper()
	f := &fakeLoomd{source: api.SourceAPI, files: map[string]string{}}
	for _, name := range files {
		b, err := os.ReadFile("../../deploy/examples/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.files[name] = string(b)
		f.rev = 1
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeLoomd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	answer := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v) //nolint:errcheck // a test server
	}
	if r.URL.Path != api.Prefix+"topology" {
		answer(http.StatusNotFound, api.Error{Message: "not found"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		answer(http.StatusOK, api.Topology{Revision: f.rev, Source: f.source, Files: f.files})
	case http.MethodPut:
		f.puts++
		var u api.TopologyUpdate
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
			answer(http.StatusBadRequest, api.Error{Message: err.Error()})
			return
		}
		if f.conflicts > 0 {
			f.conflicts--
			if f.meanwhile != nil {
				f.files = api.FilesOf(f.meanwhile(api.BytesOf(f.files)))
			}
			f.rev++
		}
		if u.Revision != f.rev {
			answer(http.StatusConflict, api.Error{Message: "revision moved", Revision: f.rev})
			return
		}
		if f.reject != nil {
			answer(http.StatusUnprocessableEntity, api.Error{Message: "invalid topology", Problems: f.reject})
			return
		}
		t, err := topology.LoadBytes(api.BytesOf(u.Files))
		if err != nil {
			answer(http.StatusUnprocessableEntity, api.Error{Message: "invalid topology", Problems: api.Problems(err)})
			return
		}
		if reflect.DeepEqual(u.Files, f.files) {
			answer(http.StatusOK, api.Applied{Revision: f.rev, Summary: api.Summarize(t), Unchanged: true})
			return
		}
		f.rev++
		f.files = u.Files
		answer(http.StatusOK, api.Applied{Revision: f.rev, Summary: api.Summarize(t)})
	default:
		answer(http.StatusMethodNotAllowed, api.Error{Message: r.Method})
	}
}

// stored is the fake's topology, loaded.
func (f *fakeLoomd) stored(t *testing.T) *topology.Topology {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	topo, err := topology.LoadBytes(api.BytesOf(f.files))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func (f *fakeLoomd) snapshot() (int64, map[string]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	files := map[string]string{}
	for k, v := range f.files {
		files[k] = v
	}
	return f.rev, files, f.puts
}

// runOn runs loomctl against the fake at url and expects exit 0 and out.
func runOn(t *testing.T, url, want string, args ...string) {
	t.Helper()
	out, errs, code := run(t, append([]string{"--server", url, "--config", ""}, args...)...)
	if code != 0 || out != want {
		t.Fatalf("loomctl %s: exit %d\nstdout: %q\nwant:   %q\nstderr: %s", strings.Join(args, " "), code, out, want, errs)
	}
}

func TestSwitchAddSetDel(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	_, orig, _ := f.snapshot()
	runOn(t, url, "switch green added (revision 2)\n",
		"switch", "add", "green", "--tunnel-key", "200", "--subnet", "198.51.100.0/24", "--encapsulation", "vxlan")
	sw, ok := f.stored(t).Switch("green")
	if !ok || sw.TunnelKey != 200 || sw.Encapsulation != "vxlan" || len(sw.Subnets) != 1 {
		t.Fatalf("switch green stored as %+v", sw)
	}
	runOn(t, url, "switch green updated: mtu=1400 subnets= (revision 3)\n", "switch", "set", "green", "mtu=1400", "subnets=")
	if sw, _ := f.stored(t).Switch("green"); sw.MTU != 1400 || len(sw.Subnets) != 0 {
		t.Fatalf("switch green stored as %+v", sw)
	}
	runOn(t, url, "switch green deleted (revision 4)\n", "switch", "del", "green")
	if _, files, _ := f.snapshot(); !reflect.DeepEqual(files, orig) {
		t.Errorf("after add and del, the file is not as it was:\n%s", files["two-hosts.yaml"])
	}
	runOn(t, url, "switch vlan7 added (revision 5)\n", "switch", "add", "vlan7", "--vlan", "7", "--physnet", "physnet1",
		"aclDefault=deny", "--dry-run=false")
}

func TestPortAddSetDel(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	_, orig, _ := f.snapshot()
	runOn(t, url, "port web3 added to switch blue on host h2 (revision 2)\n",
		"port", "add", "blue", "web3", "--host", "h2", "--ip", "192.0.2.13", "--interface", "lm-web3")
	_, files, _ := f.snapshot()
	if want := orig["two-hosts.yaml"] + "  - name: web3\n    switch: blue\n    host: h2\n    mac: auto\n    ips: [192.0.2.13]\n    interface: lm-web3\n"; files["two-hosts.yaml"] != want {
		t.Fatalf("stored:\n%s\nwant:\n%s", files["two-hosts.yaml"], want)
	}
	runOn(t, url, "port web3 updated: ips=[192.0.2.14,192.0.2.15] portSecurity=false (revision 3)\n",
		"port", "set", "web3", "ips=[192.0.2.14,192.0.2.15]", "portSecurity=false")
	for _, p := range f.stored(t).Ports {
		if p.Name == "web3" && (len(p.IPs) != 2 || p.PortSecurity || !p.MACAuto) {
			t.Fatalf("port web3 stored as %+v", p)
		}
	}
	runOn(t, url, "port web3 deleted (revision 4)\n", "port", "del", "web3")
	if _, files, _ := f.snapshot(); !reflect.DeepEqual(files, orig) {
		t.Errorf("after add and del, the file is not as it was:\n%s", files["two-hosts.yaml"])
	}
	// Setting what is already so stores nothing.
	runOn(t, url, "port web1: nothing to change (revision 4)\n", "port", "set", "web1", "host=h1")
}

func TestACLAddDel(t *testing.T) {
	f, url := newFake(t, "acls.yaml")
	_, orig, _ := f.snapshot()
	runOn(t, url, "rule ssh added to ACL web-in at index 1 (revision 2)\n",
		"acl", "add", "web-in", "name=ssh", "action=allow", "proto=tcp", "dstPorts=22", "--position", "1")
	acl, _ := f.stored(t).ACL("web-in")
	if len(acl.Rules) != 6 || acl.Rules[1].Name != "ssh" || acl.Rules[1].DstPorts.Lo != 22 {
		t.Fatalf("ACL web-in stored as %+v", acl)
	}
	runOn(t, url, "rule ssh deleted from ACL web-in (revision 3)\n", "acl", "del", "web-in", "ssh")
	runOn(t, url, "a rule added to new ACL quiet (revision 4)\n", "acl", "add", "quiet", "action=drop", "proto=udp")
	runOn(t, url, "ACL quiet deleted (revision 5)\n", "acl", "del", "quiet")
	if _, files, _ := f.snapshot(); !reflect.DeepEqual(files, orig) {
		t.Errorf("after adds and dels, the file is not as it was:\n%s", files["acls.yaml"])
	}
	runOn(t, url, "rule 0 deleted from ACL db-out (revision 6)\n", "acl", "del", "db-out", "0")
	if acl, _ := f.stored(t).ACL("db-out"); len(acl.Rules) != 1 || acl.Rules[0].Name != "ssh-replies" {
		t.Fatalf("ACL db-out stored as %+v", acl)
	}
}

// A change that lands between the GET and the PUT makes the edit start
// over on the new topology; both changes are kept.
func TestEditConflictRetried(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	f.conflicts = 1
	f.meanwhile = func(files edit.Files) edit.Files {
		out, err := edit.Add(files, edit.Switches, "red", []edit.Field{{Key: "tunnelKey", Value: "7"}})
		if err != nil {
			t.Error(err)
		}
		return out
	}
	out, errs, code := run(t, "--server", url, "--config", "",
		"port", "add", "blue", "r1", "--host", "h1", "--interface", "lm-r1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res editResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Tries != 2 || res.FromRevision != 2 || res.Applied == nil || res.Applied.Revision != 3 {
		t.Errorf("result %+v", res)
	}
	topo := f.stored(t)
	if _, ok := topo.Switch("red"); !ok || len(topo.Ports) != 3 {
		t.Errorf("stored: %d ports, switch red %v", len(topo.Ports), ok)
	}

	// Someone writing all the time: give up after 5 tries.
	f.conflicts = 5
	f.meanwhile = nil
	rev, files, puts := f.snapshot()
	_, errs, code = run(t, "--server", url, "--config", "", "port", "del", "r1")
	if code != 1 || !strings.Contains(errs, "the topology changed 5 times while this edit was being made") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	rev2, files2, puts2 := f.snapshot()
	if rev2 != rev+5 || puts2 != puts+5 || !reflect.DeepEqual(files, files2) {
		t.Errorf("revision %d -> %d, puts %d -> %d", rev, rev2, puts, puts2)
	}
}

// An invalid edit is reported as the loader reports files, and nothing is
// sent.
func TestEditInvalid(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	out, errs, code := run(t, "--server", url, "--config", "", "port", "set", "web1", "mac=zz")
	want := `two-hosts.yaml:24:10: port "web1": invalid MAC "zz" (six hex bytes, e.g. 02:00:00:00:00:01, or auto)` + "\n" +
		"1 error: nothing was changed\n"
	if code != 1 || errs != want || out != "" {
		t.Errorf("exit %d\nstdout: %q\nstderr: %q\nwant:   %q", code, out, errs, want)
	}
	_, errs, code = run(t, "--server", url, "--config", "", "switch", "set", "blue", "tunnelkey=5")
	if code != 1 || !strings.Contains(errs, `two-hosts.yaml:19:5: unknown switch field "tunnelkey" (did you mean "tunnelKey"?)`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	_, errs, code = run(t, "--server", url, "--config", "", "port", "del", "web9")
	if code != 1 || !strings.Contains(errs, `no port named "web9" (did you mean "web1"?)`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	_, errs, code = run(t, "--server", url, "--config", "", "port", "add", "blue", "web9", "--interface", "x")
	if code != 1 || !strings.Contains(errs, "--host is required") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	_, errs, code = run(t, "--server", url, "--config", "", "port", "set", "web1", "mtu")
	if code != 1 || !strings.Contains(errs, `"mtu": want key=value`) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if rev, _, puts := f.snapshot(); puts != 0 || rev != 1 {
		t.Errorf("%d PUTs, revision %d: want none", puts, rev)
	}
}

func TestEditRejectedByLoomd(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	f.reject = []api.Problem{{File: "two-hosts.yaml", Line: 3, Col: 1, Message: "no room for it"}}
	_, errs, code := run(t, "--server", url, "--config", "", "port", "del", "db1")
	want := "two-hosts.yaml:3:1: no room for it\n1 error: loomd rejected the change, nothing was changed\n"
	if code != 1 || errs != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errs, want)
	}
}

func TestEditDryRun(t *testing.T) {
	f, url := newFake(t, "two-hosts.yaml")
	want := `--- a/two-hosts.yaml
+++ b/two-hosts.yaml
@@ -30,3 +30,8 @@
     mac: "02:00:00:00:01:02"
     ips: [192.0.2.12]
     interface: lm-db1
+  - name: web3
+    switch: blue
+    host: h2
+    mac: auto
+    interface: lm-web3
dry run: port web3 would be added to switch blue on host h2; nothing was stored
`
	runOn(t, url, want, "port", "add", "blue", "web3", "--host", "h2", "--interface", "lm-web3", "--dry-run")
	want = `--- a/two-hosts.yaml
+++ b/two-hosts.yaml
@@ -20,7 +20,7 @@
 ports:
   - name: web1
     switch: blue
-    host: h1
+    host: h2
     mac: "02:00:00:00:01:01"
     ips: [192.0.2.11]
     interface: lm-web1              # veth made by: lab.sh workload add h1 web1 ...
dry run: port web1 would be updated: host=h2; nothing was stored
`
	runOn(t, url, want, "port", "set", "web1", "host=h2", "--dry-run")
	out, errs, code := run(t, "--server", url, "--config", "", "switch", "del", "blue", "--dry-run", "-o", "yaml")
	if code != 1 || out != "" || !strings.Contains(errs, `port "web1": no switch named "blue"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, _, puts := f.snapshot(); puts != 0 {
		t.Errorf("a dry run sent %d PUTs", puts)
	}
}

func TestEditJSON(t *testing.T) {
	_, url := newFake(t, "two-hosts.yaml")
	out, errs, code := run(t, "--server", url, "--config", "", "port", "del", "db1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res editResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	want := editResult{Action: "delete", Kind: "port", Name: "db1", Message: "port db1 deleted",
		Files: []string{"two-hosts.yaml"}, FromRevision: 1, Tries: 1,
		Applied: &api.Applied{Revision: 2, Summary: api.Summary{Hosts: 2, Switches: 1, Ports: 1}}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("got  %+v\nwant %+v", res, want)
	}
	for _, key := range []string{`"action": "delete"`, `"applied": {`, `"revision": 2`} {
		if !strings.Contains(out, key) {
			t.Errorf("no %s in\n%s", key, out)
		}
	}

	out, _, code = run(t, "--server", url, "--config", "", "acl", "add", "a", "action=allow", "--dry-run", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "dryRun: true") || !strings.Contains(out, "+  - name: a") || strings.Contains(out, "applied") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// An empty loomd gets a topology.yaml; one that reads files refuses.
func TestEditSources(t *testing.T) {
	f, url := newFake(t)
	runOn(t, url, "switch blue added (revision 1)\n", "switch", "add", "blue", "--tunnel-key", "1")
	_, files, _ := f.snapshot()
	if want := "apiVersion: loom/v1\nkind: Topology\n\nswitches:\n  - name: blue\n    tunnelKey: 1\n"; files["topology.yaml"] != want {
		t.Errorf("stored %q, want %q", files, want)
	}
	f.source = api.SourceFiles
	_, errs, code := run(t, "--server", url, "--config", "", "switch", "del", "blue")
	if code != 1 || !strings.Contains(errs, "loomd reads its topology from files") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestEditDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := strings.Replace(strings.Replace(a, "2\n", "two\n", 1), "14\n", "", 1)
	want := `--- a/f
+++ b/f
@@ -1,5 +1,5 @@
 1
-2
+two
 3
 4
 5
@@ -11,5 +11,4 @@
 11
 12
 13
-14
 15
`
	if got := editDiff("f", []byte(a), []byte(b)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := editDiff("f", nil, []byte("x\n")); got != "--- /dev/null\n+++ b/f\n@@ -0,0 +1,1 @@\n+x\n" {
		t.Errorf("new file:\n%s", got)
	}
}
