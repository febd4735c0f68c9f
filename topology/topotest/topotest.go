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
