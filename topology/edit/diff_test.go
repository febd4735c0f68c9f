package edit

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	b := strings.Replace(strings.Replace(a, "2\n", "two\n", 1), "14\n", "", 1)
	want := `--- a/f
+++ b/f
@@ -1,5 +1,5 @@
 1
-2
+two
 3
 4
 5
@@ -11,5 +11,4 @@
 11
 12
 13
-14
 15
`
	if got := Diff("f", []byte(a), []byte(b)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := Diff("f", nil, []byte("x\n")); got != "--- /dev/null\n+++ b/f\n@@ -0,0 +1,1 @@\n+x\n" {
		t.Errorf("new file:\n%s", got)
	}
}
