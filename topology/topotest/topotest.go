package topotest

import (
	"fmt"
	"strings"
)

// Generate writes a topology of hosts × portsPerHost ports in YAML, one
// overlay switch per portsPerSwitch ports. Port p lives on host
// p/portsPerHost and switch p%switches, so each switch's ports are spread
// over as many hosts as it has ports (up to the number of hosts).
func Generate(hosts, portsPerHost, portsPerSwitch int) []byte {
	var sb strings.Builder
	sb.WriteString("apiVersion: loom/v1\nhosts:\n")
	for h := 0; h < hosts; h++ {
		fmt.Fprintf(&sb, "  - name: h%d\n    ovsdb: tcp:10.%d.%d.1:6640\n    tunnelIP: 10.100.%d.%d\n", h, h/250, h%250, h/250, h%250+1)
	}
	ports := hosts * portsPerHost
	switches := max(ports/portsPerSwitch, 1)
	sb.WriteString("switches:\n")
	for s := 0; s < switches; s++ {
		fmt.Fprintf(&sb, "  - name: s%d\n    tunnelKey: %d\n", s, s+1)
	}
	sb.WriteString("ports:\n")
	for p := 0; p < ports; p++ {
		fmt.Fprintf(&sb, "  - name: p%d\n    switch: s%d\n    host: h%d\n    mac: \"02:00:%02x:%02x:%02x:%02x\"\n    ips: [10.%d.%d.%d]\n    interface: vif%d\n",
			p, p%switches, p/portsPerHost, p>>24&0xff, p>>16&0xff, p>>8&0xff, p&0xff, 128+p>>16&0x3f, p>>8&0xff, p&0xff, p%portsPerHost)
	}
	return []byte(sb.String())
}

// LabPort is port j of switch s in Lab's topology: on host h(j%3+1),
// address 10.s.0.(j+1)/24.
func LabPort(s, j int) (name, host, mac, ip string) {
	return fmt.Sprintf("s%dp%d", s, j), fmt.Sprintf("h%d", j%3+1),
		fmt.Sprintf("02:00:00:%02x:00:%02x", s, j+1), fmt.Sprintf("10.%d.0.%d", s, j+1)
}

// Lab writes the benchmarks' lab topology: 3 hosts (h1..h3, the lab's
// addresses) and S overlay switches of P ports each (see LabPort), plus,
// when withNew, the port a change adds: port P of switch s0, on h3, on
// interface lm-wn. iface names the interface of port j of switch s; nil
// gives lm-xS-J.
func Lab(S, P int, withNew bool, iface func(s, j int) string) []byte {
	if iface == nil {
		iface = func(s, j int) string { return fmt.Sprintf("lm-x%d-%d", s, j) }
	}
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for h := 1; h <= 3; h++ {
		fmt.Fprintf(&b, "  - {name: h%d, ovsdb: \"tcp:198.18.0.%d:6640\", tunnelIP: 198.19.0.%d, datapathType: netdev}\n", h, 10+h, 10+h)
	}
	b.WriteString("switches:\n")
	for s := 0; s < S; s++ {
		fmt.Fprintf(&b, "  - {name: s%d, tunnelKey: %d}\n", s, s+1)
	}
	b.WriteString("ports:\n")
	port := func(s, j int, host, iface string) {
		name, _, mac, ip := LabPort(s, j)
		fmt.Fprintf(&b, "  - {name: %s, switch: s%d, host: %s, mac: \"%s\", ips: [%s], interface: %s}\n", name, s, host, mac, ip, iface)
	}
	for s := 0; s < S; s++ {
		for j := 0; j < P; j++ {
			_, host, _, _ := LabPort(s, j)
			port(s, j, host, iface(s, j))
		}
	}
	if withNew {
		port(0, P, "h3", "lm-wn")
	}
	return []byte(b.String())
}
