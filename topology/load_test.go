package topology

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology/topotest"
)

// good uses every part of the language. Line numbers matter: the error
// cases below replace a line of it and expect positions in it.
const good = `apiVersion: loom/v1
kind: Topology
defaults:
  encapsulation: geneve
  underlayMTU: 1500
hosts:
  - name: h1
    ovsdb: tcp:198.18.0.11:6640
    tunnelIP: 198.19.0.11
    datapathType: netdev
    physnets: {physnet1: eth1}
    labels: {rack: r1}
  - name: h2
    ovsdb: unix:/run/h2/db.sock
    openflow: tcp:198.18.0.12:6653
    tunnelIP: 198.19.0.12
    bridge: br-loom
    physnets:
      physnet1: eth1
switches:
  - name: blue
    tunnelKey: 100
    subnets: [192.0.2.0/24, "2001:db8::/64"]
    floodUnknown: false
  - name: red
    vlan: 200
    physnet: physnet1
    aclDefault: deny
ports:
  - name: web1
    switch: blue
    host: h1
    mac: "02:00:00:00:01:01"
    ips: [192.0.2.11, "2001:db8::11"]
    interface: lm-web1
    acls: {fromPort: [web], toPort: [web]}
  - name: db1
    switch: blue
    host: h2
    mac: auto
    ips: [192.0.2.12]
    ifaceID: 5f2a-db1
    portSecurity: false
  - name: pc1
    switch: red
    host: h1
    mac: 02:00:00:00:02:01
    interface: lm-pc1
acls:
  - name: web
    rules:
      - name: http
        action: allow
        proto: tcp
        dstPorts: 8000-8080
      - action: allow
        proto: icmp
        icmpType: 8
      - action: drop
        src: 10.0.0.0/8
l2Gateways:
  - name: gw-blue
    switch: blue
    host: h2
    physnet: physnet1
    vlan: 300
externalEndpoints:
  - name: vtep1
    ip: 198.19.0.50
    encapsulation: vxlan
    switch: blue
    behind:
      - mac: 02:00:00:00:09:01
        ips: [192.0.2.91]
`

func loadOne(t *testing.T, src string) (*Topology, error) {
	t.Helper()
	return LoadBytes(map[string][]byte{"t.yaml": []byte(src)})
}

// line replaces line n (1-based) of good.
func line(n int, with string) string {
	lines := strings.Split(good, "\n")
	lines[n-1] = with
	return strings.Join(lines, "\n")
}

// lines replaces several lines of good.
func lines(repl map[int]string) string {
	ls := strings.Split(good, "\n")
	for n, w := range repl {
		ls[n-1] = w
	}
	return strings.Join(ls, "\n")
}

func TestLoadGood(t *testing.T) {
	topo, err := loadOne(t, good)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := topo.Host("h1")
	if h1.OpenFlow != "tcp:198.18.0.11:6653" || h1.Bridge != "br-int" || h1.DatapathType != "netdev" || h1.Physnets["physnet1"] != "eth1" {
		t.Errorf("h1: %+v", h1)
	}
	h2, _ := topo.Host("h2")
	if h2.OpenFlow != "tcp:198.18.0.12:6653" || h2.Bridge != "br-loom" || h2.DatapathType != "system" {
		t.Errorf("h2: %+v", h2)
	}
	blue, _ := topo.Switch("blue")
	if blue.Encapsulation != "geneve" || blue.MTU != 1450 || !blue.ARPResponder || blue.FloodUnknown || blue.ACLDefault != "allow" {
		t.Errorf("blue: %+v", blue)
	}
	red, _ := topo.Switch("red")
	if red.Overlay() || red.MTU != 1500 || red.ACLDefault != "deny" {
		t.Errorf("red: %+v", red)
	}
	var names []string
	for _, p := range topo.Ports {
		names = append(names, p.Name)
		if p.Key < 1 || p.Key > MaxPortKey {
			t.Errorf("port %s key %d out of range", p.Name, p.Key)
		}
	}
	if got := strings.Join(names, ","); got != "db1,pc1,web1" {
		t.Errorf("ports not sorted: %s", got)
	}
	db1 := topo.Ports[0]
	if !db1.MACAuto || db1.MAC.String() != AutoMAC("db1").String() || db1.PortSecurity || db1.IfaceID != "5f2a-db1" {
		t.Errorf("db1: %+v", db1)
	}
	web1 := topo.Ports[2]
	if web1.Pos.Line != 30 || web1.Pos.Col != 5 || len(web1.IPs) != 2 || web1.ACLsFromPort[0] != "web" {
		t.Errorf("web1: %+v", web1)
	}
	acl, _ := topo.ACL("web")
	r := acl.Rules[0]
	if !r.Allow || r.Proto != 6 || r.DstPorts != (PortSpan{8000, 8080}) || r.EthType != 0 {
		t.Errorf("rule http: %+v", r)
	}
	if r := acl.Rules[1]; r.EthType != 0x0800 || r.ICMPType != 8 || r.ICMPCode != -1 {
		t.Errorf("rule 2: %+v", r)
	}
	if e := topo.ExternalEndpoints[0]; e.Key != 100 || e.Behind[0].MAC.String() != "02:00:00:00:09:01" {
		t.Errorf("endpoint: %+v", e)
	}
	if len(topo.Warnings) != 0 {
		t.Errorf("warnings: %v", topo.Warnings)
	}
}

// The same objects split over files, in another order, give the same model.
func TestLoadDeterministic(t *testing.T) {
	a, err := loadOne(t, good)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(good, "switches:")
	split := map[string][]byte{
		"b.yaml": []byte(good[:i]),
		"a.yaml": []byte("apiVersion: loom/v1\n" + good[i:]),
	}
	b, err := LoadBytes(split)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutPos(a), withoutPos(b)) {
		t.Errorf("models differ:\n%+v\n%+v", a, b)
	}
}

// withoutPos returns a copy of the model with positions cleared.
func withoutPos(t *Topology) *Topology {
	c := *t
	c.Hosts = append([]Host(nil), t.Hosts...)
	for i := range c.Hosts {
		c.Hosts[i].Pos = Pos{}
	}
	c.Switches = append([]Switch(nil), t.Switches...)
	for i := range c.Switches {
		c.Switches[i].Pos = Pos{}
	}
	c.Ports = append([]Port(nil), t.Ports...)
	for i := range c.Ports {
		c.Ports[i].Pos = Pos{}
	}
	c.ACLs = nil
	for _, a := range t.ACLs {
		a.Pos = Pos{}
		a.Rules = append([]Rule(nil), a.Rules...)
		for j := range a.Rules {
			a.Rules[j].Pos = Pos{}
		}
		c.ACLs = append(c.ACLs, a)
	}
	c.L2Gateways = append([]L2Gateway(nil), t.L2Gateways...)
	for i := range c.L2Gateways {
		c.L2Gateways[i].Pos = Pos{}
	}
	c.ExternalEndpoints = nil
	for _, e := range t.ExternalEndpoints {
		e.Pos = Pos{}
		e.Behind = append([]Station(nil), e.Behind...)
		for j := range e.Behind {
			e.Behind[j].Pos = Pos{}
		}
		c.ExternalEndpoints = append(c.ExternalEndpoints, e)
	}
	return &c
}

// Each kind of mistake, with every error it must give, in order.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown field, with a hint", line(9, "    tunelIP: 198.19.0.11"), []string{
			`t.yaml:7:5: host "h1": missing field "tunnelIP" (its port "web1" is on overlay switch "blue")`,
			`t.yaml:9:5: unknown host field "tunelIP" (did you mean "tunnelIP"?)`,
		}},
		{"unknown top-level key", line(2, "kinds: Topology"), []string{
			`t.yaml:2:1: unknown topology field "kinds" (did you mean "kind"?)`,
		}},
		{"tab", line(22, "\ttunnelKey: 100"), []string{
			`t.yaml:22:1: tab character: YAML forbids tabs (indent with spaces)`,
		}},
		{"repeated key", line(22, "    tunnelKey: 100\n    tunnelKey: 101"), []string{
			`t.yaml:23:5: switch key "tunnelKey" repeated (first at line 22)`,
		}},
		{"wrong type: string for integer", line(22, "    tunnelKey: blue"), []string{
			`t.yaml:22:16: switch field "tunnelKey": expected an integer, not "blue"`,
		}},
		{"wrong type: number for string", line(7, "  - name: 42"), []string{
			`t.yaml:7:11: host field "name": expected a string, not a number (42) (put it in quotes if you mean the text)`,
			`t.yaml:32:11: port "web1": no host named "h1" (did you mean "h2"?)`,
			`t.yaml:46:11: port "pc1": no host named "h1" (did you mean "h2"?)`,
		}},
		{"wrong type: scalar for list", line(34, "    ips: 192.0.2.11"), []string{
			`t.yaml:34:10: port field "ips": expected a list (or auto), not "192.0.2.11" (write a list: [a, b] or one '- item' per line; or auto)`,
		}},
		{"wrong type: yes for a boolean", line(24, "    floodUnknown: yes"), []string{
			`t.yaml:24:19: switch field "floodUnknown": expected a boolean, not "yes" (write true or false)`,
		}},
		{"empty value", line(8, "    ovsdb:"), []string{
			`t.yaml:8:11: host field "ovsdb" is empty (remove the key or give it a value)`,
		}},
		{"value outside an enum", line(10, "    datapathType: netdevv"), []string{
			`t.yaml:10:19: host field "datapathType": "netdevv" is not allowed (did you mean "netdev"?)`,
		}},
		{"apiVersion", line(1, "apiVersion: loom/v9"), []string{
			`t.yaml:1:13: topology field "apiVersion": "loom/v9" is not allowed (did you mean "loom/v1"?)`,
		}},
		{"syntax", "apiVersion: loom/v1\nhosts: [\n", []string{
			`t.yaml:2:8: the [list] that starts here is not closed (the parser stopped at line 3, column 1: did not find expected node content)`,
		}},
		{"bad name", line(21, "  - name: Blue_1"), []string{
			`t.yaml:21:11: switch "Blue_1": invalid name (use lower-case letters, digits and '-', at most 63)`,
			`t.yaml:31:13: port "web1": no switch named "blue" (did you mean "Blue_1"?)`,
			`t.yaml:38:13: port "db1": no switch named "blue" (did you mean "Blue_1"?)`,
			`t.yaml:63:13: l2 gateway "gw-blue": no switch named "blue" (did you mean "Blue_1"?)`,
			`t.yaml:71:13: external endpoint "vtep1": no switch named "blue" (did you mean "Blue_1"?)`,
		}},
		{"unknown host and switch", lines(map[int]string{31: "    switch: bleu", 32: "    host: h9"}), []string{
			`t.yaml:31:13: port "web1": no switch named "bleu" (did you mean "blue"?)`,
			`t.yaml:32:11: port "web1": no host named "h9" (did you mean "h1"?)`,
		}},
		{"duplicate name", line(37, "  - name: web1"), []string{
			`t.yaml:37:5: port "web1" defined twice (first at t.yaml:30:5)`,
		}},
		{"invalid MAC", line(33, `    mac: "02:00:00:00:01"`), []string{
			`t.yaml:33:10: port "web1": invalid MAC "02:00:00:00:01" (six hex bytes, e.g. 02:00:00:00:00:01, or auto)`,
		}},
		{"multicast MAC", line(33, `    mac: "03:00:00:00:01:01"`), []string{
			`t.yaml:33:10: port "web1": MAC 03:00:00:00:01:01 is a multicast address (the first byte must be even; 02:... is a safe choice)`,
		}},
		{"duplicate MAC on a switch", line(40, `    mac: "02:00:00:00:01:01"`), []string{
			`t.yaml:40:10: MAC 02:00:00:00:01:01 on switch "blue" defined twice (first at t.yaml:33:10)`,
		}},
		{"duplicate IP on a switch", line(41, "    ips: [192.0.2.11]"), []string{
			`t.yaml:41:11: IP 192.0.2.11 on switch "blue" defined twice (first at t.yaml:34:11)`,
		}},
		{"IP outside the subnet", line(41, "    ips: [198.51.100.7]"), []string{
			`t.yaml:41:11: port "db1": IP 198.51.100.7 is outside the subnets of switch "blue" (192.0.2.0/24, 2001:db8::/64)`,
		}},
		{"IP with a prefix length", line(41, "    ips: [192.0.2.12/24]"), []string{
			`t.yaml:41:11: port "db1": invalid IP "192.0.2.12/24" (write the address without a prefix length; the switch's subnets give it)`,
		}},
		{"subnet with host bits", line(23, `    subnets: [192.0.2.1/24]`), []string{
			`t.yaml:23:15: switch "blue": subnet 192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24?)`,
		}},
		{"VLAN out of range", line(26, "    vlan: 4095"), []string{
			`t.yaml:26:11: switch "red": VLAN 4095 out of range (a VLAN id is 1..4094)`,
		}},
		{"VXLAN VNI out of range", lines(map[int]string{22: "    tunnelKey: 16777216"}), []string{
			`t.yaml:22:16: switch "blue": tunnel key 16777216 out of range (a geneve key is 1..16777215)`,
		}},
		{"overlay and VLAN at once", line(22, "    tunnelKey: 100\n    vlan: 5"), []string{
			`t.yaml:23:11: switch "blue": both tunnelKey and vlan/physnet (a switch is an overlay (tunnelKey) or VLAN-backed (vlan and physnet), not both)`,
		}},
		{"VLAN without physnet", line(27, "    mtu: 1500"), []string{
			`t.yaml:25:5: switch "red": vlan given without physnet`,
		}},
		{"two switches, one VNI", line(22, "    tunnelKey: 100\n  - name: green\n    tunnelKey: 100"), []string{
			`t.yaml:24:16: tunnel key 100 defined twice (first at t.yaml:22:16)`,
		}},
		{"one VLAN twice on a physnet", line(66, "    vlan: 200"), []string{
			`t.yaml:66:11: l2 gateway "gw-blue": VLAN 200 on physnet "physnet1" is already used by switch "red" (at t.yaml:26:11)`,
		}},
		{"host without the physnet", line(11, "    physnets: {physnet2: eth1}"), []string{
			`t.yaml:46:11: port "pc1": host "h1" does not reach physnet "physnet1" of VLAN-backed switch "red" (add physnet1: NIC to the physnets of host "h1")`,
		}},
		{"unknown ACL", line(36, "    acls: {fromPort: [webb], toPort: [web]}"), []string{
			`t.yaml:36:23: port "web1": no acl named "webb" (did you mean "web"?)`,
		}},
		{"duplicate tunnel IP", line(16, "    tunnelIP: 198.19.0.11"), []string{
			`t.yaml:16:15: tunnel IP 198.19.0.11 defined twice (first at t.yaml:9:15)`,
		}},
		{"MTU too large for the encapsulation", line(24, "    mtu: 1480"), []string{
			`t.yaml:24:10: switch "blue": MTU 1480 does not fit the underlay (at most 1450: host "h1"'s underlay MTU less geneve's overhead)`,
		}},
		{"both interface and ifaceID", line(35, "    interface: lm-web1\n    ifaceID: x"), []string{
			`t.yaml:36:14: port "web1": both interface and ifaceID (bind the port by interface name or by iface-id, not both)`,
		}},
		{"interface name too long", line(35, "    interface: lm-a-very-long-name"), []string{
			`t.yaml:35:16: port "web1": invalid interface name "lm-a-very-long-name" (letters, digits, '-', '_' and '.', at most 15)`,
		}},
		{"same interface twice on a host", line(48, "    interface: lm-web1"), []string{
			`t.yaml:48:16: interface "lm-web1" on host "h1" defined twice (first at t.yaml:35:16)`,
		}},
		{"bad ovsdb address", line(8, "    ovsdb: 198.18.0.11:6640"), []string{
			`t.yaml:8:12: host "h1": invalid ovsdb address "198.18.0.11:6640" (write tcp:IP:PORT or ssl:IP:PORT or unix:PATH)`,
		}},
		{"ports without an L4 proto", line(58, "        icmpType: 8\n        dstPorts: 80"), []string{
			`t.yaml:59:19: acl "web" rule 2: dstPorts without a TCP, UDP or SCTP proto (add proto: tcp, udp or sctp)`,
		}},
		{"port range reversed", line(55, "        dstPorts: 8080-8000"), []string{
			`t.yaml:55:19: acl "web" rule 1 (http): invalid dstPorts "8080-8000": 8080 > 8000 (a port such as 80 or a range such as 8000-8080, within 0..65535)`,
		}},
		{"icmp with an IPv6 source", line(58, "        icmpType: 8\n        src: \"2001:db8::/64\""), []string{
			`t.yaml:59:14: acl "web" rule 2: src 2001:db8::/64 is IPv6 but the rule matches IPv4`,
		}},
		{"unknown proto", line(54, "        proto: tpc"), []string{
			`t.yaml:54:16: acl "web" rule 1 (http): invalid proto "tpc" (did you mean "tcp"?)`,
		}},
		{"missing rule action", line(52, "      - name: http"), nil}, // placeholder replaced below
		{"gateway on a VLAN-backed switch", line(63, "    switch: red"), []string{
			`t.yaml:63:13: l2 gateway "gw-blue": switch "red" is VLAN-backed, not an overlay`,
		}},
		{"external endpoint on a host's tunnel IP", line(69, "    ip: 198.19.0.12"), []string{
			`t.yaml:69:9: external endpoint "vtep1": 198.19.0.12 is the tunnel IP of host "h2" (an external endpoint is not one of Loom's hosts)`,
		}},
		{"station MAC already a port's", line(73, "      - mac: 02:00:00:00:01:01"), []string{
			`t.yaml:73:9: MAC 02:00:00:00:01:01 on switch "blue" defined twice (first at t.yaml:33:10)`,
		}},
		{"two documents in a file", good + "---\napiVersion: loom/v1\n", []string{
			`t.yaml:75:1: a second YAML document in one file (put each topology in a file of its own, or merge them)`,
		}},
		{"interface is a physnet NIC", line(48, "    interface: eth1"), []string{
			`t.yaml:48:16: port "pc1": interface "eth1" is the NIC of physnet "physnet1" on host "h1"`,
		}},
		{"two endpoints on one VTEP with one key", good + "  - name: vtep2\n    ip: 198.19.0.50\n    encapsulation: vxlan\n    switch: blue\n    behind: [{mac: \"02:00:00:00:09:02\"}]\n", []string{
			`t.yaml:75:5: tunnel key 100 of vxlan endpoint 198.19.0.50 (external endpoint "vtep2") defined twice (first at t.yaml:68:5)`,
		}},
		{"tunnel IP families mixed on a switch", line(16, `    tunnelIP: "2001:db8::12"`), []string{
			`t.yaml:21:5: switch "blue": host "h2" has tunnel IP 2001:db8::12 but host "h1" has 198.19.0.11 (tunnels need one IP family on both ends)`,
		}},
		{"MTU of a switch without hosts", line(28, "    aclDefault: deny\n  - name: empty\n    tunnelKey: 7\n    mtu: 1500"), []string{
			`t.yaml:31:10: switch "empty": MTU 1500 does not fit the underlay (at most 1450: defaults.underlayMTU less geneve's overhead)`,
		}},
		{"two gateways on one switch", line(66, "    vlan: 300\n  - {name: gw-two, switch: blue, host: h1, physnet: physnet1, vlan: 301}"), []string{
			`t.yaml:67:28: l2 gateway "gw-two": switch "blue" already has l2 gateway "gw-blue" (a second gateway would bridge the switch to its VLAN twice, a loop)`,
		}},
		{"missing required field", line(33, "    interface2: x"), []string{
			`t.yaml:30:5: port "web1": missing field "mac"`,
			`t.yaml:33:5: unknown port field "interface2" (did you mean "interface"?)`,
		}},
	}
	for i := range cases {
		if cases[i].name == "missing rule action" {
			// Drop the action line of rule 1: the rule then lacks it.
			cases[i].src = strings.Replace(good, "        action: allow\n        proto: tcp", "        proto: tcp", 1)
			cases[i].want = []string{`t.yaml:52:9: rule "http": missing field "action"`}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadOne(t, c.src)
			if err == nil {
				t.Fatal("no error")
			}
			if got, want := err.Error(), strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if len(cases) < 25 {
		t.Errorf("only %d kinds of mistake are tested", len(cases))
	}
}

func TestShadowedRuleWarns(t *testing.T) {
	src := strings.Replace(good, "      - action: drop\n        src: 10.0.0.0/8",
		"      - action: drop\n        src: 10.0.0.0/8\n      - name: late\n        action: allow\n        proto: tcp\n        dstPorts: 8001", 1)
	topo, err := loadOne(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := `t.yaml:61:9: acl "web": rule 4 (late) can never match: rule 1 (http) (at line 52) matches every packet it does (remove it, or move it above the rule that covers it)`
	if got := topo.Warnings.Error(); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

func TestIncludes(t *testing.T) {
	i := strings.Index(good, "switches:")
	files := map[string][]byte{
		"main.yaml":       []byte("apiVersion: loom/v1\ninclude: [net/]\n" + strings.TrimPrefix(good[:i], "apiVersion: loom/v1\n")),
		"net/sw.yaml":     []byte("apiVersion: loom/v1\ninclude: [../main.yaml]\n" + good[i:]),
		"net/notes.txt":   []byte("not yaml, not loaded"),
		"other/skip.yaml": []byte("apiVersion: loom/v9"),
	}
	topo, err := load2(files, "main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Ports) != 3 || len(topo.Hosts) != 2 {
		t.Errorf("merged: %d hosts, %d ports", len(topo.Hosts), len(topo.Ports))
	}
	files["main.yaml"] = []byte("apiVersion: loom/v1\ninclude: [nowhere.yaml]\n")
	_, err = load2(files, "main.yaml")
	if err == nil || err.Error() != `main.yaml:2:11: include "nowhere.yaml": file does not exist` {
		t.Errorf("missing include: %v", err)
	}
}

func load2(files map[string][]byte, roots ...string) (*Topology, error) {
	return load(newMapSource(files), roots)
}

func TestDefaultsOnce(t *testing.T) {
	_, err := LoadBytes(map[string][]byte{
		"a.yaml": []byte("apiVersion: loom/v1\ndefaults: {underlayMTU: 9000}\n"),
		"b.yaml": []byte("apiVersion: loom/v1\ndefaults:\n  encapsulation: vxlan\n"),
	})
	if err == nil || err.Error() != "b.yaml:3:3: defaults set twice (first at a.yaml:2:11) (keep the defaults in one file)" {
		t.Errorf("got %v", err)
	}
}

func TestAutoMACStable(t *testing.T) {
	a, b := AutoMAC("web1"), AutoMAC("web1")
	if a.String() != b.String() || a[0] != 0x02 || AutoMAC("web2").String() == a.String() {
		t.Errorf("auto MACs: %s %s %s", a, b, AutoMAC("web2"))
	}
}

func BenchmarkLoad1000Hosts(b *testing.B) {
	src := topotest.Generate(1000, 100, 20)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := LoadBytes(map[string][]byte{"big.yaml": src}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "net")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	main := "apiVersion: loom/v1\ninclude: [net]\nhosts:\n  - name: h1\n    ovsdb: tcp:127.0.0.1:6640\n"
	sw := "apiVersion: loom/v1\nswitches:\n  - name: blue\n    tunnelKey: 7\n"
	if err := os.WriteFile(filepath.Join(dir, "main.yaml"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "sw.yaml"), []byte(sw), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadFiles(filepath.Join(dir, "main.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || string(files["main.yaml"]) != main || string(files["net/sw.yaml"]) != sw {
		t.Fatalf("ReadFiles = %v", files)
	}
	topo, err := LoadBytes(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Hosts) != 1 || len(topo.Switches) != 1 {
		t.Fatalf("LoadBytes of ReadFiles: %+v", topo)
	}
	if _, err := ReadFiles(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("ReadFiles of a missing file: %v", err)
	}
	// An invalid topology is read all the same: judging it is Load's job.
	if err := os.WriteFile(filepath.Join(sub, "sw.yaml"), []byte("apiVersion: loom/v1\nswitches: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFiles(dir); err != nil {
		t.Fatalf("ReadFiles of an invalid topology: %v", err)
	}
}
