package topology

import (
	"fmt"
	"strings"
)

// generated topologies for the limits.
func manyPorts(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts: [{name: h1, ovsdb: \"tcp:198.18.0.11:6640\", tunnelIP: 198.19.0.11}]\nswitches: [{name: s, tunnelKey: 1}]\nports:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: p%d, switch: s, host: h1, mac: auto, interface: p%d}\n", i, i)
	}
	return b.String()
}

func manyPhysnets(n int) string {
	var pn []string
	for i := range n {
		pn = append(pn, fmt.Sprintf("p%d: e%d", i, i))
	}
	return "apiVersion: loom/v1\nhosts:\n  - name: h1\n    ovsdb: tcp:198.18.0.11:6640\n    physnets: {" + strings.Join(pn, ", ") + "}\n"
}

func manyRules(acls ...int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts: [{name: h1, ovsdb: \"tcp:198.18.0.11:6640\", tunnelIP: 198.19.0.11}]\nswitches: [{name: s, tunnelKey: 1}]\n")
	var names []string
	b.WriteString("acls:\n")
	for i, n := range acls {
		names = append(names, fmt.Sprintf("a%d", i))
		fmt.Fprintf(&b, "  - name: a%d\n    rules:\n", i)
		for j := range n {
			fmt.Fprintf(&b, "      - {action: drop, proto: tcp, dstPorts: %d}\n", j%65535+1)
		}
	}
	b.WriteString("ports:\n  - name: p\n    switch: s\n    host: h1\n    mac: auto\n    interface: p\n    acls:\n      toPort:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "        - %s\n", n)
	}
	return b.String()
}

func manyHosts(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: h%d, ovsdb: \"tcp:198.18.%d.%d:6640\"}\n", i, i/250, i%250+1)
	}
	return b.String()
}

func manyErrors(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: h%d, ovsdb: nowhere}\n", i)
	}
	return b.String()
}

// aliasBomb nests aliases through externalEndpoints, behind and ips, as
// the reproducer of issue 12 did: without a budget it expands to
// width^3 addresses.
func aliasBomb(width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nswitches: [{name: s, tunnelKey: 1}]\nx-ips: &ips [")
	for i := range width {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "10.0.%d.%d", i/250, i%250+1)
	}
	b.WriteString("]\n")
	b.WriteString("externalEndpoints:\n  - &ep\n    name: e\n    ip: 192.0.2.1\n    encapsulation: gre\n    switch: s\n    behind:\n")
	b.WriteString("      - &st {mac: \"02:00:00:00:00:01\", ips: *ips}\n")
	for range width {
		b.WriteString("      - *st\n")
	}
	for range width {
		b.WriteString("  - *ep\n")
	}
	return b.String()
}

// labelBomb gives host h0 n labels under an anchor and hosts h1.. the
// same labels through an alias: each alias costs the whole mapping.
func labelBomb(n, hosts int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n  - name: h0\n    ovsdb: tcp:198.18.0.10:6640\n    labels: &l {")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: v", i)
	}
	b.WriteString("}\n")
	for i := 1; i < hosts; i++ {
		fmt.Fprintf(&b, "  - {name: h%d, ovsdb: \"tcp:198.18.0.%d:6640\", labels: *l}\n", i, 10+i)
	}
	return b.String()
}

func badInputs() []badInput {
	return []badInput{
		// Syntax: the YAML parser's and scanner's errors, at the real place.
		{name: "unclosed flow list", src: "apiVersion: loom/v1\nkind: Topology\nhosts: [h1, h2\nswitches: []\n", want: []string{
			`t.yaml:3:8: the [list] that starts here is not closed (the parser stopped at line 4, column 9: did not find expected ',' or ']')`,
		}},
		{name: "unclosed flow mapping", src: at1(34, "    ips: {a: 192.0.2.12"), want: []string{
			`t.yaml:34:10: the {mapping} that starts here is not closed (the parser stopped at line 36, column 5: mapping values are not allowed in this context)`,
		}},
		{name: "unclosed double quote", src: at1(23, `    mac: "02:00:00:00:01:01`), want: []string{
			`t.yaml:23:10: the quoted string that starts here runs on to line 33 (the parser stopped at line 33, column 11: did not find expected key) (is its closing quote missing?)`,
		}},
		{name: "unclosed single quote", src: at1(23, `    mac: '02:00:00:00:01:01`), want: []string{
			`t.yaml:23:10: the quoted string that starts here is not closed (the parser stopped at line 42, column 1: found unexpected end of stream)`,
		}},
		{name: "unknown escape", src: at1(23, `    mac: "02:00\q:00:00:01:01"`), want: []string{
			`t.yaml:23:16: found unknown escape character`,
		}},
		{name: "mapping value in a value", src: at1(21, "    switch: blue: green"), want: []string{
			`t.yaml:21:17: mapping values are not allowed in this context`,
		}},
		{name: "key indented too far", src: at1(22, "      host: h1"), want: []string{
			`t.yaml:22:11: mapping values are not allowed in this context`,
		}},
		{name: "list entry out of place", src: at1(22, "    host: h1\n   - x"), want: []string{
			`t.yaml:23:4: did not find expected '-' indicator`,
		}},
		{name: "character that starts no token", src: at1(22, "    host: @h1"), want: []string{
			`t.yaml:22:11: found character that cannot start any token`,
		}},
		{name: "one bracket too many", src: at1(34, "    ips: [192.0.2.12]]"), want: []string{
			`t.yaml:34:22: did not find expected key`,
		}},
		{name: "list opened at the end", src: "apiVersion: loom/v1\nhosts: [\n", want: []string{
			`t.yaml:2:8: the [list] that starts here is not closed (the parser stopped at line 3, column 1: did not find expected node content)`,
		}},
		{name: "tab", src: at1(13, "\ttunnelKey: 100"), want: []string{
			`t.yaml:13:1: tab character: YAML forbids tabs (indent with spaces)`,
		}},
		{name: "two tabs", src: at(map[int]string{13: "\ttunnelKey: 100", 21: "    switch:\tblue"}), want: []string{
			`t.yaml:13:1: tab character: YAML forbids tabs (indent with spaces)`,
			`t.yaml:21:12: tab character: YAML forbids tabs (indent with spaces)`,
		}},
		{name: "invalid UTF-8", src: at1(20, "  - name: w\xffeb1"), want: []string{
			`t.yaml:20:12: invalid UTF-8 (save the file as UTF-8)`,
		}},
		{name: "invalid UTF-8 after a multibyte character", src: at1(20, "  - name: wé\xc3"), want: []string{
			`t.yaml:20:13: invalid UTF-8 (save the file as UTF-8)`,
		}},
		{name: "control character", src: at1(21, "    switch: bl\x00ue"), want: []string{
			`t.yaml:21:15: character U+0000 is not allowed in YAML`,
		}},
		{name: "Windows line ends", src: strings.ReplaceAll(at1(17, "    vlan: 4095"), "\n", "\r\n"), want: []string{
			`t.yaml:17:11: switch "red": VLAN 4095 out of range (a VLAN id is 1..4094)`,
		}},
		{name: "old Mac line ends", src: strings.ReplaceAll(at1(17, "    vlan: 4095"), "\n", "\r"), want: []string{
			`t.yaml:17:11: switch "red": VLAN 4095 out of range (a VLAN id is 1..4094)`,
		}},
		{name: "line separator", src: at1(21, "    switch: blue\u2028"), want: []string{
			`t.yaml:21:17: character U+2028 is not allowed: YAML's parser takes it for a line break, editors do not (end lines with a line feed)`,
		}},
		{name: "second document", src: base + "---\napiVersion: loom/v1\n", want: []string{
			`t.yaml:42:1: a second YAML document in one file (put each topology in a file of its own, or merge them)`,
		}},
		{name: "empty file", src: "", want: []string{
			`t.yaml:1:1: empty file: expected apiVersion: loom/v1`,
		}},
		{name: "only a comment", src: "# nothing here\n", want: []string{
			`t.yaml:1:1: empty file: expected apiVersion: loom/v1`,
		}},
		{name: "unknown anchor", src: at1(34, "    ips: *addrs"), want: []string{
			`t.yaml:34:10: unknown anchor 'addrs' referenced`,
		}},
		{name: "alias inside its own value", src: "apiVersion: loom/v1\nhosts: &x [*x]\n", want: []string{
			`t.yaml:2:12: topology field "hosts": alias *x is inside the value it names`,
		}},
		{name: "aliases expanding too much", src: labelBomb(3000, 6), want: []string{
			`t.yaml:8:55: host field "labels": alias *l: the file's aliases expand to too many values (at most 10000 more than the file has) (write the values out, or reuse smaller ones)`,
			`t.yaml:9:55: host field "labels": alias *l: the file's aliases expand to too many values (at most 10000 more than the file has) (write the values out, or reuse smaller ones)`,
			`t.yaml:10:55: host field "labels": alias *l: the file's aliases expand to too many values (at most 10000 more than the file has) (write the values out, or reuse smaller ones)`,
		}},

		// Unknown fields.
		{name: "unknown top-level field", src: at1(1, "apiVersion: loom/v1\nkinds: Topology"), want: []string{
			`t.yaml:2:1: unknown topology field "kinds" (did you mean "kind"?)`,
		}},
		{name: "unknown host field", src: at1(5, "    tunelIP: 198.19.0.11"), want: []string{
			`t.yaml:3:5: host "h1": missing field "tunnelIP" (its port "web1" is on overlay switch "blue")`,
			`t.yaml:5:5: unknown host field "tunelIP" (did you mean "tunnelIP"?)`,
		}},
		{name: "unknown rule field", src: at1(41, "        dstPort: 80"), want: []string{
			`t.yaml:41:9: unknown rule field "dstPort" (did you mean "dstPorts"?)`,
		}},
		{name: "unknown station field", src: base + "externalEndpoints:\n  - name: e\n    ip: 192.0.2.1\n    encapsulation: gre\n    switch: blue\n    behind:\n      - mac: 02:00:00:00:09:01\n        ip: 192.0.2.91\n", want: []string{
			`t.yaml:49:9: unknown station field "ip" (did you mean "ips"?)`,
		}},
		{name: "merge key", src: at1(20, "  - <<: {switch: blue}\n    name: web1"), want: []string{
			`t.yaml:20:5: unknown port field "<<" (known fields: acls, host, ifaceID, interface, ips, mac, name, portSecurity, switch)`,
		}},

		// Wrong types.
		{name: "string for an integer", src: at1(13, "    tunnelKey: blue"), want: []string{
			`t.yaml:13:16: switch field "tunnelKey": expected an integer, not "blue"`,
		}},
		{name: "number for a string", src: at1(26, "    interface: 42"), want: []string{
			`t.yaml:26:16: port field "interface": expected a string, not a number (42) (put it in quotes if you mean the text)`,
		}},
		{name: "scalar for a list", src: at1(34, "    ips: 192.0.2.12"), want: []string{
			`t.yaml:34:10: port field "ips": expected a list (or auto), not "192.0.2.12" (write a list: [a, b] or one '- item' per line; or auto)`,
		}},
		{name: "list for a mapping", src: at1(7, "      - physnet1"), want: []string{
			`t.yaml:7:7: host field "physnets": expected a mapping of keys to values, not a list`,
		}},
		{name: "mapping for a string", src: at1(23, "    mac: {a: b}"), want: []string{
			`t.yaml:23:10: port field "mac": expected a string, not a mapping`,
		}},
		{name: "yes for a boolean", src: at1(26, "    interface: lm-web1\n    portSecurity: yes"), want: []string{
			`t.yaml:27:19: port field "portSecurity": expected a boolean, not "yes" (write true or false)`,
		}},
		{name: "empty value", src: at1(21, "    switch:"), want: []string{
			`t.yaml:21:12: port field "switch" is empty (remove the key or give it a value)`,
		}},
		{name: "hosts as a mapping", src: "apiVersion: loom/v1\nhosts:\n  h1: {ovsdb: tcp:198.18.0.11:6640}\n", want: []string{
			`t.yaml:3:3: topology field "hosts": expected a list, not a mapping (write a list: [a, b] or one '- item' per line)`,
		}},
		{name: "integer too large", src: at1(13, "    tunnelKey: 99999999999999999999"), want: []string{
			`t.yaml:13:16: switch field "tunnelKey": integer 99999999999999999999 out of range`,
		}},
		{name: "int tag on a word", src: at1(13, "    tunnelKey: !!int blue"), want: []string{
			`t.yaml:13:16: switch field "tunnelKey": expected an integer, not "blue"`,
		}},
		{name: "key that is a list", src: at1(21, "    [switch]: blue"), want: []string{
			`t.yaml:20:5: port "web1": missing field "switch"`,
			`t.yaml:21:5: port keys must be plain words, not a list`,
		}},

		// Bad values.
		{name: "bad name", src: at1(20, "  - name: Web_1"), want: []string{
			`t.yaml:20:11: port "Web_1": invalid name (use lower-case letters, digits and '-', at most 63)`,
		}},
		{name: "bad MAC", src: at1(23, `    mac: "02:00:00:00:01"`), want: []string{
			`t.yaml:23:10: port "web1": invalid MAC "02:00:00:00:01" (six hex bytes, e.g. 02:00:00:00:00:01, or auto)`,
		}},
		{name: "multicast MAC", src: at1(23, `    mac: "01:00:00:00:01:01"`), want: []string{
			`t.yaml:23:10: port "web1": MAC 01:00:00:00:01:01 is a multicast address (the first byte must be even; 02:... is a safe choice)`,
		}},
		{name: "all-zero MAC", src: at1(23, `    mac: "00:00:00:00:00:00"`), want: []string{
			`t.yaml:23:10: port "web1": MAC is all zeros`,
		}},
		{name: "bad IP, third entry of a block list", src: at1(25, "      - 192.0.2.11\n      - 192.0.2.13\n      - 192.0.2.300"), want: []string{
			`t.yaml:27:9: port "web1": invalid IP "192.0.2.300" (an address such as 192.0.2.10 or 2001:db8::10)`,
		}},
		{name: "two bad IPs of a block list, each at its line", src: at1(25, "      - 192.0.2.11\n      - nope\n      - 198.51.100.1"), want: []string{
			`t.yaml:26:9: port "web1": invalid IP "nope" (an address such as 192.0.2.10 or 2001:db8::10)`,
			`t.yaml:27:9: port "web1": IP 198.51.100.1 is outside the subnets of switch "blue" (192.0.2.0/24)`,
		}},
		{name: "IP with a prefix length", src: at1(25, "      - 192.0.2.11/24"), want: []string{
			`t.yaml:25:9: port "web1": invalid IP "192.0.2.11/24" (write the address without a prefix length; the switch's subnets give it)`,
		}},
		{name: "IP listed twice in one port", src: at1(25, "      - 192.0.2.11\n      - 192.0.2.11"), want: []string{
			`t.yaml:26:9: port "web1": IP 192.0.2.11 listed twice`,
		}},
		{name: "subnet with host bits, second entry", src: at1(15, "      - 192.0.2.0/24\n      - 2001:db8::1/64"), want: []string{
			`t.yaml:16:9: switch "blue": subnet 2001:db8::1/64 has host bits set (did you mean 2001:db8::/64?)`,
		}},
		{name: "two IPv4 subnets", src: at1(15, "      - 192.0.2.0/24\n      - 198.51.100.0/24"), want: []string{
			`t.yaml:16:9: switch "blue": more than one IPv4 subnet`,
		}},
		{name: "VLAN out of range", src: at1(17, "    vlan: 4095"), want: []string{
			`t.yaml:17:11: switch "red": VLAN 4095 out of range (a VLAN id is 1..4094)`,
		}},
		{name: "tunnel key out of range", src: at1(13, "    tunnelKey: 0"), want: []string{
			`t.yaml:13:16: switch "blue": tunnel key 0 out of range (a gre key is 1..4294967295)`,
		}},
		{name: "MTU out of range", src: at1(13, "    tunnelKey: 100\n    mtu: 10000"), want: []string{
			`t.yaml:14:10: switch "blue": MTU 10000 outside 68..9216`,
		}},
		{name: "bad ovsdb address", src: at1(4, "    ovsdb: 198.18.0.11:6640"), want: []string{
			`t.yaml:4:12: host "h1": invalid ovsdb address "198.18.0.11:6640" (write tcp:IP:PORT or ssl:IP:PORT or unix:PATH)`,
		}},
		{name: "bad openflow address", src: at1(4, "    ovsdb: tcp:198.18.0.11:6640\n    openflow: tcp:198.18.0.11"), want: []string{
			`t.yaml:5:15: host "h1": invalid openflow address "tcp:198.18.0.11" (write tcp:IP:PORT, e.g. tcp:192.0.2.10:6640 or tcp:[2001:db8::10]:6640)`,
		}},
		{name: "loopback tunnel IP", src: at1(5, "    tunnelIP: 127.0.0.1"), want: []string{
			`t.yaml:5:15: host "h1": tunnel IP 127.0.0.1 is not a unicast address`,
		}},
		{name: "bad physnet name, at its key", src: at1(7, "      physnet1: eth1\n      Phys_2: eth2"), want: []string{
			`t.yaml:8:7: host "h1": invalid physnet name "Phys_2" (use lower-case letters, digits and '-')`,
		}},
		{name: "two physnets on one NIC, at the second key", src: at1(7, "      physnet1: eth1\n      physnet2: eth1"), want: []string{
			`t.yaml:8:7: host "h1": physnets "physnet1" and "physnet2" both on NIC "eth1" (a NIC carries one physnet; VLANs separate traffic within it)`,
		}},
		{name: "bad label key", src: at1(5, "    tunnelIP: 198.19.0.11\n    labels:\n      rack: r1\n      -bad: x"), want: []string{
			`t.yaml:8:7: host "h1": invalid label key "-bad" (letters, digits, '.', '_', '/' and '-', at most 63)`,
		}},
		{name: "port range reversed", src: at1(41, "        dstPorts: 90-80"), want: []string{
			`t.yaml:41:19: acl "web" rule 1: invalid dstPorts "90-80": 90 > 80 (a port such as 80 or a range such as 8000-8080, within 0..65535)`,
		}},
		{name: "port 0 alone", src: at1(41, "        dstPorts: 0"), want: []string{
			`t.yaml:41:19: acl "web" rule 1: invalid dstPorts "0": port 0 alone cannot be matched; leave the field out to match any port (a port such as 80 or a range such as 8000-8080, within 0..65535)`,
		}},
		{name: "unknown proto", src: at1(40, "        proto: tpc"), want: []string{
			`t.yaml:40:16: acl "web" rule 1: invalid proto "tpc" (did you mean "tcp"?)`,
		}},
		{name: "ethType below 0x600", src: at1(40, "        ethType: 0x100"), want: []string{
			`t.yaml:40:18: acl "web" rule 1: invalid ethType "0x100" (ipv4, ipv6, arp or a number such as 0x88cc)`,
			`t.yaml:41:19: acl "web" rule 1: dstPorts without a TCP, UDP or SCTP proto (add proto: tcp, udp or sctp)`,
		}},
		{name: "icmpType out of range", src: at1(40, "        proto: icmp\n        icmpType: 300"), want: []string{
			`t.yaml:41:19: acl "web" rule 1: icmpType 300 outside 0..255`,
			`t.yaml:42:19: acl "web" rule 1: dstPorts without a TCP, UDP or SCTP proto (add proto: tcp, udp or sctp)`,
		}},
		{name: "icmpCode without icmpType", src: at1(40, "        proto: icmp\n        icmpCode: 1"), want: []string{
			`t.yaml:41:19: acl "web" rule 1: icmpCode without icmpType`,
			`t.yaml:42:19: acl "web" rule 1: dstPorts without a TCP, UDP or SCTP proto (add proto: tcp, udp or sctp)`,
		}},
		{name: "dstPorts without an L4 proto", src: at1(40, "        proto: icmp"), want: []string{
			`t.yaml:41:19: acl "web" rule 1: dstPorts without a TCP, UDP or SCTP proto (add proto: tcp, udp or sctp)`,
		}},
		{name: "wrong apiVersion", src: at1(1, "apiVersion: loom/v2"), want: []string{
			`t.yaml:1:13: topology field "apiVersion": "loom/v2" is not allowed (did you mean "loom/v1"?)`,
		}},
		{name: "wrong kind", src: at1(1, "apiVersion: loom/v1\nkind: Network"), want: []string{
			`t.yaml:2:7: topology field "kind": "Network" is not allowed (one of: Topology)`,
		}},

		// References.
		{name: "unknown switch", src: at1(21, "    switch: bleu"), want: []string{
			`t.yaml:21:13: port "web1": no switch named "bleu" (did you mean "blue"?)`,
		}},
		{name: "unknown host", src: at1(32, "    host: h3"), want: []string{
			`t.yaml:32:11: port "db1": no host named "h3" (did you mean "h1"?)`,
		}},
		{name: "unknown ACL, second entry of a block list", src: at1(29, "        - web\n        - wbe"), want: []string{
			`t.yaml:30:11: port "web1": no acl named "wbe" (did you mean "web"?)`,
		}},
		{name: "VLAN switch on a host without its physnet", src: at1(31, "    switch: red"), want: []string{
			`t.yaml:32:11: port "db1": host "h2" does not reach physnet "physnet1" of VLAN-backed switch "red" (add physnet1: NIC to the physnets of host "h2")`,
		}},
		{name: "external endpoint on a VLAN switch", src: base + "externalEndpoints:\n  - name: e\n    ip: 192.0.2.1\n    encapsulation: gre\n    switch: red\n    behind: [{mac: \"02:00:00:00:09:01\"}]\n", want: []string{
			`t.yaml:46:13: external endpoint "e": switch "red" is VLAN-backed, not an overlay`,
		}},
		{name: "include of a missing file", files: map[string][]byte{"t.yaml": []byte(at1(1, "apiVersion: loom/v1\ninclude:\n  - more.yaml\n  - gone.yaml")), "more.yaml": []byte("apiVersion: loom/v1\n")}, want: []string{
			`t.yaml:4:5: include "gone.yaml": file does not exist`,
		}},

		// Duplicates.
		{name: "host defined twice", src: at1(8, "  - name: h1"), want: []string{
			`t.yaml:8:5: host "h1" defined twice (first at t.yaml:3:5)`,
			`t.yaml:32:11: port "db1": no host named "h2" (did you mean "h1"?)`,
		}},
		{name: "key repeated", src: at1(22, "    host: h1\n    host: h2"), want: []string{
			`t.yaml:23:5: port key "host" repeated (first at line 22)`,
		}},
		{name: "physnet key repeated", src: at1(7, "      physnet1: eth1\n      physnet1: eth2"), want: []string{
			`t.yaml:8:7: host field "physnets": key "physnet1" repeated (first at line 7)`,
		}},
		{name: "IP of another port, in a block list", src: at1(34, "    ips:\n      - 192.0.2.13\n      - 192.0.2.11"), want: []string{
			`t.yaml:36:9: IP 192.0.2.11 on switch "blue" defined twice (first at t.yaml:25:9)`,
		}},
		{name: "interface twice on a host", src: at(map[int]string{32: "    host: h1", 35: "    interface: lm-web1"}), want: []string{
			`t.yaml:35:16: interface "lm-web1" on host "h1" defined twice (first at t.yaml:26:16)`,
		}},
		{name: "ACL listed twice, block list", src: at1(29, "        - web\n        - web"), want: []string{
			`t.yaml:30:11: port "web1": acl "web" listed twice`,
		}},
		{name: "VLAN twice on a physnet", src: at1(18, "    physnet: physnet1\n  - name: green\n    vlan: 200\n    physnet: physnet1"), want: []string{
			`t.yaml:20:11: switch "green": VLAN 200 on physnet "physnet1" is already used by switch "red" (at t.yaml:17:11)`,
		}},
		{name: "the same file twice", files: map[string][]byte{"a.yaml": []byte(base), "b.yaml": []byte(base)}, want: []string{
			`b.yaml:3:5: host "h1" defined twice (first at a.yaml:3:5)`,
			`b.yaml:8:5: host "h2" defined twice (first at a.yaml:8:5)`,
			`b.yaml:12:5: switch "blue" defined twice (first at a.yaml:12:5)`,
			`b.yaml:16:5: switch "red" defined twice (first at a.yaml:16:5)`,
			`b.yaml:20:5: port "web1" defined twice (first at a.yaml:20:5)`,
			`b.yaml:30:5: port "db1" defined twice (first at a.yaml:30:5)`,
			`b.yaml:37:5: acl "web" defined twice (first at a.yaml:37:5)`,
		}},

		// Limits.
		{name: "280 physnets on a host", src: manyPhysnets(280), want: []string{
			`t.yaml:5:15: host "h1": 280 physnets: at most 279 per host are supported`,
		}},
		{name: "40,000 ports on a host", src: manyPorts(40000), want: []string{
			`t.yaml:2:9: host "h1": 40000 ports: at most 39999 per host are supported (spread the workloads over more hosts)`,
		}},
		{name: "an ACL of 30,000 rules", src: manyRules(30000), want: []string{
			`t.yaml:7:7: acl "a0": 30000 rules: at most 29999 are supported (split it into several ACLs)`,
		}},
		{name: "30,000 rules on a port in one direction", src: manyRules(15000, 15000), want: []string{
			`t.yaml:30018:11: port "p": the toPort ACLs have more than 29999 rules in all: at most 29999 are supported`,
		}},
		{name: "5,000 hosts", src: manyHosts(5000), want: []string{
			`t.yaml:5002:5: 5000 hosts: at most 4999 are supported`,
		}},
		{name: "more errors than are listed", src: manyErrors(150), want: manyErrorsWant(150)},
	}
}

// manyErrorsWant is what manyErrors(n) gives: the first MaxErrors and a
// count of the rest.
func manyErrorsWant(n int) []string {
	var want []string
	for i := range MaxErrors {
		want = append(want, fmt.Sprintf(`t.yaml:%d:%d: host "h%d": invalid ovsdb address "nowhere" (write tcp:IP:PORT or ssl:IP:PORT or unix:PATH)`, i+3, 22+len(fmt.Sprint(i)), i))
	}
	return append(want, fmt.Sprintf("%d more errors not listed (only the first %d are)", n-MaxErrors, MaxErrors))
}
