package main

import (
	"fmt"
	"testing"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// show KIND [NAME] keeps only that kind, or that object and what it holds.
func TestShowFilter(t *testing.T) {
	topo, err := topology.Load("../../flows/testdata/full/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := func() *shown { return buildShown(topo, &api.Status{}, nil) }
	all := doc()
	if len(all.Switches) < 2 || len(all.Hosts) < 2 {
		t.Fatalf("the full topology: %d switches, %d hosts", len(all.Switches), len(all.Hosts))
	}
	ports := func(d *shown) (n int, hosts map[string]bool) {
		hosts = map[string]bool{}
		for _, s := range d.Switches {
			for _, p := range s.Ports {
				n++
				hosts[p.Host] = true
			}
		}
		return n, hosts
	}
	total, _ := ports(all)

	d := doc()
	if err := d.filter("switch", all.Switches[1].Name); err != nil || len(d.Switches) != 1 || d.Switches[0].Name != all.Switches[1].Name || len(d.Hosts) != 0 {
		t.Errorf("show switch %s: %v %+v", all.Switches[1].Name, err, d)
	}
	d = doc()
	if err := d.filter("switch", ""); err != nil || len(d.Switches) != len(all.Switches) || len(d.Hosts) != 0 {
		t.Errorf("show switch: %v %+v", err, d)
	}
	d = doc()
	if err := d.filter("host", "h1"); err != nil || len(d.Hosts) != 1 || d.Hosts[0].Name != "h1" {
		t.Fatalf("show host h1: %v %+v", err, d)
	}
	if n, hosts := ports(d); n == 0 || n == total || len(hosts) != 1 || !hosts["h1"] {
		t.Errorf("show host h1: %d of %d ports, on hosts %v", n, total, hosts)
	}
	d = doc()
	if err := d.filter("host", ""); err != nil || len(d.Switches) != 0 || len(d.Hosts) != len(all.Hosts) {
		t.Errorf("show host: %v %+v", err, d)
	}
	p := all.Switches[0].Ports[0]
	d = doc()
	if err := d.filter("port", p.Name); err != nil || len(d.Switches) != 1 || len(d.Switches[0].Ports) != 1 || d.Switches[0].Ports[0].Name != p.Name ||
		len(d.Hosts) != 1 || d.Hosts[0].Name != p.Host {
		t.Errorf("show port %s: %v %+v", p.Name, err, d)
	}
	for _, c := range [][2]string{{"switch", "nope"}, {"host", "nope"}, {"port", "nope"}} {
		if err := doc().filter(c[0], c[1]); err == nil || err.Error() != "no "+c[0]+` named "nope"` {
			t.Errorf("show %s nope: %v", c[0], err)
		}
	}
}

// Completion offers the names of every kind get lists and edits name.
func TestObjectNames(t *testing.T) {
	vtep, err := topology.Load("../../deploy/examples/external-vtep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := topology.Load("../../deploy/examples/l2-gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t          *topology.Topology
		kind, want string
	}{
		{vtep, "externalEndpoints", "[router1 tor1]"}, {vtep, "endpoints", "[router1 tor1]"},
		{gw, "l2Gateways", "[blue-vlan300]"}, {gw, "l2gateways", "[blue-vlan300]"},
		{gw, "switches", "[blue]"}, {gw, "nope", "[]"},
	} {
		if got := fmt.Sprint(objectNames(c.t, c.kind)); got != c.want {
			t.Errorf("objectNames %s: %s, want %s", c.kind, got, c.want)
		}
	}
}
