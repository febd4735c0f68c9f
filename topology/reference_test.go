package topology

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The field reference is generated into docs/topology.md between these
// lines; -update (the package's flag, see schema_test.go) rewrites it.
const (
	referenceDoc   = "../docs/topology.md"
	referenceBegin = "<!-- BEGIN GENERATED REFERENCE (go test ./topology -run TestReference -update) -->\n"
	referenceEnd   = "<!-- END GENERATED REFERENCE -->"
)

func TestReference(t *testing.T) {
	doc, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(referenceBegin)), bytes.Index(doc, []byte(referenceEnd))
	switch {
	case i < 0 || j < 0:
		t.Fatalf("%s: no generated reference section: it is the text between\n%s%s", referenceDoc, referenceBegin, referenceEnd)
	case bytes.Count(doc, []byte(referenceBegin)) != 1 || bytes.Count(doc, []byte(referenceEnd)) != 1 || j < i:
		t.Fatalf("%s: want one begin line, then one end line of the generated reference", referenceDoc)
	}
	want := "\n" + Reference() + "\n"
	got := string(doc[i+len(referenceBegin) : j])
	if *updateSchema {
		var b bytes.Buffer
		b.Write(doc[:i+len(referenceBegin)])
		b.WriteString(want)
		b.Write(doc[j:])
		if err := os.WriteFile(referenceDoc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Fatalf("the field reference in %s is out of date with topology/spec.go\nregenerate it with: go test ./topology -run TestReference -update", referenceDoc)
	}
}

func TestReferenceDeterministic(t *testing.T) {
	a := Reference()
	for range 5 {
		if Reference() != a {
			t.Fatal("two calls of Reference differ")
		}
	}
	if !strings.HasSuffix(a, "|\n") {
		t.Error("Reference does not end with a table row and a newline")
	}
}

// TestReferenceCoversSpec walks the spec types on its own and checks that
// each has a section in which every yaml key has a row with its required
// flag, default and doc.
func TestReferenceCoversSpec(t *testing.T) {
	ref := Reference()
	sections := map[string]string{} // heading -> its text
	var headings []string
	for _, s := range strings.Split(ref, "\n### ")[1:] {
		h, body, _ := strings.Cut(s, "\n")
		if _, dup := sections[h]; dup {
			t.Errorf("two sections %q", h)
		}
		sections[h] = body
		headings = append(headings, h)
	}
	var walked []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(st reflect.Type) {
		if seen[st] {
			return
		}
		seen[st] = true
		heading := strings.TrimSuffix(st.Name(), "Spec") + " object"
		if st == reflect.TypeFor[FileSpec]() {
			heading = "Top level"
		}
		walked = append(walked, heading)
		body, ok := sections[heading]
		if !ok {
			t.Errorf("%s: no section %q in Reference()", st.Name(), heading)
		}
		rows := 0
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			if f.Type == reflect.TypeFor[Src]() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			rows++
			req := "no"
			if f.Tag.Get("required") == "true" {
				req = "yes"
			}
			def := "—"
			if d, ok := f.Tag.Lookup("default"); ok {
				def = "`" + d + "`"
			}
			row := ""
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, "| `"+key+"` |") {
					row = l
				}
			}
			doc := strings.ReplaceAll(f.Tag.Get("doc"), "|", `\|`)
			switch {
			case row == "":
				t.Errorf("%s.%s: no row for %q in section %q", st.Name(), f.Name, key, heading)
			case !strings.HasSuffix(row, fmt.Sprintf(" | %s | %s | %s |", req, def, doc)):
				t.Errorf("%s.%s: row %q does not end with required %s, default %s and the doc tag", st.Name(), f.Name, row, req, def)
			}
			for ft := f.Type; ; {
				switch ft.Kind() {
				case reflect.Pointer, reflect.Slice:
					ft = ft.Elem()
					continue
				case reflect.Struct:
					walk(ft)
				}
				break
			}
		}
		if n := strings.Count(body, "\n| `"); ok && n != rows {
			t.Errorf("section %q has %d rows, want %d", heading, n, rows)
		}
	}
	walk(reflect.TypeFor[FileSpec]())
	if strings.Join(walked, ",") != strings.Join(headings, ",") {
		t.Errorf("sections %q, want one per spec type, in walk order: %q", headings, walked)
	}
	if len(walked) != 12 {
		t.Errorf("walked %d spec types, want 12: %q", len(walked), walked)
	}
}

// TestReferenceTypes checks the readable type names.
func TestReferenceTypes(t *testing.T) {
	for _, c := range []struct {
		t    reflect.Type
		enum []string
		want string
	}{
		{reflect.TypeFor[string](), nil, "string"},
		{reflect.TypeFor[string](), []string{"a", "b"}, "string, one of `a`, `b`"},
		{reflect.TypeFor[int64](), nil, "integer"},
		{reflect.TypeFor[*bool](), nil, "boolean"},
		{reflect.TypeFor[*int](), nil, "integer"},
		{reflect.TypeFor[[]string](), nil, "list of strings"},
		{reflect.TypeFor[map[string]string](), nil, "map of string to string"},
		{reflect.TypeFor[[]HostSpec](), nil, "list of [Host object](#host-object)"},
		{reflect.TypeFor[*PortACLs](), nil, "[PortACLs object](#portacls-object)"},
		{reflect.TypeFor[PortRange](), nil, "port or range"},
		{reflect.TypeFor[NumOrName](), nil, "name or number"},
	} {
		if got := refType(c.t, c.enum); got != c.want {
			t.Errorf("refType(%s) = %q, want %q", c.t, got, c.want)
		}
	}
	if got := refCell("a|b\nc"); got != `a\|b c` {
		t.Errorf("refCell = %q", got)
	}
}
