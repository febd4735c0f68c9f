package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

func sw(name string, subnets []string, gws []string, excl ...string) topology.Switch {
	s := topology.Switch{Name: name}
	for _, p := range subnets {
		s.Subnets = append(s.Subnets, netip.MustParsePrefix(p))
	}
	for _, g := range gws {
		s.Gateways = append(s.Gateways, netip.MustParseAddr(g))
	}
	for _, x := range excl {
		r, err := topology.ParseIPRange(x)
		if err != nil {
			panic(err)
		}
		s.Exclude = append(s.Exclude, r)
	}
	return s
}

func addrs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// A /29 has 6 host addresses: .1 the gateway, .2-.3 excluded, .4 held
// statically: .5 and .6 are all there is to hand out, then the pool is
// exhausted, with an error naming the switch and the subnet.
func TestExhaustionGatewayExclusions(t *testing.T) {
	topo := &topology.Topology{Switches: []topology.Switch{sw("blue", []string{"10.0.0.0/29"}, []string{"10.0.0.1"}, "10.0.0.2-10.0.0.3")}}
	a := New(topo, nil)
	if err := a.Take("blue", netip.MustParseAddr("10.0.0.4"), "port web"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 2; i++ {
		ips, err := a.Next("blue", "c"+string(rune('0'+i)))
		if err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
		got = append(got, addrs(ips))
	}
	if strings.Join(got, " ") != "10.0.0.5 10.0.0.6" {
		t.Fatalf("handed out %v, want 10.0.0.5 10.0.0.6", got)
	}
	_, err := a.Next("blue", "c9")
	if !errors.Is(err, ErrExhausted) || !strings.Contains(err.Error(), `switch "blue"`) || !strings.Contains(err.Error(), "10.0.0.0/29") {
		t.Fatalf("exhausted pool: got %v, want ErrExhausted naming the switch and subnet", err)
	}
	if h := a.Holder("blue", netip.MustParseAddr("10.0.0.7")); h != "" {
		t.Fatalf("broadcast address held by %q", h)
	}
}

// Release frees an address; the cursor hands out the others first, and
// the freed one when it comes round again. A new Allocator made with the
// cursors (a restart) goes on where the last one stopped.
func TestReleaseAndCursor(t *testing.T) {
	topo := &topology.Topology{Switches: []topology.Switch{sw("blue", []string{"10.0.0.0/29"}, nil)}}
	a := New(topo, nil)
	first, _ := a.Next("blue", "a")
	second, _ := a.Next("blue", "b")
	if addrs(first) != "10.0.0.1" || addrs(second) != "10.0.0.2" {
		t.Fatalf("got %v %v", first, second)
	}
	a.Release("blue", first[0], "someone else") // not the holder: kept
	if a.Holder("blue", first[0]) != "a" {
		t.Fatal("released by one who does not hold it")
	}
	a.Release("blue", first[0], "a")
	next, _ := a.Next("blue", "c")
	if addrs(next) != "10.0.0.3" {
		t.Fatalf("after a release: %v, want 10.0.0.3 (the freed .1 comes last)", next)
	}
	// Restart: the state is what was stored: who holds what, and cursors.
	b := New(topo, a.Cursors())
	b.Take("blue", second[0], "b")
	b.Take("blue", next[0], "c")
	var got []string
	for _, o := range []string{"d", "e", "f", "g"} {
		ips, err := b.Next("blue", o)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		got = append(got, addrs(ips))
	}
	if want := "10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.1"; strings.Join(got, " ") != want {
		t.Fatalf("after restart: %v, want %s", got, want)
	}
}

// Two families: one address of each, IPv4 first; when one subnet is
// exhausted, the other's address is given back (nothing half-made).
func TestDualStackAllOrNothing(t *testing.T) {
	topo := &topology.Topology{Switches: []topology.Switch{sw("blue", []string{"10.0.0.0/30", "2001:db8::/64"}, []string{"2001:db8::1"})}}
	a := New(topo, nil)
	for _, want := range []string{"10.0.0.1,2001:db8::2", "10.0.0.2,2001:db8::3"} {
		ips, err := a.Next("blue", want)
		if err != nil || addrs(ips) != want {
			t.Fatalf("got %v %v, want %s", ips, err, want)
		}
	}
	if _, err := a.Next("blue", "x"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("got %v", err)
	}
	if h := a.Holder("blue", netip.MustParseAddr("2001:db8::4")); h != "" {
		t.Fatalf("the IPv6 address of a failed Next is held by %q", h)
	}
}

// Take refuses an address another holds, naming both.
func TestTakeNamesBoth(t *testing.T) {
	topo := &topology.Topology{Switches: []topology.Switch{sw("blue", []string{"10.0.0.0/24"}, nil)}}
	a := New(topo, nil)
	ip := netip.MustParseAddr("10.0.0.9")
	if err := a.Take("blue", ip, "runtime port x"); err != nil {
		t.Fatal(err)
	}
	err := a.Take("blue", ip, `port "web" (t.yaml:3)`)
	if !errors.Is(err, ErrTaken) || !strings.Contains(err.Error(), "runtime port x") || !strings.Contains(err.Error(), `port "web"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := a.Next("nope", "x"); err == nil || !strings.Contains(err.Error(), `switch "nope" has no subnets`) {
		t.Fatalf("unknown switch: %v", err)
	}
}

func TestNextIn(t *testing.T) {
	topo := &topology.Topology{Switches: []topology.Switch{sw("blue", []string{"10.0.0.0/30", "2001:db8::/64"}, nil)}}
	a := New(topo, nil)
	ip, err := a.NextIn("blue", netip.MustParsePrefix("2001:db8::/64"), "x")
	if err != nil || ip.String() != "2001:db8::1" {
		t.Fatalf("got %v %v", ip, err)
	}
	if h := a.Holder("blue", netip.MustParseAddr("10.0.0.1")); h != "" {
		t.Fatal("NextIn took an address of the other subnet")
	}
	if _, err := a.NextIn("blue", netip.MustParsePrefix("10.9.0.0/24"), "x"); err == nil || !strings.Contains(err.Error(), "no subnet 10.9.0.0/24") {
		t.Fatalf("unknown subnet: %v", err)
	}
}
