package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/controller/daemon"
	"github.com/loom-sdn/loom/topology"
)

// loomdWith is a loomd in this process holding the named examples at
// revision 1 (none: nothing stored), with its API at the returned URL.
// Its hosts are never contacted (its reconcilers do not run).
func loomdWith(t *testing.T, examples ...string) (*daemon.Daemon, string) {
	t.Helper()
	return loomdIn(t, "", examples...)
}

func loomdIn(t *testing.T, topologyPath string, examples ...string) (*daemon.Daemon, string) {
	t.Helper()
	d, err := daemon.New(daemon.Config{Log: zap.NewNop(), StateDir: t.TempDir(), TopologyPath: topologyPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, name := range examples {
		files[name] = string(example(t, name))
	}
	if len(files) > 0 {
		if _, err := d.Put(api.TopologyUpdate{Files: files}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return d, srv.URL
}

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../deploy/examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored is loomd's topology, loaded.
func stored(t *testing.T, d *daemon.Daemon) *topology.Topology {
	t.Helper()
	topo, err := topology.LoadBytes(api.BytesOf(d.Topology().Files))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// runOn runs loomctl against loomd at url and expects exit 0 and out.
func runOn(t *testing.T, url, want string, args ...string) {
	t.Helper()
	out, errs, code := run(t, append([]string{"--server", url, "--config", ""}, args...)...)
	if code != 0 || out != want {
		t.Fatalf("loomctl %s: exit %d\nstdout: %q\nwant:   %q\nstderr: %s", strings.Join(args, " "), code, out, want, errs)
	}
}

func TestSwitchAddSetDel(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
	orig := d.Topology().Files
	runOn(t, url, "switch \"green\" added (revision 2)\n",
		"switch", "add", "green", "--tunnel-key", "200", "--subnet", "198.51.100.0/24", "--encapsulation", "vxlan")
	sw, ok := stored(t, d).Switch("green")
	if !ok || sw.TunnelKey != 200 || sw.Encapsulation != "vxlan" || len(sw.Subnets) != 1 {
		t.Fatalf("switch green stored as %+v", sw)
	}
	runOn(t, url, "switch \"green\" updated: mtu=1400 subnets= (revision 3)\n", "switch", "set", "green", "mtu=1400", "subnets=")
	if sw, _ := stored(t, d).Switch("green"); sw.MTU != 1400 || len(sw.Subnets) != 0 {
		t.Fatalf("switch green stored as %+v", sw)
	}
	runOn(t, url, "switch \"green\" deleted (revision 4)\n", "switch", "del", "green")
	if files := d.Topology().Files; !reflect.DeepEqual(files, orig) {
		t.Errorf("after add and del, the file is not as it was:\n%s", files["two-hosts.yaml"])
	}
	runOn(t, url, "switch \"vlan7\" added (revision 5)\n", "switch", "add", "vlan7", "--vlan", "7", "--physnet", "physnet1",
		"aclDefault=deny", "--dry-run=false")
}

func TestPortAddSetDel(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
	orig := d.Topology().Files
	runOn(t, url, "port \"web3\" added to switch blue on host h2 (revision 2)\n",
		"port", "add", "blue", "web3", "--host", "h2", "--ip", "192.0.2.13", "--interface", "lm-web3")
	if want := orig["two-hosts.yaml"] + "  - name: web3\n    switch: blue\n    host: h2\n    mac: auto\n    ips: [192.0.2.13]\n    interface: lm-web3\n"; d.Topology().Files["two-hosts.yaml"] != want {
		t.Fatalf("stored:\n%s\nwant:\n%s", d.Topology().Files["two-hosts.yaml"], want)
	}
	runOn(t, url, "port \"web3\" updated: ips=[192.0.2.14, 192.0.2.15] portSecurity=false (revision 3)\n",
		"port", "set", "web3", "ips=[192.0.2.14,192.0.2.15]", "portSecurity=false")
	for _, p := range stored(t, d).Ports {
		if p.Name == "web3" && (len(p.IPs) != 2 || p.PortSecurity || !p.MACAuto) {
			t.Fatalf("port web3 stored as %+v", p)
		}
	}
	runOn(t, url, "port \"web3\" deleted (revision 4)\n", "port", "del", "web3")
	if files := d.Topology().Files; !reflect.DeepEqual(files, orig) {
		t.Errorf("after add and del, the file is not as it was:\n%s", files["two-hosts.yaml"])
	}
	// Setting what is already so stores nothing.
	runOn(t, url, "port \"web1\": nothing to change (revision 4)\n", "port", "set", "web1", "host=h1")
}

func TestACLAddDel(t *testing.T) {
	d, url := loomdWith(t, "acls.yaml")
	orig := d.Topology().Files
	runOn(t, url, "rule \"ssh\" added to ACL web-in at index 1 (revision 2)\n",
		"acl", "add", "web-in", "name=ssh", "action=allow", "proto=tcp", "dstPorts=22", "--position", "1")
	acl, _ := stored(t, d).ACL("web-in")
	if len(acl.Rules) != 6 || acl.Rules[1].Name != "ssh" || acl.Rules[1].DstPorts.Lo != 22 {
		t.Fatalf("ACL web-in stored as %+v", acl)
	}
	runOn(t, url, "rule \"ssh\" deleted from ACL web-in (revision 3)\n", "acl", "del", "web-in", "ssh")
	runOn(t, url, "a rule added to new ACL quiet (revision 4)\n", "acl", "add", "quiet", "action=drop", "proto=udp")
	runOn(t, url, "ACL \"quiet\" deleted (revision 5)\n", "acl", "del", "quiet")
	if files := d.Topology().Files; !reflect.DeepEqual(files, orig) {
		t.Errorf("after adds and dels, the file is not as it was:\n%s", files["acls.yaml"])
	}
	runOn(t, url, "rule \"0\" deleted from ACL db-out (revision 6)\n", "acl", "del", "db-out", "0")
	if acl, _ := stored(t, d).ACL("db-out"); len(acl.Rules) != 1 || acl.Rules[0].Name != "ssh-replies" {
		t.Fatalf("ACL db-out stored as %+v", acl)
	}
	_, errs, code := run(t, "--server", url, "--config", "", "acl", "set", "db-out", "name=db-egress")
	if want := `ACL "db-out" is used by port "db1" (change what they name in this edit or before it)` + "\n1 error: nothing was changed\n"; code != 1 || errs != want {
		t.Errorf("renaming an ACL in use: exit %d, stderr %q", code, errs)
	}
	runOn(t, url, "ACL \"web-in\" updated: rules=[{action: allow}] (revision 7)\n", "acl", "set", "web-in", "rules=[{action: allow}]")
	// acl rule add|del: the same edits, by their own names.
	runOn(t, url, "rule \"dns\" added to ACL web-in at index 0 (revision 8)\n",
		"acl", "rule", "add", "web-in", "name=dns", "action=allow", "proto=udp", "dstPorts=53", "--position", "0")
	runOn(t, url, "rule \"dns\" deleted from ACL web-in (revision 9)\n", "acl", "rule", "del", "web-in", "dns")
	if _, _, code := run(t, "--server", url, "--config", "", "acl", "rule", "del", "web-in"); code != 1 {
		t.Errorf("acl rule del without a rule: exit %d, want 1 (it must not delete the ACL)", code)
	}
}

// Two clients editing at once: both edits land, none is lost.
func TestEditsAtOnce(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
	var wg sync.WaitGroup
	errs := make([]string, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("c%d", i)
			_, e, code := run(t, "--server", url, "--config", "", "port", "add", "blue", name, "--host", "h1", "--interface", "lm-"+name)
			if code != 0 {
				errs[i] = e
			}
		}(i)
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("edit %d: %s", i, e)
		}
	}
	if topo := stored(t, d); len(topo.Ports) != 2+len(errs) || d.Topology().Revision != int64(1+len(errs)) {
		t.Errorf("%d ports at revision %d", len(topo.Ports), d.Topology().Revision)
	}
}

// An invalid edit is refused by loomd, with problems that name the
// objects, and nothing changes.
func TestEditInvalid(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"port", "set", "web1", "mac=zz"},
			`port "web1": invalid MAC "zz" (six hex bytes, e.g. 02:00:00:00:00:01, or auto)` + "\n1 error: nothing was changed\n"},
		{[]string{"switch", "set", "blue", "tunnelkey=5"},
			`switch "blue", tunnelkey: unknown switch field "tunnelkey" (did you mean "tunnelKey"?)` + "\n1 error: nothing was changed\n"},
		{[]string{"port", "add", "blue", "web2", "--host", "h2", "--mac", "02:00:00:00:01:01", "--interface", "lm-web2"},
			`port "web2", mac: MAC 02:00:00:00:01:01 on switch "blue" is already used by port "web1"` + "\n1 error: nothing was changed\n"},
		// The edited port is named, even when it comes first in the file.
		{[]string{"port", "set", "web1", "mac=02:00:00:00:01:02"},
			`port "web1", mac: MAC 02:00:00:00:01:02 on switch "blue" is already used by port "db1"` + "\n1 error: nothing was changed\n"},
		{[]string{"switch", "del", "blue"},
			`switch "blue" is used by port "db1", port "web1" (delete them first, or move them elsewhere, in this edit or before it; --cascade deletes them too)` + "\n1 error: nothing was changed\n"},
		{[]string{"port", "del", "web9"}, `no port named "web9" (did you mean "web1"?): nothing was changed`},
		{[]string{"port", "add", "blue", "web1", "--host", "h1", "--interface", "x"}, `port "web1" already exists: nothing was changed`},
		{[]string{"port", "add", "blue", "web9", "--interface", "x"}, "--host is required"},
		{[]string{"port", "set", "web1", "mtu"}, `"mtu": want key=value`},
	} {
		_, errs, code := run(t, append([]string{"--server", url, "--config", ""}, c.args...)...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d\nstderr: %q\nwant:   %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}
	if rev := d.Topology().Revision; rev != 1 {
		t.Errorf("revision %d: want 1", rev)
	}
}

func TestEditDryRun(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
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
dry run, nothing was stored: port "web3" added to switch blue on host h2
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
dry run, nothing was stored: port "web1" updated: host=h2
`
	runOn(t, url, want, "port", "set", "web1", "host=h2", "--dry-run")
	out, errs, code := run(t, "--server", url, "--config", "", "switch", "del", "blue", "--dry-run", "-o", "yaml")
	if code != 1 || out != "" || !strings.Contains(errs, `switch "blue" is used by port "db1", port "web1"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if rev := d.Topology().Revision; rev != 1 {
		t.Errorf("a dry run stored revision %d", rev)
	}
}

func TestEditJSON(t *testing.T) {
	_, url := loomdWith(t, "two-hosts.yaml")
	out, errs, code := run(t, "--server", url, "--config", "", "port", "del", "db1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res editResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	res.Timings = nil
	want := editResult{Action: "del", Kind: "port", Name: "db1", EditResult: api.EditResult{Revision: 2, FromRevision: 1,
		Done: []string{`port "db1" deleted`}, Files: []string{"two-hosts.yaml"}, Summary: api.Summary{Hosts: 2, Switches: 1, Ports: 1}}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("got  %+v\nwant %+v", res, want)
	}
	for _, key := range []string{`"action": "del"`, `"revision": 2`, `"timings": [`} {
		if !strings.Contains(out, key) {
			t.Errorf("no %s in\n%s", key, out)
		}
	}
	out, _, code = run(t, "--server", url, "--config", "", "acl", "add", "a", "action=allow", "--dry-run", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "dryRun: true") || !strings.Contains(out, "+  - name: a") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// An empty loomd gets a topology.yaml; one that reads files refuses.
func TestEditSources(t *testing.T) {
	d, url := loomdWith(t)
	runOn(t, url, "switch \"blue\" added (revision 1)\n", "switch", "add", "blue", "--tunnel-key", "1")
	if want := "apiVersion: loom/v1\nkind: Topology\n\nswitches:\n  - name: blue\n    tunnelKey: 1\n"; d.Topology().Files["topology.yaml"] != want {
		t.Errorf("stored %q, want %q", d.Topology().Files, want)
	}
	path := filepath.Join(t.TempDir(), "net.yaml")
	if err := os.WriteFile(path, example(t, "two-hosts.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, url = loomdIn(t, path)
	_, errs, code := run(t, "--server", url, "--config", "", "switch", "del", "blue")
	if code != 1 || !strings.Contains(errs, "loomd reads its topology from "+path) || !strings.Contains(errs, "with -f") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// With -f, the edit is made on local files, with the same code, and
// checked as loomctl validate checks: the files loomd reads in files mode.
func TestEditLocalFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "two-hosts.yaml")
	orig := example(t, "two-hosts.yaml")
	if err := os.WriteFile(path, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	local := func(args ...string) (string, string, int) {
		return run(t, append([]string{"--config", "", "--server", "http://127.0.0.1:1"}, append(args, "-f", dir)...)...)
	}
	out, errs, code := local("port", "add", "blue", "web3", "--host", "h2", "--interface", "lm-web3")
	if code != 0 || out != `port "web3" added to switch blue on host h2 (`+path+")\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	b, _ := os.ReadFile(path)
	if want := string(orig) + "  - name: web3\n    switch: blue\n    host: h2\n    mac: auto\n    interface: lm-web3\n"; string(b) != want {
		t.Errorf("file:\n%s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	// Invalid: positions in the files here; nothing written.
	_, errs, code = local("port", "set", "web3", "mac=zz")
	if code != 1 || !strings.Contains(errs, path+":36:10: port \"web3\": invalid MAC") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	out, _, code = local("port", "del", "web3", "--dry-run")
	if code != 0 || !strings.Contains(out, "-  - name: web3") || !strings.Contains(out, "dry run, nothing was stored") {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Errorf("a refused edit or a dry run changed the file")
	}
	out, _, code = local("port", "del", "web3")
	if b, _ := os.ReadFile(path); code != 0 || string(b) != string(orig) {
		t.Errorf("exit %d, %q; file:\n%s", code, out, b)
	}
	if _, errs, code := local("port", "del", "web3", "--wait", "5s"); code != 1 || !strings.Contains(errs, "--wait goes with loomd") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// Deleting an object in use names its users and offers --cascade; with
// it the users go too (or, for an ACL, stop naming it), each listed, and
// --dry-run shows the same without storing it.
func TestDelCascade(t *testing.T) {
	d, url := loomdWith(t, "acls.yaml")
	orig := d.Topology().Files
	_, errs, code := run(t, "--server", url, "--config", "", "acl", "del", "web-in")
	if want := `ACL "web-in" is used by port "web1", port "web2" (take it out of their acls in this edit or before it; --cascade does that)` +
		"\n1 error: nothing was changed\n"; code != 1 || errs != want {
		t.Fatalf("acl del of an ACL in use: exit %d, stderr %q", code, errs)
	}
	out, errs, code := run(t, "--server", url, "--config", "", "acl", "del", "web-in", "--cascade", "--dry-run")
	if code != 0 || !strings.Contains(out, "-      toPort: [basics, web-in]\n+      toPort: [basics]\n") ||
		!strings.HasSuffix(out, "with it (--cascade): port \"web1\" updated: acls.toPort=[basics]\n"+
			"with it (--cascade): port \"web2\" updated: acls.toPort=[basics]\n"+
			"dry run, nothing was stored: ACL \"web-in\" deleted\n") {
		t.Fatalf("acl del --cascade --dry-run: exit %d %s\n%s", code, errs, out)
	}
	if !reflect.DeepEqual(d.Topology().Files, orig) {
		t.Fatal("a dry run changed the stored files")
	}
	runOn(t, url, "with it (--cascade): port \"web1\" updated: acls.toPort=[basics]\n"+
		"with it (--cascade): port \"web2\" updated: acls.toPort=[basics]\n"+
		"ACL \"web-in\" deleted (revision 2)\n", "acl", "del", "web-in", "--cascade")
	topo := stored(t, d)
	if p, _ := topo.Port("web1"); len(p.ACLsToPort) != 1 || p.ACLsToPort[0] != "basics" || len(p.ACLsFromPort) != 2 {
		t.Fatalf("web1 after the cascade: %+v", p)
	}
	runOn(t, url, "with it (--cascade): port \"db1\" deleted\n"+
		"with it (--cascade): port \"web1\" deleted\n"+
		"with it (--cascade): port \"web2\" deleted\n"+
		"switch \"shop\" deleted (revision 3)\n", "switch", "del", "shop", "--cascade")
	if topo := stored(t, d); len(topo.Ports) != 0 || len(topo.Switches) != 0 {
		t.Fatalf("after switch del --cascade: %d ports, %d switches", len(topo.Ports), len(topo.Switches))
	}
	if _, errs, code := run(t, "--server", url, "--config", "", "acl", "del", "basics", "arp", "--cascade"); code != 1 || !strings.Contains(errs, "--cascade goes with deleting a whole ACL") {
		t.Errorf("acl del of a rule with --cascade: exit %d %s", code, errs)
	}
}

// host add|set|del, as switch's: a host in use is refused, naming its
// ports, and --cascade takes them along.
func TestHostAddSetDel(t *testing.T) {
	d, url := loomdWith(t, "two-hosts.yaml")
	runOn(t, url, "host \"h3\" added (revision 2)\n", "host", "add", "h3", "ovsdb=tcp:198.18.0.13:6640", "tunnelIP=198.19.0.13")
	runOn(t, url, "host \"h3\" updated: tunnelIP=198.19.0.33 (revision 3)\n", "host", "set", "h3", "tunnelIP=198.19.0.33")
	if h, ok := stored(t, d).Host("h3"); !ok || h.TunnelIP.String() != "198.19.0.33" {
		t.Fatalf("h3 stored as %+v", h)
	}
	_, errs, code := run(t, "--server", url, "--config", "", "host", "del", "h2")
	if code != 1 || !strings.HasPrefix(errs, `host "h2" is used by port "db1" (`) {
		t.Fatalf("host del of a host in use: exit %d, stderr %q", code, errs)
	}
	// The dry run says first what leaves the host.
	out, _, code := run(t, "--server", url, "--config", "", "host", "del", "h2", "--cascade", "--dry-run")
	if code != 0 || !strings.Contains(out, "host h2: removed from the topology; Loom's bridge br-int, its ports and flows will be deleted from it\n") {
		t.Errorf("host del --dry-run: exit %d\n%s", code, out)
	}
	runOn(t, url, "with it (--cascade): port \"db1\" deleted\nhost \"h2\" deleted (revision 4)\nhost h2: removed from the topology; Loom's bridge br-int, its ports and flows are being deleted from it (loomctl status shows it as removing until then)\n", "host", "del", "h2", "--cascade")
	if topo := stored(t, d); len(topo.Hosts) != 2 || len(topo.Ports) != 1 {
		t.Fatalf("after host del --cascade: %d hosts, %d ports", len(topo.Hosts), len(topo.Ports))
	}
	// h2 is being removed (no reconciler runs here): given up on, once.
	runOn(t, url, "host h2 forgotten: loomd no longer cleans it; what Loom made on it stays\n", "host", "forget", "h2")
	runOn(t, url, "host h2 is not being removed: nothing to forget\n", "host", "forget", "h2")
}
