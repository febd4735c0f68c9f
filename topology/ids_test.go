package topology

import (
	"fmt"
	"strings"
	"testing"
)

// collider is a name other than name, sorting before it, whose hash in
// 1..max is name's.
func collider(t *testing.T, name string, max uint32) string {
	t.Helper()
	want := HashID(name, max)
	for i := range 10_000_000 {
		c := fmt.Sprintf("a%d", i)
		if c < name && HashID(c, max) == want {
			return c
		}
	}
	t.Fatalf("no name collides with %q", name)
	return ""
}

func TestAssignIDsAround(t *testing.T) {
	const max = 39999
	c := collider(t, "web1", max)
	h := HashID("web1", max)

	// Hashed alone, the name sorting first takes the number: web1 moves.
	ids, err := AssignIDs([]string{c, "web1"}, max)
	if err != nil || ids[0] != h || ids[1] == h {
		t.Fatalf("AssignIDs(%s, web1) = %v %v: want %s at web1's %d and web1 moved (the collision this test needs)", c, ids, err, c, h)
	}
	// With web1's number fixed, the other moves around it.
	ids, err = AssignIDsAround([]string{c, "web1"}, []uint32{0, h}, max)
	if err != nil || ids[1] != h || ids[0] == h || ids[0] == 0 {
		t.Fatalf("AssignIDsAround(%s, web1 fixed at %d) = %v %v", c, h, ids, err)
	}
	// nil fixed is AssignIDs.
	a, _ := AssignIDs([]string{"x", "y", c, "web1"}, max)
	b, _ := AssignIDsAround([]string{"x", "y", c, "web1"}, nil, max)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("AssignIDsAround with nil fixed %v, AssignIDs %v", b, a)
	}
	for _, tc := range []struct {
		fixed []uint32
		want  string
	}{
		{[]uint32{7, 7}, `"p" and "q" both have id 7`},
		{[]uint32{0, max + 1}, `"q": id 40000 out of 1..39999`},
	} {
		if _, err := AssignIDsAround([]string{"p", "q"}, tc.fixed, max); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fixed %v: %v, want %q", tc.fixed, err, tc.want)
		}
	}
}

func TestFreeID(t *testing.T) {
	h := HashID("web1", 10)
	if got := FreeID("web1", 10, func(uint32) bool { return false }); got != h {
		t.Errorf("nothing used: %d, want the hash %d", got, h)
	}
	if got := FreeID("web1", 10, func(id uint32) bool { return id == h }); got != h%10+1 {
		t.Errorf("hash used: %d, want the next %d", got, h%10+1)
	}
	if got := FreeID("web1", 10, func(uint32) bool { return true }); got != 0 {
		t.Errorf("all used: %d, want 0", got)
	}
}
