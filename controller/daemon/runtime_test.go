package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// rtTopo has three hosts nobody listens on, switch blue with a pool
// (gateway, an excluded range), a static port and an ips: auto one.
const rtTopo = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:127.0.0.1:1", tunnelIP: 192.0.2.1}
  - {name: h2, ovsdb: "tcp:127.0.0.1:1", tunnelIP: 192.0.2.2}
  - {name: h3, ovsdb: "tcp:127.0.0.1:1", tunnelIP: 192.0.2.3}
switches:
  - name: blue
    tunnelKey: 100
    subnets: [10.1.0.0/16]
    gateways: [10.1.0.1]
    excludeIPs: [10.1.0.2-10.1.0.9]
  - name: tiny
    tunnelKey: 101
    subnets: [10.2.0.0/30]
ports:
  - {name: web1, switch: blue, host: h1, mac: auto, ips: [10.1.0.10], interface: lm-web1}
  - {name: web2, switch: blue, host: h2, mac: auto, ips: auto, interface: lm-web2}
`

func rtFixture(t *testing.T, dir string) (*fixture, *api.Client) {
	t.Helper()
	f := newFixture(t, dir, "")
	if f.d.st.Revision == 0 {
		if code, raw := f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": rtTopo}), nil); code != 200 {
			t.Fatalf("PUT: %d %s", code, raw)
		}
	}
	return f, &api.Client{Server: f.srv.URL, Token: token}
}

func addReq(host, cid string) api.RuntimePortRequest {
	iface := "v" + cid
	if len(iface) > 15 {
		iface = iface[:15]
	}
	return api.RuntimePortRequest{Switch: "blue", Host: host, Runtime: "cni", ContainerID: cid, IfName: "eth0", Interface: iface}
}

func apiErr(t *testing.T, err error, code int, want ...string) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an API error %d", err, code)
	}
	if e.Code != code {
		t.Fatalf("got %d %s, want %d", e.Code, e, code)
	}
	all := e.Error()
	for _, p := range e.Problems {
		all += "\n" + p.Message
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Fatalf("error %q does not say %q", all, w)
		}
	}
}

func TestRuntimePortAddIdempotentDelete(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	r, err := c.AddRuntimePort(ctx, addReq("h3", "c0ffee0123456789abc"))
	if err != nil {
		t.Fatal(err)
	}
	// web2 (ips: auto) took 10.1.0.11: .1 is the gateway, .2-.9 excluded, .10 web1's.
	if !r.Created || r.Name != "cni-c0ffee012345-eth0" || strings.Join(r.IPs, ",") != "10.1.0.12/16" ||
		strings.Join(r.Gateways, ",") != "10.1.0.1" || r.MTU != 1458 || r.MAC == "" {
		t.Fatalf("first ADD: %+v", r)
	}
	if got := f.d.Topology().AutoIPs["web2"]; strings.Join(got, ",") != "10.1.0.11" {
		t.Fatalf("web2's auto address: %v", got)
	}
	again, err := c.AddRuntimePort(ctx, addReq("h3", "c0ffee0123456789abc"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Name != r.Name || again.MAC != r.MAC || strings.Join(again.IPs, ",") != strings.Join(r.IPs, ",") || again.Revision != r.Revision {
		t.Fatalf("repeated ADD: %+v, want the same port as %+v", again, r)
	}
	other := addReq("h1", "c0ffee0123456789abc")
	_, err = c.AddRuntimePort(ctx, other)
	apiErr(t, err, 409, "already has runtime port", "delete it first")
	// The port is a port of the topology compiled.
	if tp, ok := f.d.topo.Port(r.Name); !ok || tp.Runtime == nil || tp.IPs[0].String() != "10.1.0.12" {
		t.Fatalf("port in the topology in force: %+v %v", tp, ok)
	}
	ls, err := c.RuntimePorts(ctx)
	if err != nil || len(ls.Ports) != 1 || ls.Ports[0].Name != r.Name {
		t.Fatalf("list: %+v %v", ls, err)
	}
	del, err := c.DeleteContainerPort(ctx, "c0ffee0123456789abc", "eth0")
	if err != nil || !del.Deleted || del.Name != r.Name {
		t.Fatalf("DELETE: %+v %v", del, err)
	}
	del, err = c.DeleteContainerPort(ctx, "c0ffee0123456789abc", "eth0")
	if err != nil || del.Deleted {
		t.Fatalf("second DELETE: %+v %v, want deleted false", del, err)
	}
	del, err = c.DeleteRuntimePort(ctx, "nope")
	if err != nil || del.Deleted {
		t.Fatalf("DELETE of a name never there: %+v %v", del, err)
	}
	if _, ok := f.d.topo.Port(r.Name); ok {
		t.Fatal("the deleted port is still compiled")
	}
	// Bad requests say what.
	for _, bad := range []struct {
		req  api.RuntimePortRequest
		want string
	}{
		{api.RuntimePortRequest{Switch: "blue"}, "missing host, runtime, containerID, ifName"},
		{api.RuntimePortRequest{Switch: "blue", Host: "h1", Runtime: "lxc", ContainerID: "x", IfName: "eth0", Interface: "vx"}, `runtime "lxc"`},
		{api.RuntimePortRequest{Switch: "blue", Host: "h1", Runtime: "cni", ContainerID: "x", IfName: "eth0"}, "exactly one of interface"},
		{api.RuntimePortRequest{Switch: "blue", Host: "h1", Runtime: "cni", ContainerID: "x", IfName: "eth0", Interface: "vx", IPs: []string{"10.1.0.5/16"}}, "without prefix length"},
	} {
		_, err := c.AddRuntimePort(ctx, bad.req)
		apiErr(t, err, 400, bad.want)
	}
	_, err = c.AddRuntimePort(ctx, api.RuntimePortRequest{Switch: "red", Host: "h1", Runtime: "cni", ContainerID: "x", IfName: "eth0", Interface: "vx"})
	apiErr(t, err, 404, `no switch named "red"`)
	// A static address another holds is refused naming both.
	req := addReq("h2", "static")
	req.IPs = []string{"10.1.0.10"}
	_, err = c.AddRuntimePort(ctx, req)
	apiErr(t, err, 409, `port "web1"`, `runtime port "cni-static-eth0"`)
	// An interface a YAML port binds on that host.
	req = addReq("h1", "clash")
	req.Interface = "lm-web1"
	_, err = c.AddRuntimePort(ctx, req)
	apiErr(t, err, 409, `interface "lm-web1" on host "h1"`, `port "web1"`)
}

// 200 ADDs at once over 3 hosts: 200 ports, 200 distinct addresses and
// MACs, each call answered at once (no 503: sent over HTTP without the
// client's retries), in batches (fewer revisions than calls).
func TestRuntimePortConcurrentAdds(t *testing.T) {
	f, _ := rtFixture(t, t.TempDir())
	start := f.d.st.Revision
	const n = 200
	res := make([]*api.RuntimePortResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(addReq(fmt.Sprintf("h%d", i%3+1), fmt.Sprintf("ctr%03d", i)))
			code, raw, err := f.send("POST", "/api/v1/runtime-ports", token, string(b))
			if err == nil && code != 200 {
				err = fmt.Errorf("%d %s", code, raw)
			}
			if err == nil {
				res[i] = &api.RuntimePortResult{}
				err = json.Unmarshal([]byte(raw), res[i])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	ips, macs := map[string]string{}, map[string]string{}
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("ADD %d: %v", i, errs[i])
		}
		r := res[i]
		if !r.Created || len(r.IPs) != 1 {
			t.Fatalf("ADD %d: %+v", i, r)
		}
		if o, dup := ips[r.IPs[0]]; dup {
			t.Fatalf("%s handed to %s and %s", r.IPs[0], o, r.Name)
		}
		if o, dup := macs[r.MAC]; dup {
			t.Fatalf("MAC %s given to %s and %s", r.MAC, o, r.Name)
		}
		ips[r.IPs[0]], macs[r.MAC] = r.Name, r.Name
		if r.IPs[0] == "10.1.0.10/16" || r.IPs[0] == "10.1.0.11/16" || r.IPs[0] == "10.1.0.1/16" {
			t.Fatalf("%s got %s, held by another", r.Name, r.IPs[0])
		}
	}
	if got := len(f.d.RuntimePorts().Ports); got != n {
		t.Fatalf("%d runtime ports stored, want %d", got, n)
	}
	revs := f.d.st.Revision - start
	t.Logf("%d ADDs made %d revisions (batches)", n, revs)
	if revs > n {
		t.Fatalf("%d revisions for %d ADDs", revs, n)
	}
}

// A restart keeps the runtime ports, their addresses and MACs, the auto
// addresses, and the cursor (the next address is not one handed out
// before the restart).
func TestRuntimePortsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	f, c := rtFixture(t, dir)
	ctx := context.Background()
	a, err := c.AddRuntimePort(ctx, addReq("h1", "one"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.AddRuntimePort(ctx, addReq("h2", "two"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRuntimePort(ctx, b.Name); err != nil {
		t.Fatal(err)
	}
	before := f.d.Topology()
	f.srv.Close()

	g, c2 := rtFixture(t, dir)
	after := g.d.Topology()
	if len(after.RuntimePorts) != 1 || after.RuntimePorts[0].Name != a.Name || after.RuntimePorts[0].MAC != a.MAC ||
		strings.Join(after.RuntimePorts[0].IPs, ",") != strings.Join(a.IPs, ",") {
		t.Fatalf("after restart: %+v, want %+v", after.RuntimePorts, a)
	}
	if strings.Join(after.AutoIPs["web2"], ",") != strings.Join(before.AutoIPs["web2"], ",") {
		t.Fatalf("auto addresses changed over the restart: %v -> %v", before.AutoIPs, after.AutoIPs)
	}
	if _, ok := g.d.topo.Port(a.Name); !ok {
		t.Fatal("the runtime port is not compiled after the restart")
	}
	again, err := c2.AddRuntimePort(ctx, addReq("h1", "one"))
	if err != nil || again.Created {
		t.Fatalf("ADD after restart: %+v %v, want the same port", again, err)
	}
	n, err := c2.AddRuntimePort(ctx, addReq("h3", "three"))
	if err != nil {
		t.Fatal(err)
	}
	if n.IPs[0] == b.IPs[0] || n.IPs[0] == a.IPs[0] {
		t.Fatalf("after restart the next address is %s: handed out before (%s, %s freed)", n.IPs[0], a.IPs[0], b.IPs[0])
	}
}

// The operator's files and the runtime ports meet: a PUT keeps them; a
// static address a runtime port holds is refused naming both; removing
// the switch they are on is refused by plan and PUT, naming them, unless
// forced, and then the plan and the answer say what goes.
func TestRuntimePortsAndFiles(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	r, err := c.AddRuntimePort(ctx, addReq("h1", "keep"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.AddRuntimePort(ctx, api.RuntimePortRequest{Switch: "tiny", Host: "h2", Runtime: "docker", ContainerID: "dock", IfName: "eth0", Interface: "vdock"})
	if err != nil {
		t.Fatal(err)
	}
	// A PUT made from the revision read before the runtime ports were
	// added is not out of date: only the files' changes count.
	cur, _ := c.Topology(ctx)
	stale := cur.Revision - 2
	more := rtTopo + "  - {name: web3, switch: blue, host: h3, mac: auto, ips: [10.1.0.200], interface: lm-web3}\n"
	a, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: stale, Files: map[string]string{"net.yaml": more}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Summary.Ports != 5 {
		t.Fatalf("after the PUT: %d ports, want 3 of the files and 2 runtime ones", a.Summary.Ports)
	}
	if got := f.d.RuntimePorts(); len(got.Ports) != 2 {
		t.Fatalf("runtime ports after a PUT: %+v", got.Ports)
	}
	// A static address the runtime port holds.
	ip := strings.TrimSuffix(r.IPs[0], "/16")
	clash := more + "  - {name: web4, switch: blue, host: h3, mac: auto, ips: [" + ip + "], interface: lm-web4}\n"
	_, err = c.PutTopology(ctx, api.TopologyUpdate{Revision: a.Revision, Files: map[string]string{"net.yaml": clash}})
	apiErr(t, err, 409, ip, `port "web4"`, `runtime port "`+r.Name+`"`)
	// Removing switch tiny, which runtime port dock is on.
	noTiny := strings.Replace(more, "  - name: tiny\n    tunnelKey: 101\n    subnets: [10.2.0.0/30]\n", "", 1)
	if noTiny == more {
		t.Fatal("fixture: tiny not removed")
	}
	_, err = c.PlanFiles(ctx, api.Files{Files: map[string]string{"net.yaml": noTiny}})
	apiErr(t, err, 409, tr.Name, `switch "tiny"`, "--force")
	_, err = c.PutTopology(ctx, api.TopologyUpdate{Revision: a.Revision, Files: map[string]string{"net.yaml": noTiny}})
	apiErr(t, err, 409, tr.Name, `switch "tiny"`)
	if got := f.d.RuntimePorts(); len(got.Ports) != 2 {
		t.Fatalf("a refused PUT changed the runtime ports: %+v", got.Ports)
	}
	p, err := c.PlanFiles(ctx, api.Files{Files: map[string]string{"net.yaml": noTiny}, Force: true})
	if err != nil || len(p.RuntimePortsRemoved) != 1 || !strings.Contains(p.RuntimePortsRemoved[0], tr.Name) {
		t.Fatalf("forced plan: %+v %v", p, err)
	}
	done, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: a.Revision, Files: map[string]string{"net.yaml": noTiny}, Force: true})
	if err != nil || len(done.RuntimePortsRemoved) != 1 || !strings.Contains(done.RuntimePortsRemoved[0], tr.Name) {
		t.Fatalf("forced PUT: %+v %v", done, err)
	}
	if got := f.d.RuntimePorts(); len(got.Ports) != 1 || got.Ports[0].Name != r.Name {
		t.Fatalf("after the forced PUT: %+v", got.Ports)
	}
	// An edit deleting the switch is refused alike.
	_, err = c.Edit(ctx, api.EditRequest{Edits: []api.Edit{{Op: "del", Kind: "port", Name: "web1"}, {Op: "del", Kind: "port", Name: "web2"},
		{Op: "del", Kind: "port", Name: "web3"}, {Op: "del", Kind: "switch", Name: "blue"}}})
	apiErr(t, err, 409, r.Name, `switch "blue"`)
}

// An exhausted pool is an error naming the switch and the subnet, and
// leaves nothing: no port, no address held, no new revision.
func TestRuntimePortPoolExhausted(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	for i := 0; i < 2; i++ { // 10.2.0.0/30: .1 and .2
		req := addReq("h1", fmt.Sprint("t", i))
		req.Switch = "tiny"
		if _, err := c.AddRuntimePort(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	before := f.d.Topology()
	req := addReq("h1", "t9")
	req.Switch = "tiny"
	_, err := c.AddRuntimePort(ctx, req)
	apiErr(t, err, 409, `switch "tiny"`, "10.2.0.0/30", "no free address", "nothing was changed")
	after := f.d.Topology()
	if after.Revision != before.Revision || len(after.RuntimePorts) != 2 {
		t.Fatalf("a refused ADD changed something: revision %d -> %d, %d ports", before.Revision, after.Revision, len(after.RuntimePorts))
	}
	// Freeing one makes room.
	if _, err := c.DeleteContainerPort(ctx, "t0", "eth0"); err != nil {
		t.Fatal(err)
	}
	r, err := c.AddRuntimePort(ctx, req)
	if err != nil || r.IPs[0] != "10.2.0.1/30" {
		t.Fatalf("after a DELETE: %+v %v", r, err)
	}
	_ = netip.Addr{}
}

// loomd reading its files: runtime ports are kept over reloads; a change
// of the files that removes their switch is rejected (no force there) and
// the topology in force stays; ips: auto ports keep their addresses over
// reloads, and free them when they go.
func TestRuntimePortsWithFiles(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/net.yaml"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rtTopo)
	f := newFixture(t, t.TempDir(), path)
	c := &api.Client{Server: f.srv.URL, Token: token}
	ctx := context.Background()
	req := addReq("h2", "files1")
	req.Switch = "tiny"
	r, err := c.AddRuntimePort(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	auto := f.d.Topology().AutoIPs["web2"]
	// Another port added to the files: the runtime port and web2's
	// address stay.
	write(rtTopo + "  - {name: web3, switch: blue, host: h3, mac: auto, ips: auto, interface: lm-web3}\n")
	f.d.checkFilesNow(true)
	st := f.d.Topology()
	if len(st.RuntimePorts) != 1 || strings.Join(st.AutoIPs["web2"], ",") != strings.Join(auto, ",") || len(st.AutoIPs["web3"]) != 1 {
		t.Fatalf("after a reload: %+v", st)
	}
	web3 := st.AutoIPs["web3"][0]
	// Files without switch tiny: rejected, naming the runtime port.
	noTiny := strings.Replace(rtTopo, "  - name: tiny\n    tunnelKey: 101\n    subnets: [10.2.0.0/30]\n", "", 1)
	write(noTiny)
	f.d.checkFilesNow(true)
	s := f.d.Status().Topology
	if s.Rejected == "" || !strings.Contains(fmt.Sprint(s.Problems), r.Name) || s.Revision != st.Revision {
		t.Fatalf("files removing the switch of a runtime port: %+v", s)
	}
	if len(f.d.RuntimePorts().Ports) != 1 {
		t.Fatal("the runtime port went with a rejected change of the files")
	}
	// Delete it, and the files are taken at the next look; web3 is gone
	// from them, and its address is free again.
	if _, err := c.DeleteRuntimePort(ctx, r.Name); err != nil {
		t.Fatal(err)
	}
	f.d.checkFilesNow(false) // judged again: the runtime port that did not fit is gone
	if s := f.d.Status().Topology; s.Rejected != "" {
		t.Fatalf("still rejected: %+v", s)
	}
	if _, held := f.d.Topology().AutoIPs["web3"]; held {
		t.Fatal("web3's address is still held after web3 left the files")
	}
	take := addReq("h1", "takes-web3s")
	take.IPs = []string{web3}
	if _, err := c.AddRuntimePort(ctx, take); err != nil {
		t.Fatalf("web3's freed address %s: %v", web3, err)
	}
}

// A switch without subnets: runtime ports get no address (L2 only), and
// may give any. Bad names and interfaces are 400s.
func TestRuntimePortNoSubnets(t *testing.T) {
	_, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	files := map[string]string{"net.yaml": rtTopo + "  - {name: l2, switch: bare, host: h1, mac: auto, interface: lm-l2}\n"}
	files["net.yaml"] = strings.Replace(files["net.yaml"], "ports:\n", "  - {name: bare, tunnelKey: 102}\nports:\n", 1)
	cur, _ := c.Topology(ctx)
	if _, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: cur.Revision, Files: files}); err != nil {
		t.Fatal(err)
	}
	req := addReq("h1", "l2only")
	req.Switch = "bare"
	r, err := c.AddRuntimePort(ctx, req)
	if err != nil || len(r.IPs) != 0 || r.MAC == "" {
		t.Fatalf("on a switch without subnets: %+v %v", r, err)
	}
	req = addReq("h1", "given")
	req.Switch, req.IPs = "bare", []string{"203.0.113.5"}
	if r, err = c.AddRuntimePort(ctx, req); err != nil || strings.Join(r.IPs, ",") != "203.0.113.5/32" {
		t.Fatalf("an address given on a switch without subnets: %+v %v", r, err)
	}
	bad := addReq("h1", "bad")
	bad.Name = "Bad_Name"
	_, err = c.AddRuntimePort(ctx, bad)
	apiErr(t, err, 400, `name "Bad_Name"`)
	bad = addReq("h1", "bad")
	bad.Interface = "this-name-is-too-long"
	_, err = c.AddRuntimePort(ctx, bad)
	apiErr(t, err, 400, `interface "this-name-is-too-long"`)
}

// An ips: auto port keeps its address over changes of the files: a subnet
// added to its switch gives it one more, of that subnet; moved to another
// switch, it gets that switch's.
func TestAutoAddressesKept(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	put := func(files string) {
		t.Helper()
		cur, _ := c.Topology(ctx)
		if _, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: cur.Revision, Files: map[string]string{"net.yaml": files}}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.d.Topology().AutoIPs["web2"]
	dual := strings.Replace(rtTopo, "subnets: [10.1.0.0/16]", `subnets: [10.1.0.0/16, "2001:db8:1::/64"]`, 1)
	put(dual)
	got := f.d.Topology().AutoIPs["web2"]
	if len(got) != 2 || got[0] != before[0] || got[1] != "2001:db8:1::1" {
		t.Fatalf("after an IPv6 subnet was added: %v (before %v)", got, before)
	}
	moved := strings.Replace(dual, "{name: web2, switch: blue", "{name: web2, switch: tiny", 1)
	put(moved)
	if got := f.d.Topology().AutoIPs["web2"]; strings.Join(got, ",") != "10.2.0.1" {
		t.Fatalf("moved to switch tiny: %v", got)
	}
	if p, _ := f.d.topo.Port("web2"); len(p.IPs) != 1 || p.IPs[0].String() != "10.2.0.1" {
		t.Fatalf("compiled with %v", p.IPs)
	}
}

// A runtime retrying at once (the same ADD 20 times concurrently) gets
// one port: one answer says created, all name the same port and address.
func TestRuntimePortConcurrentRetries(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	const n = 20
	res := make([]*api.RuntimePortResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = c.AddRuntimePort(context.Background(), addReq("h2", "retried"))
		}()
	}
	wg.Wait()
	created := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if res[i].Created {
			created++
		}
		if res[i].Name != res[0].Name || strings.Join(res[i].IPs, ",") != strings.Join(res[0].IPs, ",") || res[i].MAC != res[0].MAC {
			t.Fatalf("answers differ: %+v and %+v", res[i], res[0])
		}
	}
	if created != 1 || len(f.d.RuntimePorts().Ports) != 1 {
		t.Fatalf("%d answers say created, %d ports stored; want 1 and 1", created, len(f.d.RuntimePorts().Ports))
	}
}

// ofportOf is the OpenFlow port of the interface iface in loomd's
// compilation for host.
func ofportOf(t *testing.T, f *fixture, host, iface string) int {
	t.Helper()
	for _, p := range f.d.compiled.Host(host).Ports {
		if p.Name == iface {
			return p.Ofport
		}
	}
	t.Fatalf("no port %s on %s", iface, host)
	return 0
}

// A runtime port never moves another port's OpenFlow port (which would
// renumber its interface and cut its traffic): one whose name hashes to
// the number of a file's port takes another; removing a runtime port
// moves none of those that came after it.
func TestRuntimePortOfportsStay(t *testing.T) {
	f, c := rtFixture(t, t.TempDir())
	ctx := context.Background()
	const max = flows.MaxWorkloadOfport
	web1 := ofportOf(t, f, "h1", "lm-web1")
	// A name sorting before web1 with web1's hash: derived from names
	// alone, it would take web1's number and push web1 on.
	var name string
	for i := 0; name == ""; i++ {
		if n := fmt.Sprintf("a%d", i); topology.HashID(n, max) == uint32(web1) {
			name = n
		}
	}
	if ids, _ := topology.AssignIDs([]string{name, "web1"}, max); ids[1] == uint32(web1) {
		t.Fatalf("%s does not move web1 when numbered by name: the test shows nothing", name)
	}
	r := addReq("h1", "collide")
	r.Name = name
	a, err := c.AddRuntimePort(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := ofportOf(t, f, "h1", "lm-web1"); got != web1 {
		t.Errorf("web1's OpenFlow port moved from %d to %d when runtime port %s came", web1, got, name)
	}
	if a.Ofport == 0 || int(a.Ofport) == web1 || ofportOf(t, f, "h1", r.Interface) != int(a.Ofport) {
		t.Errorf("runtime port %s: ofport %d (compiled %d), want a free one, not web1's %d", name, a.Ofport, ofportOf(t, f, "h1", r.Interface), web1)
	}
	// Another runtime port whose hash is a's number: it goes around a;
	// a removed, it stays where it is.
	var second string
	for i := 0; second == ""; i++ {
		if n := fmt.Sprintf("b%d", i); topology.HashID(n, max) == a.Ofport {
			second = n
		}
	}
	r2 := addReq("h1", "second")
	r2.Name = second
	b, err := c.AddRuntimePort(ctx, r2)
	if err != nil {
		t.Fatal(err)
	}
	if b.Ofport == a.Ofport {
		t.Fatalf("two runtime ports on h1 with OpenFlow port %d", b.Ofport)
	}
	if _, err := c.DeleteRuntimePort(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if got := ofportOf(t, f, "h1", r2.Interface); got != int(b.Ofport) {
		t.Errorf("%s moved from OpenFlow port %d to %d when %s was removed", second, b.Ofport, got, a.Name)
	}
	if got := ofportOf(t, f, "h1", "lm-web1"); got != web1 {
		t.Errorf("web1 moved from %d to %d", web1, got)
	}
}
