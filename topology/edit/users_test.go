package edit

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

func aclsExample(t *testing.T) (Files, *topology.Topology) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/examples/acls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := Files{"acls.yaml": b}
	topo, err := topology.LoadBytes(files)
	if err != nil {
		t.Fatal(err)
	}
	return files, topo
}

// Deleting an object in use names its users; an edit of the same batch
// that deletes or changes them is not counted.
func TestStillUsed(t *testing.T) {
	_, topo := aclsExample(t)
	got := StillUsed(topo, []Op{{Action: ActionDel, Kind: "acl", Name: "web-in"}})
	if len(got) != 1 || got[0].Message() != `ACL "web-in" is used by port "web1", port "web2"` || !strings.Contains(got[0].Hint(), "--cascade") {
		t.Fatalf("StillUsed: %+v", got)
	}
	got = StillUsed(topo, []Op{{Action: ActionDel, Kind: "port", Name: "web1"}, {Action: ActionDel, Kind: "acl", Name: "web-in"}})
	if len(got) != 1 || !slices.Equal(got[0].Users, []Ref{{"port", "web2"}}) {
		t.Fatalf("StillUsed with web1 deleted too: %+v", got)
	}
	if got := StillUsed(topo, []Op{{Action: ActionDel, Kind: "acl", Name: "web-in"}, {Action: ActionSet, Kind: "port", Name: "web1"}, {Action: ActionSet, Kind: "port", Name: "web2"}}); len(got) != 0 {
		t.Fatalf("StillUsed with both users changed: %+v", got)
	}
	if got := StillUsed(topo, []Op{{Action: ActionSet, Kind: "switch", Name: "shop", Fields: []Field{{Key: "name", Value: "store"}}}}); len(got) != 1 || !got[0].Rename || len(got[0].Users) != 3 {
		t.Fatalf("StillUsed of a rename: %+v", got)
	}
	if got := StillUsed(topo, []Op{{Action: ActionDel, Kind: "port", Name: "db1"}}); len(got) != 0 {
		t.Fatalf("a port is used by nothing: %+v", got)
	}
}

// --cascade: an ACL leaves the lists of the ports that apply it (their
// other ACLs, and the file's comments, stay); a switch takes its ports
// with it. The result is a valid topology.
func TestCascade(t *testing.T) {
	files, topo := aclsExample(t)
	ops := Cascade(topo, []Op{{Action: ActionDel, Kind: "acl", Name: "web-in", Cascade: true, Position: -1}})
	if len(ops) != 3 || ops[0].Action != ActionSet || ops[0].Name != "web1" || ops[1].Name != "web2" || ops[2].Kind != "acl" {
		t.Fatalf("cascade of ACL web-in: %+v", ops)
	}
	after, done, err := Apply(files, ops, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.Join(done, "\n"))
	next, err := topology.LoadBytes(after)
	if err != nil {
		t.Fatalf("after the cascade: %v", err)
	}
	for _, name := range []string{"web1", "web2"} {
		p, _ := next.Port(name)
		if !slices.Equal(p.ACLsToPort, []string{"basics"}) || !slices.Equal(p.ACLsFromPort, []string{"basics", "web-out"}) {
			t.Errorf("port %s after the cascade: from %v to %v", name, p.ACLsFromPort, p.ACLsToPort)
		}
	}
	if _, ok := next.ACL("web-in"); ok {
		t.Error("ACL web-in is still there")
	}
	if strings.Count(string(after["acls.yaml"]), "#") < strings.Count(string(files["acls.yaml"]), "#")-2 {
		t.Errorf("comments lost:\n%s", after["acls.yaml"])
	}

	// An ACL that is a port's only one in a direction: the key goes.
	ops = Cascade(topo, []Op{{Action: ActionDel, Kind: "acl", Name: "basics", Cascade: true, Position: -1}})
	if after, _, err = Apply(files, ops, Options{}); err != nil {
		t.Fatal(err)
	}
	if next, err = topology.LoadBytes(after); err != nil {
		t.Fatalf("after the cascade of basics: %v", err)
	}
	if p, _ := next.Port("web1"); !slices.Equal(p.ACLsToPort, []string{"web-in"}) {
		t.Errorf("web1 after basics went: to %v", p.ACLsToPort)
	}

	ops = Cascade(topo, []Op{{Action: ActionDel, Kind: "switch", Name: "shop", Cascade: true, Position: -1}})
	if len(ops) != 4 {
		t.Fatalf("cascade of switch shop: %+v", ops)
	}
	if after, done, err = Apply(files, ops, Options{}); err != nil {
		t.Fatal(err)
	}
	if next, err = topology.LoadBytes(after); err != nil || len(next.Ports) != 0 || len(next.Switches) != 0 {
		t.Fatalf("after the cascade of shop: %v, %d ports", err, len(next.Ports))
	}
	if want := `port "db1" deleted`; !slices.Contains(done, want) {
		t.Errorf("done %q, want %q in it", done, want)
	}
	// Without Cascade, nothing is added.
	if ops := Cascade(topo, []Op{{Action: ActionDel, Kind: "switch", Name: "shop"}}); len(ops) != 1 {
		t.Errorf("no cascade asked: %+v", ops)
	}
}
