package topology

import (
	"fmt"
	"strings"
	"testing"
)

func TestScratch(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nswitches: [{name: s, tunnelKey: 1}]\nexternalEndpoints:\n")
	b.WriteString("  - &e0\n    name: e\n    ip: 192.0.2.1\n    encapsulation: gre\n    switch: s\n    behind: &b0\n")
	b.WriteString("      - &s0\n        mac: 02:00:00:00:00:01\n        ips: &i0 [")
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "10.0.%d.%d", i/250, i%250+1)
	}
	b.WriteString("]\n")
	b.WriteString("      - {mac: 02:00:00:00:00:02, ips: *i0}\n")
	for i := 0; i < 50; i++ {
		b.WriteString("      - *s0\n")
	}
	for i := 0; i < 50; i++ {
		b.WriteString("  - *e0\n")
	}
	for _, src := range []string{
		"apiVersion: loom/v1\nkind: Topology\nhosts: [h1, h2\nswitches: []\n",
		"apiVersion: loom/v1\nkind: Topology\nhosts:\n  - name: h\xff1\n",
		"apiVersion: loom/v1\nhosts: &x [*x]\n",
		b.String(),
	} {
		_, err := LoadBytes(map[string][]byte{"t.yaml": []byte(src)})
		s := fmt.Sprint(err)
		if len(s) > 2000 {
			s = s[:1000] + "\n...\n" + s[len(s)-1000:]
		}
		t.Logf("%d bytes:\n%s", len(src), s)
	}
}
