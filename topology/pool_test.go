package topology

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

const poolBase = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12}
switches:
  - name: blue
    tunnelKey: 1
    subnets: [10.0.0.0/24, 2001:db8::/64]
    gateways: [2001:db8::1, 10.0.0.1]
    excludeIPs: [10.0.0.2-10.0.0.9, 10.0.0.128/28, 10.0.0.77, "2001:db8::100-2001:db8::1ff"]
  - {name: red, tunnelKey: 2}
ports:
  - {name: web1, switch: blue, host: h1, mac: auto, ips: [10.0.0.3], interface: w1}
  - {name: web2, switch: blue, host: h2, mac: auto, ips: auto, interface: w2}
  - {name: web3, switch: blue, host: h2, mac: auto, ips: [auto], interface: w3}
`

func TestPoolFields(t *testing.T) {
	topo, err := LoadBytes(map[string][]byte{"t.yaml": []byte(poolBase)})
	if err != nil {
		t.Fatal(err)
	}
	sw, _ := topo.Switch("blue")
	if got := addrList(sw.Gateways); got != "10.0.0.1,2001:db8::1" {
		t.Errorf("gateways %s, want IPv4 first", got)
	}
	var ex []string
	for _, r := range sw.Exclude {
		ex = append(ex, r.String())
	}
	if got := strings.Join(ex, " "); got != "10.0.0.2-10.0.0.9 10.0.0.128-10.0.0.143 10.0.0.77 2001:db8::100-2001:db8::1ff" {
		t.Errorf("excluded %s", got)
	}
	// A static address in an excluded range is the operator's to use.
	p1, _ := topo.Port("web1")
	p2, _ := topo.Port("web2")
	p3, _ := topo.Port("web3")
	if p1.IPsAuto || !p2.IPsAuto || !p3.IPsAuto || len(p2.IPs) != 0 {
		t.Errorf("ips: auto read as %v %v %v", p1.IPsAuto, p2.IPsAuto, p3.IPsAuto)
	}
}

func addrList(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func TestPoolFieldErrors(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"gateway outside", "gateways: [2001:db8::1, 10.0.0.1]", "gateways: [10.9.0.1]",
			`t.yaml:9:16: switch "blue": gateway 10.9.0.1 is outside the switch's subnets (10.0.0.0/24, 2001:db8::/64)`},
		{"two gateways", "gateways: [2001:db8::1, 10.0.0.1]", "gateways: [10.0.0.1, 10.0.0.254]",
			`t.yaml:9:26: switch "blue": subnet 10.0.0.0/24 has two gateways, 10.0.0.1 and 10.0.0.254`},
		{"broadcast gateway", "gateways: [2001:db8::1, 10.0.0.1]", "gateways: [10.0.0.255]",
			`t.yaml:9:16: switch "blue": gateway 10.0.0.255 is the network or broadcast address of 10.0.0.0/24`},
		{"bad gateway", "gateways: [2001:db8::1, 10.0.0.1]", "gateways: [gw]",
			`t.yaml:9:16: switch "blue": invalid gateway "gw" (an address such as 192.0.2.1 or 2001:db8::1)`},
		{"range backwards", "10.0.0.2-10.0.0.9", "10.0.0.9-10.0.0.2",
			`t.yaml:10:18: switch "blue": invalid excludeIPs entry "10.0.0.9-10.0.0.2": 10.0.0.9 comes after 10.0.0.2 (an address (192.0.2.7), a range (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28))`},
		{"range across families", "10.0.0.2-10.0.0.9", "10.0.0.2-2001:db8::9",
			`t.yaml:10:18: switch "blue": invalid excludeIPs entry "10.0.0.2-2001:db8::9": 10.0.0.2 and 2001:db8::9 are of two families (an address (192.0.2.7), a range (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28))`},
		{"range outside", "10.0.0.77,", "10.0.0.250-10.0.1.3,",
			`t.yaml:10:52: switch "blue": excluded 10.0.0.250-10.0.1.3 is not inside one of the switch's subnets (10.0.0.0/24, 2001:db8::/64)`},
		{"auto without subnets", "{name: web2, switch: blue", "{name: web2, switch: red",
			`t.yaml:14:57: port "web2": ips: auto, but switch "red" has no subnets (give the switch subnets to hand addresses out of, or write the port's addresses)`},
		{"auto in a list", "ips: [auto], interface: w3", "ips: [auto, 10.0.0.4], interface: w3",
			`t.yaml:15:59: port "web3": invalid IP "auto" (write ips: auto alone, not in a list of addresses)`},
		{"scalar not auto", "ips: auto, interface: w2", "ips: dhcp, interface: w2",
			`t.yaml:14:58: port field "ips": expected a list (or auto), not "dhcp" (write a list: [a, b] or one '- item' per line; or auto)`},
		{"pool without subnets", "  - {name: red, tunnelKey: 2}", "  - {name: red, tunnelKey: 2, gateways: [10.0.0.1]}",
			`t.yaml:11:5: switch "red": gateways or excludeIPs without subnets (add subnets: the gateways and excluded addresses lie in them)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(poolBase, c.from, c.to, 1)
			if src == poolBase {
				t.Fatalf("case does not change the base")
			}
			_, err := LoadBytes(map[string][]byte{"t.yaml": []byte(src)})
			if got := strings.TrimSpace(strings.SplitN(err.Error()+"\n", "\n", 2)[0]); err == nil || got != c.want {
				t.Errorf("got:\n%v\nwant:\n%s", err, c.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	topo, err := LoadBytes(map[string][]byte{"t.yaml": []byte(poolBase)})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	auto := map[string][]netip.Addr{"web2": {ip("10.0.0.10"), ip("2001:db8::2")}, "web3": {ip("10.0.0.11"), ip("2001:db8::3")}}
	rt := func(name, host, iface, mac string, ips ...string) Port {
		p := Port{Name: name, Switch: "blue", Host: host, Interface: iface, Runtime: &RuntimeOrigin{Runtime: "cni", ContainerID: name, IfName: "eth0"}}
		p.MAC, _ = net.ParseMAC(mac)
		for _, s := range ips {
			p.IPs = append(p.IPs, ip(s))
		}
		return p
	}
	m, err := Resolve(topo, auto, []Port{rt("a-rt", "h1", "va", "02:00:00:00:00:0a", "10.0.0.20")})
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Ports) != 3 || len(m.Ports) != 4 || m.Ports[0].Name != "a-rt" {
		t.Fatalf("resolved ports %d (files' %d), first %s", len(m.Ports), len(topo.Ports), m.Ports[0].Name)
	}
	if p, _ := m.Port("web2"); addrList(p.IPs) != "10.0.0.10,2001:db8::2" {
		t.Errorf("web2 %v", p.IPs)
	}
	if p, _ := topo.Port("web2"); len(p.IPs) != 0 {
		t.Error("Resolve changed the topology it was given")
	}
	keys := map[uint32]string{}
	for _, p := range m.Ports {
		if o, dup := keys[p.Key]; dup || p.Key == 0 {
			t.Fatalf("port key %d of %s (and %s)", p.Key, p.Name, o)
		}
		keys[p.Key] = p.Name
	}
	for _, c := range []struct {
		name string
		auto map[string][]netip.Addr
		rt   []Port
		want []string
	}{
		{"auto missing", map[string][]netip.Addr{"web2": auto["web2"]}, nil, []string{`port "web3": ips: auto: no addresses given to it yet`}},
		{"ip of a file port", auto, []Port{rt("x", "h1", "vx", "02:00:00:00:00:0b", "10.0.0.3")},
			[]string{`IP 10.0.0.3 on switch "blue" is taken by both port "web1"`, `runtime port "x" (cni x eth0)`}},
		{"ip of an auto port", auto, []Port{rt("x", "h1", "vx", "02:00:00:00:00:0b", "10.0.0.10")}, []string{`port "web2"`, `runtime port "x"`}},
		{"interface on host", auto, []Port{rt("x", "h1", "w1", "02:00:00:00:00:0b")}, []string{`interface "w1" on host "h1" is taken by both port "web1"`}},
		{"mac", auto, []Port{rt("x", "h1", "vx", "02:00:00:00:00:0b"), rt("y", "h2", "vy", "02:00:00:00:00:0b")}, []string{`MAC 02:00:00:00:00:0b on switch "blue" is taken by both runtime port "x"`}},
		{"name", auto, []Port{rt("web1", "h1", "vx", "02:00:00:00:00:0b")}, []string{`runtime port "web1" (cni web1 eth0): the name is taken by port "web1" (t.yaml:13:5)`}},
		{"outside", auto, []Port{rt("x", "h1", "vx", "02:00:00:00:00:0b", "192.0.2.1")}, []string{`IP 192.0.2.1 is outside the subnets of switch "blue"`}},
		{"no host", auto, []Port{{Name: "x", Switch: "blue", Host: "h9", Interface: "vx", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Runtime: &RuntimeOrigin{}}}, []string{`no host named "h9"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Resolve(topo, c.auto, c.rt)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestParseIPRange(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.7": "10.0.0.7", "10.0.0.0/30": "10.0.0.0-10.0.0.3", "10.0.0.5/30": "10.0.0.4-10.0.0.7",
		"2001:db8::/126": "2001:db8::-2001:db8::3", "10.0.0.1 - 10.0.0.2": "10.0.0.1-10.0.0.2", "::ffff:10.0.0.1": "10.0.0.1"} {
		r, err := ParseIPRange(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %v, want %s", in, r, err, want)
		}
	}
	for _, bad := range []string{"", "x", "10.0.0.1-", "10.0.0.0/33", "fe80::1%eth0"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
