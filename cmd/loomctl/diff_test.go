package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

// diff shows objects as the YAML writes them: an ACL rule's proto by name,
// its ports as written, no internal values.
func TestDiffSpeaksYAML(t *testing.T) {
	src, err := os.ReadFile("../../deploy/examples/acls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := topology.LoadBytes(map[string][]byte{"acls.yaml": src})
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(src, []byte("        proto: tcp\n        dstPorts: 80\n"), []byte("        proto: tcp\n        dstPorts: 8080-8090\n"), 1)
	if bytes.Equal(changed, src) {
		t.Fatal("the example no longer has the rule this test changes")
	}
	b, err := topology.LoadBytes(map[string][]byte{"acls.yaml": changed})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffTopologies(a, a); len(d) != 0 {
		t.Errorf("a topology differs from itself: %+v", d)
	}
	var buf bytes.Buffer
	printChanges(&buf, colors{}, diffTopologies(a, b), true)
	out := buf.String()
	for _, want := range []string{"~ acl ", "{name: http, action: allow, proto: tcp, dstPorts: 80} → {name: http, action: allow, proto: tcp, dstPorts: 8080-8090}", "0 added, 1 changed, 0 removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"invalid Prefix", "proto: 6", "icmpType: -1", ".lo", ".hi", "allow: true"} {
		if strings.Contains(out, bad) {
			t.Errorf("diff shows an internal value %q:\n%s", bad, out)
		}
	}
	// Added objects list their fields as written.
	buf.Reset()
	printChanges(&buf, colors{}, diffTopologies(&topology.Topology{}, a), true)
	for _, want := range []string{"+ acl ", "    rules[1]: {name: arp, action: allow, ethType: arp}", "    mac: "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("diff from nothing lacks %q:\n%s", want, buf.String())
		}
	}
}
