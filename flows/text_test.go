package flows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

// compiledFlows are the flows of every host of the golden topologies and
// the examples.
func compiledFlows(t testing.TB) []Flow {
	t.Helper()
	files, _ := filepath.Glob("testdata/*/topology.yaml")
	examples, _ := filepath.Glob("../deploy/examples/*.yaml")
	var all []Flow
	for _, f := range append(files, examples...) {
		topo, err := topology.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		states, err := Compile(topo)
		if err != nil {
			t.Fatal(err)
		}
		for _, hs := range states {
			all = append(all, hs.Flows()...)
		}
	}
	if len(all) < 500 {
		t.Fatalf("only %d flows", len(all))
	}
	return all
}

// Rendered and parsed back, every compiled flow is the same value; it is
// valid as OVS checks flows, and its JSON reads back to it.
func TestRenderParseRoundTrip(t *testing.T) {
	for _, f := range compiledFlows(t) {
		text := f.String()
		g, err := ParseFlow(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !g.Equal(&f) || g.Identity() != f.Identity() || g.Key() != f.Key() || g.UpdateKey() != f.UpdateKey() {
			t.Fatalf("%s: parsed back as %s", text, &g)
		}
		if s := g.String(); s != text {
			t.Fatalf("rendered again differently:\n%s\n%s", text, s)
		}
		if err := f.Validate(); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var h Flow
		if err := json.Unmarshal(b, &h); err != nil || !h.Equal(&f) {
			t.Fatalf("JSON %s read back as %s (%v)", b, &h, err)
		}
	}
}

// spellingPairs reads testdata/spellings.txt: flows as Loom writes them
// and as OVS 3.1 prints them back.
func spellingPairs(t testing.TB) (pairs [][2]string) {
	t.Helper()
	b, err := os.ReadFile("testdata/spellings.txt")
	if err != nil {
		t.Fatal(err)
	}
	var w string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "w "):
			w = line[2:]
		case strings.HasPrefix(line, "d "):
			pairs = append(pairs, [2]string{w, line[2:]})
		}
	}
	if len(pairs) < 40 {
		t.Fatalf("only %d pairs in testdata/spellings.txt", len(pairs))
	}
	return pairs
}

func TestSpellings(t *testing.T) {
	for _, s := range spellingPairs(t) {
		w, err := ParseFlow(s[0])
		if err != nil {
			t.Errorf("%s: %v", s[0], err)
			continue
		}
		d, err := ParseFlow(s[1])
		if err != nil {
			t.Errorf("%s: %v", s[1], err)
			continue
		}
		if !w.Equal(&d) || w.Key() != d.Key() {
			t.Errorf("written and dumped differ:\n%s\n  -> %s\n%s\n  -> %s", s[0], &w, s[1], &d)
		}
		// What Loom renders reads back to the same value.
		if r, err := ParseFlow(w.String()); err != nil || !r.Equal(&w) {
			t.Errorf("%s: rendered %s, read back as %s (%v)", s[0], &w, &r, err)
		}
	}
}

// Values differ when OVS would keep them apart (diff-flows compares
// actions as OVS prints them: load is not set_field).
func TestNotEqual(t *testing.T) {
	for _, c := range [][2]string{
		{"table=1,priority=5,ip,actions=load:1->NXM_NX_REG0[]", "table=1,priority=5,ip,actions=set_field:1->reg0"},
		{"table=1,priority=5,ip,actions=drop", "table=2,priority=5,ip,actions=drop"},
		{"table=1,priority=5,ip,actions=drop", "table=1,priority=6,ip,actions=drop"},
		{"table=1,priority=5,ip,actions=drop", "table=1,priority=5,ip,cookie=0x1,actions=drop"},
		{"table=1,priority=5,ip,actions=drop", "table=1,priority=5,ip,idle_timeout=3,actions=drop"},
		{"table=1,priority=5,ip,actions=drop", "table=1,priority=5,ipv6,actions=drop"},
		{"table=1,priority=5,reg5=0/0x4,actions=drop", "table=1,priority=5,reg5=0/0x6,actions=drop"},
		{"table=1,priority=5,actions=output:1,output:2", "table=1,priority=5,actions=output:2,output:1"},
		{"table=1,priority=5,actions=clone(output:1),output:2", "table=1,priority=5,actions=clone(output:1,output:2)"},
	} {
		a, err1 := ParseFlow(c[0])
		b, err2 := ParseFlow(c[1])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a.Equal(&b) || a.Key() == b.Key() {
			t.Errorf("equal: %s and %s", c[0], c[1])
		}
	}
}

// Diff finds the flows each side lacks, by value, on sets of any order.
func TestDiff(t *testing.T) {
	all := compiledFlows(t)
	a := append([]Flow(nil), all[:400]...)
	b := append([]Flow(nil), all[100:500]...)
	// b in another order, and one flow of a changed in b.
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	onlyA, onlyB := Diff(a, b)
	want := 100
	// Flows of several hosts can be equal: count what differs by key.
	keysB := map[Key]bool{}
	for i := range b {
		keysB[b[i].Key()] = true
	}
	want = 0
	for i := range a {
		if !keysB[a[i].Key()] {
			want++
		}
	}
	if len(onlyA) != want {
		t.Errorf("only in a: %d, want %d", len(onlyA), want)
	}
	for _, i := range onlyA {
		if keysB[a[i].Key()] {
			t.Errorf("%s is in b", &a[i])
		}
	}
	for _, j := range onlyB {
		for i := range a {
			if a[i].Equal(&b[j]) {
				t.Errorf("%s is in a", &b[j])
			}
		}
	}
	if x, y := Diff(a, a); len(x)+len(y) != 0 {
		t.Errorf("a differs from itself: %v %v", x, y)
	}
}

// A line that is not a flow Loom reads is an error, never a panic (see
// FuzzParseFlow), and names what is wrong.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"priority=1,actions=ct(commit)", `"ct(commit)"`},
		{"priority=1,tcp_flags=+syn,actions=drop", `"tcp_flags"`},
		{"priority=1,ip,arp,actions=drop", "conflicts"},
		{"cookie=0x1,table=3,priority=1", "no actions"},
		{"priority=1,nd_target=::1,actions=drop", "nd_target needs"},
	} {
		if _, err := ParseFlow(c.line); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.line, err, c.want)
		}
	}
	if f, err := ParseUpdate("table=3 cookie=0x4c4d000000000001 reg7=0x5"); err != nil || len(f.Actions) != 0 || f.Priority != 0 {
		t.Errorf("an update without actions: %v %v", f, err)
	}
	for _, c := range []struct {
		line   string
		table  uint8
		cookie uint64
		ok     bool
	}{
		{" cookie=0x4c4d0000000000ff, table=7, priority=1,ct_state=+trk actions=ct(commit)", 7, 0x4c4d0000000000ff, true},
		{" table=7, priority=1 actions=drop", 7, 0, false},
		{" cookie=0xz, table=7, priority=1 actions=drop", 0, 0, false},
	} {
		table, cookie, ok := GroupOf(c.line)
		if table != c.table || cookie != c.cookie || ok != c.ok {
			t.Errorf("GroupOf(%q) = %d, %#x, %v", c.line, table, cookie, ok)
		}
	}
}

// The parser never panics, and what it accepts renders to text it reads
// back to the same value.
func FuzzParseFlow(f *testing.F) {
	for _, s := range spellingPairs(f) {
		f.Add(s[0])
		f.Add(s[1])
	}
	f.Add("table=3 cookie=0x4c4d000000000001 reg7=0x5")
	f.Add("priority=1,actions=clone(clone(clone(output:1)")
	f.Add("priority=1,reg5[0..200]=1,actions=drop")
	f.Add("priority=1,actions=load:0x123456789abcdef0123456789->NXM_NX_IPV6_SRC[0..127]")
	f.Fuzz(func(t *testing.T, line string) {
		GroupOf(line)
		ParseUpdate(line) //nolint:errcheck // no panic is the test
		fl, err := ParseFlow(line)
		if err != nil {
			return
		}
		fl.Validate() //nolint:errcheck
		text := fl.String()
		back, err := ParseFlow(text)
		if err != nil {
			t.Fatalf("%q parsed as %s, which does not parse: %v", line, text, err)
		}
		if !back.Equal(&fl) {
			t.Fatalf("%q parsed as %s, read back as %s", line, text, &back)
		}
	})
}
