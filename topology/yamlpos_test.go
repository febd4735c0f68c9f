package topology

import "testing"

// opened finds the [, { or quote a syntax error most likely comes from,
// and nothing where brackets and quotes are only text.
func TestOpened(t *testing.T) {
	for _, c := range []struct {
		src                string
		stopLine, stopCol  int
		what               string
		line, col, endLine int
	}{
		{"a: [b\nc: d\n", 2, 2, "[list]", 1, 4, 0},
		{"a: x[1]\nb: [c\nd: e\n", 3, 2, "[list]", 2, 4, 0},
		{"a: 'it''s ['\nb: {c\nd: e\n", 3, 2, "{mapping}", 2, 4, 0},
		{"# [comment\na: [b\nc: d\n", 3, 2, "[list]", 2, 4, 0},
		{"a: |\n  [not a list\nb: [c\nd: e\n", 4, 2, "[list]", 3, 4, 0},
		{"a: [b, {c: d}, [e]\nf: g\n", 2, 2, "[list]", 1, 4, 0},
		{"a: \"x\nb: \"y\"\n", 2, 7, "quoted string", 1, 4, 2},
		{"a: [b]\nc: {d: e}\nf: g h: i\n", 3, 5, "", 0, 0, 0},
		{"a: &x [b\nc: d\n", 2, 2, "[list]", 1, 7, 0},
		{"- [a\n- b\n", 2, 2, "[list]", 1, 3, 0},
		{"a: \"say \\\"[hi\\\"\"\nb: c: d\n", 2, 5, "", 0, 0, 0},
	} {
		o, ok := opened([]byte(c.src), c.stopLine, c.stopCol)
		if ok != (c.what != "") || ok && (o.what != c.what || o.line != c.line || o.col != c.col || c.endLine != 0 && o.endLine != c.endLine) {
			t.Errorf("%q stopped at %d:%d: got %+v, %v; want %s at %d:%d", c.src, c.stopLine, c.stopCol, o, ok, c.what, c.line, c.col)
		}
	}
}
