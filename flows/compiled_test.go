package flows

import (
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
	"github.com/loom-sdn/loom/topology/topotest"
)

// sameStates fails t unless got and want are equal host by host: every
// field, every flow's text and origin.
func sameStates(t *testing.T, step string, got, want []*HostState) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hosts, want %d", step, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		gt := g.FlowText()
		wt := w.FlowText()
		if string(gt) != string(wt) {
			t.Errorf("%s: host %s: flows differ from a full compile", step, w.Host)
		}
		gf, wf := g.Flows(), w.Flows()
		if len(gf) != g.NumFlows() {
			t.Errorf("%s: host %s: %d flows, NumFlows %d", step, w.Host, len(gf), g.NumFlows())
		}
		for j := range wf {
			if j >= len(gf) {
				break
			}
			// Positions may be older where a change did not reach
			// (Compiled.Update).
			gotO, wantO := gf[j].Origin, wf[j].Origin
			gotO.Pos, wantO.Pos = topology.Pos{}, topology.Pos{}
			if gotO != wantO {
				t.Errorf("%s: host %s: flow %d: origin %+v, want %+v", step, w.Host, j, gf[j].Origin, wf[j].Origin)
				break
			}
		}
		gc, wc := *g, *w
		gc.flows, wc.flows = nil, nil
		if !reflect.DeepEqual(gc, wc) {
			t.Errorf("%s: host %s:\n%+v\nwant\n%+v", step, w.Host, gc, wc)
		}
	}
}

// Compiled.Update after each of a series of edits equals a full
// compile, and recompiles only the hosts an edit can touch.
func TestUpdateEqualsCompile(t *testing.T) {
	src, err := os.ReadFile("testdata/full/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := edit.Files{"full.yaml": src}
	f := func(kv ...string) []edit.Field {
		fs, err := edit.ParseFields(kv)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	steps := []struct {
		name     string
		do       func(edit.Files) (edit.Files, error)
		compiled int // hosts changed; -1: not checked
	}{
		{"nothing changed", func(fs edit.Files) (edit.Files, error) { return fs, nil }, 0},
		{"a port's IP (green: h1, h2)", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Ports, "g1", f("ips=[192.0.2.5]"))
		}, 2},
		{"a port added on a host new to its switch", func(fs edit.Files) (edit.Files, error) {
			return edit.Add(fs, edit.Ports, "g3", f("switch=green", "host=h3", "mac=auto", "ips=[192.0.2.3]", "interface=lm-g3"))
		}, 3},
		{"a port deleted", func(fs edit.Files) (edit.Files, error) { return edit.Delete(fs, edit.Ports, "b3") }, -1},
		{"a switch's key", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Switches, "blue", f("tunnelKey=21"))
		}, -1},
		{"an ACL rule added", func(fs edit.Files) (edit.Files, error) {
			return edit.AddRule(fs, "web-in", f("name=www", "action=allow", "proto=tcp", "dstPorts=80"), 0)
		}, 1},
		{"an ACL that no port uses", func(fs edit.Files) (edit.Files, error) {
			return edit.AddRule(fs, "unused", f("action=drop"), -1)
		}, 0},
		{"an ACL attached to a port", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Ports, "client", f("acls.toPort=[web-in]"))
		}, -1},
		{"a host's tunnel IP", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Hosts, "h3", f("tunnelIP=198.19.0.33"))
		}, -1},
		{"a gateway's VLAN", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.L2Gateways, "gw-blue", f("vlan=301"))
		}, -1},
		{"an external endpoint's IP", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.ExternalEndpoints, "vtep1", f("ip=198.19.0.51"))
		}, -1},
		{"a VLAN switch's VLAN", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Switches, "red", f("vlan=201"))
		}, -1},
		{"a port moved to another host", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Ports, "r2", f("host=h3"))
		}, -1},
		{"a port renamed (its id, and maybe others', change)", func(fs edit.Files) (edit.Files, error) {
			return edit.Set(fs, edit.Ports, "web", f("name=web0"))
		}, -1},
		{"a host added", func(fs edit.Files) (edit.Files, error) {
			return edit.Add(fs, edit.Hosts, "h4", f("ovsdb=tcp:198.18.0.14:6640", "tunnelIP=198.19.0.14"))
		}, 1},
		{"every line moved down by a comment on top", func(fs edit.Files) (edit.Files, error) {
			out := edit.Files{}
			for k, v := range fs {
				out[k] = v
			}
			out["full.yaml"] = append([]byte("# a comment that moves every line\n\n"), fs["full.yaml"]...)
			return out, nil
		}, 0},
		{"a port on the new host", func(fs edit.Files) (edit.Files, error) {
			return edit.Add(fs, edit.Ports, "t4", f("switch=teal", "host=h4", "mac=auto", "ips=[192.0.2.140]", "interface=lm-t4"))
		}, -1},
	}
	t0, err := topology.LoadBytes(files)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := (*Compiled)(nil).Update(t0)
	if err != nil || len(cache.Changed()) != len(t0.Hosts) {
		t.Fatalf("first compile: %v, %v", cache.Changed(), err)
	}
	for _, s := range steps {
		next, err := s.do(files)
		if err != nil {
			t.Fatalf("%s: edit: %v", s.name, err)
		}
		files = next
		topo, err := topology.LoadBytes(files)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want, err := Compile(topo)
		if err != nil {
			t.Fatal(err)
		}
		if cache, err = cache.Update(topo); err != nil {
			t.Fatal(err)
		}
		sameStates(t, s.name, cache.States(), want)
		t.Logf("%s: hosts changed: %v", s.name, cache.Changed())
		if s.compiled >= 0 && len(cache.Changed()) != s.compiled {
			t.Errorf("%s: hosts changed %v, want %d", s.name, cache.Changed(), s.compiled)
		}
	}
}

// On a large topology, one port added recompiles only the hosts of its
// switch and its own host.
func TestUpdateOnePort(t *testing.T) {
	files := edit.Files{"big.yaml": topotest.Generate(40, 10, 5)}
	topo, err := topology.LoadBytes(files)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := (*Compiled)(nil).Update(topo)
	if err != nil {
		t.Fatal(err)
	}
	next, err := edit.Add(files, edit.Ports, "extra", []edit.Field{{Key: "switch", Value: "s0"}, {Key: "host", Value: "h39"},
		{Key: "mac", Value: "auto"}, {Key: "interface", Value: "lm-extra"}})
	if err != nil {
		t.Fatal(err)
	}
	topo2, err := topology.LoadBytes(next)
	if err != nil {
		t.Fatal(err)
	}
	next2, err := cache.Update(topo2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Compile(topo2)
	sameStates(t, "one port", next2.States(), want)
	carriers := map[string]bool{"h39": true}
	for _, p := range topo2.Ports {
		if p.Switch == "s0" {
			carriers[p.Host] = true
		}
	}
	if len(next2.Changed()) != len(carriers) {
		t.Errorf("hosts changed %v, want the %d that carry s0 %s", next2.Changed(), len(carriers), fmt.Sprint(carriers))
	}
}

// Update leaves the compilation it starts from as it was: two updates of
// one compilation (concurrently: loomd may check a dry run while it
// installs) each equal a compile from scratch, and so does the first.
func TestUpdateKeepsItsReceiver(t *testing.T) {
	load := func(extra string) *topology.Topology {
		topo, err := topology.LoadBytes(map[string][]byte{"big.yaml": append(topotest.Generate(12, 10, 4), extra...)})
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	t0 := load("")
	t1 := load("  - {name: pnew, switch: s3, host: h11, mac: auto, interface: lm-pnew}\n")
	t2 := load("  - {name: pother, switch: s5, host: h0, mac: auto, ips: [10.200.0.1], interface: lm-pother}\n")
	base, err := (*Compiled)(nil).Update(t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, hs := range base.States() {
		hs.Flows() // so that the updates patch from them
	}
	var a, b *Compiled
	var errA, errB error
	done := make(chan struct{})
	go func() { a, errA = base.Update(t1); close(done) }()
	b, errB = base.Update(t2)
	<-done
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	again, err := base.Update(t2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  *Compiled
		topo *topology.Topology
	}{{"first update", a, t1}, {"second update", b, t2}, {"the compilation both started from", base, t0}, {"the second update again", again, t2}} {
		want, err := Compile(c.topo)
		if err != nil {
			t.Fatal(err)
		}
		sameStates(t, c.name, c.got.States(), want)
	}
}
