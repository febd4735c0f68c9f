package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Anchors and aliases for what they are for: one value named in many
// places.
func TestAnchorsReused(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n  - {name: h1, ovsdb: \"tcp:198.18.0.11:6640\", tunnelIP: 198.19.0.11, labels: &rack {rack: r1, row: b}}\n")
	b.WriteString("  - {name: h2, ovsdb: \"tcp:198.18.0.12:6640\", tunnelIP: 198.19.0.12, labels: *rack}\n")
	b.WriteString("switches: [{name: s, tunnelKey: 1}]\nacls:\n  - {name: web, rules: [{action: allow, proto: tcp, dstPorts: 80}]}\n  - {name: ssh, rules: [{action: allow, proto: tcp, dstPorts: 22}]}\nports:\n")
	b.WriteString("  - {name: p0, switch: s, host: h1, mac: auto, interface: p0, acls: &acls {fromPort: [web, ssh], toPort: [web]}}\n")
	for i := 1; i < 500; i++ {
		fmt.Fprintf(&b, "  - {name: p%d, switch: s, host: h%d, mac: auto, interface: p%d, acls: *acls}\n", i, i%2+1, i)
	}
	topo, err := loadOne(t, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if h2, _ := topo.Host("h2"); h2.Labels["row"] != "b" {
		t.Errorf("h2: %+v", h2)
	}
	for _, p := range topo.Ports {
		if strings.Join(p.ACLsFromPort, ",") != "web,ssh" || strings.Join(p.ACLsToPort, ",") != "web" {
			t.Fatalf("port %s: %v %v", p.Name, p.ACLsFromPort, p.ACLsToPort)
		}
	}
}

func TestAssignIDsRefuses(t *testing.T) {
	if _, err := AssignIDs([]string{"a", "b", "c"}, 2); err == nil || err.Error() != "3 names for the 2 ids 1..2" {
		t.Errorf("got %v", err)
	}
	ids, err := AssignIDs([]string{"a", "b"}, 2)
	if err != nil || len(ids) != 2 || ids[0] == ids[1] {
		t.Errorf("got %v, %v", ids, err)
	}
}

// panicking reads a file by panicking, as a bug in the loader would.
type panicking struct{ *mapSource }

func (panicking) read(string) ([]byte, error) { panic("boom") }

// A bug of the loader costs the load, not the process reading it.
func TestLoadRecoversPanic(t *testing.T) {
	_, err := load(panicking{newMapSource(map[string][]byte{"t.yaml": nil})}, []string{"t.yaml"})
	var l ErrorList
	if !errors.As(err, &l) || err.Error() != "t.yaml: internal error reading the topology: boom; please report it with the files" {
		t.Errorf("got %v", err)
	}
}

// Files past MaxBytes in all are refused at the file that passes it,
// from memory and from disk (which reads no more than that).
func TestMaxBytes(t *testing.T) {
	small := []byte("apiVersion: loom/v1\n")
	big := append([]byte("apiVersion: loom/v1\n#"), make([]byte, MaxBytes)...)
	for i := 21; i < len(big); i++ {
		big[i] = 'x'
	}
	want := "b.yaml: the topology's files hold more than 33554432 bytes (32 MiB) with this one: at most that much is read (split the network over several loomd instances, or write it more tersely)"
	_, err := LoadBytes(map[string][]byte{"a.yaml": small, "b.yaml": big})
	if err == nil || err.Error() != want {
		t.Errorf("got %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(filepath.Join(dir, "b.yaml"))
	if err == nil || !strings.HasSuffix(err.Error(), "b.yaml: the topology's files hold more than 33554432 bytes (32 MiB) with this one: at most that much is read (split the network over several loomd instances, or write it more tersely)") {
		t.Errorf("got %v", err)
	}
}

// Issue 12's reproducer: 10.6 KB of aliases nested through external
// endpoints, stations and addresses, which expanded to some 36 million
// addresses, is refused at the first alias past the budget.
func TestAliasBombRefused(t *testing.T) {
	src := aliasBomb(330)
	if len(src) < 10000 {
		t.Fatalf("%d bytes", len(src))
	}
	_, err := loadOne(t, src)
	var l ErrorList
	if !errors.As(err, &l) || len(l) != MaxErrors+1 {
		t.Fatalf("got %v", err)
	}
	n := 0
	for _, e := range l {
		if strings.Contains(e.Msg, "the file's aliases expand to too many values") {
			n++
		}
	}
	if n == 0 || !strings.HasSuffix(l[len(l)-1].Msg, "; the topology's references and values were not checked") {
		t.Errorf("%d alias errors; last: %v", n, l[len(l)-1])
	}
}
