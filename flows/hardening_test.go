package flows

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/topology"
)

const twoHosts = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12}
switches:
  - {name: s, tunnelKey: 1}
ports:
  - {name: a, switch: s, host: h1, mac: auto, interface: a, acls: {toPort: [z]}}
  - {name: b, switch: s, host: h2, mac: auto, interface: b}
acls:
  - name: z
    rules:
      - {action: drop, proto: tcp, dstPorts: %s}
`

// A range from port 0 (a real value on the wire) compiles to matches
// that cover exactly 0..hi; go-openvswitch refuses such ranges, and the
// compiler used to panic on them.
func TestRangeFromZero(t *testing.T) {
	topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": []byte(fmt.Sprintf(twoHosts, "0-80"))})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := CompileHost(topo, "h1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range hs.Flows() {
		if f.Origin.Kind == KindACL {
			s := f.String()
			for _, part := range strings.Split(s, ",") {
				if strings.HasPrefix(part, "tp_dst=") {
					got = append(got, part)
				}
			}
		}
	}
	want := []string{"tp_dst=0x0000/0xffc0", "tp_dst=0x0040/0xfff0", "tp_dst=80"} // an exact mask is no mask
	want = append(want, want...)                                                  // IPv4 and IPv6
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}

// maskedRange covers exactly lo..hi, each port once, and gives the same
// matches as go-openvswitch where both work (ranges from 1).
func TestMaskedRange(t *testing.T) {
	check := func(lo, hi uint16) {
		next := uint32(lo)
		for _, b := range maskedRange(lo, hi) {
			size := uint32(^b.mask) + 1
			if uint32(b.value) != next || uint32(b.value)&(size-1) != 0 {
				t.Fatalf("%d-%d: block %#x/%#x does not follow %d", lo, hi, b.value, b.mask, next)
			}
			next += size
		}
		if next != uint32(hi)+1 {
			t.Fatalf("%d-%d: covered up to %d", lo, hi, next-1)
		}
		if lo == 0 {
			return
		}
		ms, err := ovs.TransportDestinationPortRange(lo, hi).MaskedPorts()
		if err != nil {
			t.Fatal(err)
		}
		var ours []string
		for _, b := range maskedRange(lo, hi) {
			x, _ := ovs.TransportDestinationMaskedPort(b.value, b.mask).MarshalText()
			ours = append(ours, string(x))
		}
		var theirs []string
		for _, m := range ms {
			x, _ := m.MarshalText()
			theirs = append(theirs, string(x))
		}
		if strings.Join(ours, " ") != strings.Join(theirs, " ") {
			t.Fatalf("%d-%d: %v, go-openvswitch %v", lo, hi, ours, theirs)
		}
	}
	for lo := 0; lo < 300; lo++ {
		for hi := lo; hi < 300; hi++ {
			check(uint16(lo), uint16(hi))
		}
	}
	for _, r := range [][2]uint16{{0, 65534}, {0, 65535}, {1, 65535}, {1024, 65535}, {8000, 8080}, {32768, 61000}, {65535, 65535}} {
		check(r[0], r[1])
	}
}

// A panic while compiling a host is an error of that host, not the end
// of the process (loomd compiles on requests and at start).
func TestCompileRecoversPanic(t *testing.T) {
	hosts := []topology.Host{{Name: "h1", Pos: topology.Pos{File: "t.yaml", Line: 3, Col: 5}}, {Name: "h2"}}
	err := each(len(hosts), func(i int) (string, topology.Pos) { return "host " + hosts[i].Name, hosts[i].Pos }, func(i int) error {
		if i == 0 {
			panic(errors.New("boom"))
		}
		return nil
	})
	var l topology.ErrorList
	if !errors.As(err, &l) || len(l) != 1 {
		t.Fatalf("got %v", err)
	}
	if got := l[0].Error(); !strings.HasPrefix(got, "t.yaml:3:5: internal error compiling host h1: boom") || !strings.Contains(got, "please report") {
		t.Errorf("got %q", got)
	}
}

// The compiler's refusals carry the position of what they refuse, on
// every path (a whole compile, one host, an update).
func TestRefusalsHavePositions(t *testing.T) {
	defer func(b int) { flowBudget = b }(flowBudget)
	flowBudget = 5
	topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": []byte(fmt.Sprintf(twoHosts, "80"))})
	if err != nil {
		t.Fatal(err)
	}
	want := `t.yaml:6:5: switch "s": more than 5 flows`
	for name, compile := range map[string]func() error{
		"Compile":     func() error { _, err := Compile(topo); return err },
		"CompileHost": func() error { _, err := CompileHost(topo, "h1"); return err },
		"Update":      func() error { _, err := (*Compiled)(nil).Update(topo); return err },
	} {
		err := compile()
		var l topology.ErrorList
		if !errors.As(err, &l) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %s...", name, err, want)
		}
	}
}

// A port bound by ifaceID compiles as the same port bound by interface
// name does: the same flows (its OpenFlow port is assigned by the port's
// name, as for any port), and a bridge port that names the iface-id to
// adopt instead of an interface to create.
func TestIfaceIDPort(t *testing.T) {
	byName, err := topology.LoadBytes(map[string][]byte{"t.yaml": []byte(fmt.Sprintf(twoHosts, "80"))})
	if err != nil {
		t.Fatal(err)
	}
	byID, err := topology.LoadBytes(map[string][]byte{"t.yaml": []byte(strings.Replace(fmt.Sprintf(twoHosts, "80"), "interface: b}", "ifaceID: b-1}", 1))})
	if err != nil {
		t.Fatal(err)
	}
	for name, compile := range map[string]func(*topology.Topology) (*HostState, error){
		"CompileHost": func(t *topology.Topology) (*HostState, error) { return CompileHost(t, "h2") },
		"Compile": func(t *topology.Topology) (*HostState, error) {
			s, err := Compile(t)
			if err != nil {
				return nil, err
			}
			return s[1], nil
		},
		"Update": func(t *topology.Topology) (*HostState, error) {
			c, err := (*Compiled)(nil).Update(byName)
			if err != nil {
				return nil, err
			}
			if c, err = c.Update(t); err != nil {
				return nil, err
			}
			return c.States()[1], nil
		},
	} {
		a, err := compile(byName)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := compile(byID)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(a.FlowText()) != string(b.FlowText()) {
			t.Errorf("%s: flows differ:\n%s\n---\n%s", name, a.FlowText(), b.FlowText())
		}
		var pa, pb Port
		for _, p := range a.Ports {
			if p.Name == "b" {
				pa = p
			}
		}
		for _, p := range b.Ports {
			if p.IfaceID != "" {
				pb = p
			}
		}
		want := Port{Name: AdoptedName("b-1"), IfaceID: "b-1", Ofport: pa.Ofport, ExternalIDs: map[string]string{ExtIDObject: "port/b"}}
		if pa.Ofport == 0 || !samePort(&pb, &want) || len(a.Ports) != len(b.Ports) {
			t.Errorf("%s: adopted port %+v, want %+v (ports %v and %v)", name, pb, want, a.Ports, b.Ports)
		}
	}
}

// A host whose flows would pass the budget is refused, at the host, and
// compiling it stops there.
func TestFlowBudget(t *testing.T) {
	defer func(b int) { flowBudget = b }(flowBudget)
	flowBudget = 10_000
	// Each rule on both port fields expands to 31 x 31 masked matches,
	// for IPv4 and IPv6.
	var b strings.Builder
	b.WriteString(strings.Replace(fmt.Sprintf(twoHosts, "1-65534"), "      - {action: drop, proto: tcp, dstPorts: 1-65534}\n", "", 1))
	for i := range 6 {
		fmt.Fprintf(&b, "      - {action: drop, proto: tcp, srcPorts: 1-65534, dstPorts: %d-65534}\n", i+1)
	}
	topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": []byte(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = CompileHost(topo, "h1")
	if err == nil || !strings.HasPrefix(err.Error(), `t.yaml:3:5: host "h1": more than 10000 flows`) {
		t.Errorf("got %v", err)
	}
}
