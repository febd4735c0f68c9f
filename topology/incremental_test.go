package topology

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/loom-sdn/loom/topology/topotest"
)

// splitCorpus is every topology file the tests know: the examples, the
// bad-input corpus, the fuzz seeds, generated ones and layouts the split
// must take apart or refuse.
func splitCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ex, err := filepath.Glob("../deploy/examples/*.yaml")
	if err != nil || len(ex) == 0 {
		t.Fatalf("examples: %v", err)
	}
	for _, p := range ex {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out["example "+filepath.Base(p)] = b
	}
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzLoad/*")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		if _, err := fmt.Sscanf(strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte("), "%q", &s); err == nil {
			out["seed "+filepath.Base(p)] = []byte(s)
		}
	}
	for _, c := range badInputs() {
		if c.src != "" {
			out["bad "+c.name] = []byte(c.src)
		}
		for n, b := range c.files {
			out["bad "+c.name+" "+n] = b
		}
	}
	out["generated 4x10"] = topotest.Generate(4, 10, 5)
	out["base"] = []byte(base)
	for name, s := range map[string]string{
		"list at column 0":    "apiVersion: loom/v1\nswitches:\n- name: s\n  tunnelKey: 1\n- {name: t, tunnelKey: 2}\nports: []\n",
		"comments between":    "# head\napiVersion: loom/v1 # v\n\nswitches:   # the switches\n  # first\n  - name: s\n    tunnelKey: 1\n# at column 0\n\n  - name: t  # t\n    tunnelKey: 2\n\n    # deeper\n# trailing\n\nhosts: []\n",
		"dash alone":          "apiVersion: loom/v1\nswitches:\n  -\n    name: s\n    tunnelKey: 1\n  - name: t\n    tunnelKey: 2\n",
		"nested lists":        "apiVersion: loom/v1\nacls:\n  - name: a\n    rules:\n      - action: allow\n      - action: drop\n        proto: tcp\n  - name: b\n    rules: [{action: allow}]\n",
		"block scalar":        "apiVersion: loom/v1\nswitches:\n  - name: s\n    physnet: |\n      - not an entry\n      x\n  - name: t\n",
		"quoted over lines":   "apiVersion: loom/v1\nswitches:\n  - name: \"s\n    t\"\n  - name: u\n",
		"quote left open":     "apiVersion: loom/v1\nswitches:\n  - name: \"s\n  - name: u\"\n",
		"flow over lines":     "apiVersion: loom/v1\nswitches: [\n  {name: s},\n  {name: t}]\nports:\n  - {name: p, switch: s,\n     host: h}\n",
		"anchor":              "apiVersion: loom/v1\nswitches:\n  - &s {name: s, tunnelKey: 1}\n  - *s\n",
		"anchor in header":    "apiVersion: loom/v1\nx: &m 1400\nswitches:\n  - {name: s, tunnelKey: 1, mtu: *m}\n",
		"document marker":     "---\napiVersion: loom/v1\nswitches:\n  - {name: s}\n",
		"two documents":       "apiVersion: loom/v1\nswitches:\n  - {name: s}\n---\nhosts: []\n",
		"quoted key":          "\"apiVersion\": loom/v1\nswitches:\n  - {name: s}\n",
		"repeated key":        "apiVersion: loom/v1\nswitches:\n  - {name: s}\nswitches:\n  - {name: t}\n",
		"stray indent":        "apiVersion: loom/v1\nswitches:\n    - {name: s}\n  - {name: t}\n",
		"entry not a dash":    "apiVersion: loom/v1\nswitches:\n  - {name: s}\n  name: t\n",
		"no final line feed":  "apiVersion: loom/v1\nswitches:\n  - {name: s}\n  - {name: t}",
		"empty":               "",
		"comments only":       "# nothing\n",
		"carriage returns":    "apiVersion: loom/v1\r\nswitches:\r\n  - {name: s}\r\n",
		"tab":                 "apiVersion: loom/v1\nswitches:\n  - {name:\ts}\n",
		"scalar root":         "hello\n",
		"list root":           "- a\n- b\n",
		"inline then entries": "apiVersion: loom/v1\nswitches: !!seq\n  - {name: s}\n",
		"null list":           "apiVersion: loom/v1\nswitches:\nhosts:\n  - {name: h}\n",
		"key with dash":       "apiVersion: loom/v1\nx-extra:\n  - 1\nswitches:\n  - {name: s}\n",
		"explicit key":        "? apiVersion\n: loom/v1\n",
	} {
		out[name] = []byte(s)
	}
	return out
}

// sameTree reports where a and b differ (comments aside).
func sameTree(a, b *yaml.Node, at string) error {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Line != b.Line || a.Column != b.Column ||
		a.Style != b.Style || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: kind %v/%v tag %q/%q value %q/%q at %d:%d/%d:%d style %v/%v, %d/%d children",
			at, a.Kind, b.Kind, a.Tag, b.Tag, a.Value, b.Value, a.Line, a.Column, b.Line, b.Column, a.Style, b.Style, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", at, i)); err != nil {
			return err
		}
	}
	return nil
}

// The tree assembled from a file's pieces is the tree of a whole parse,
// and a file the split cannot read safely is refused.
func TestAssembleIsParse(t *testing.T) {
	split := 0
	refused := map[string]bool{}
	for name, src := range splitCorpus(t) {
		l := NewLoader()
		for round := 0; round < 2; round++ { // parsed, then from the cache
			root, _, ok := l.assemble(src)
			if !ok {
				refused[name] = true
				break
			}
			whole, err := parseOne(src)
			if err != nil {
				t.Errorf("%s: assembled, but a whole parse fails: %v", name, err)
				break
			}
			if err := sameTree(root, whole, "root"); err != nil {
				t.Errorf("%s (round %d): %v", name, round, err)
			}
			split++
		}
	}
	for _, name := range []string{"anchor", "anchor in header", "document marker", "two documents", "quoted key",
		"stray indent", "entry not a dash", "empty", "comments only", "carriage returns", "tab", "scalar root",
		"list root", "quote left open", "explicit key"} {
		if !refused[name] {
			t.Errorf("%s: split, want it parsed whole", name)
		}
	}
	for _, name := range []string{"list at column 0", "comments between", "dash alone", "nested lists", "block scalar",
		"quoted over lines", "flow over lines", "no final line feed", "example two-hosts.yaml", "generated 4x10", "null list",
		"inline then entries", "key with dash"} {
		if refused[name] {
			t.Errorf("%s: parsed whole, want it split", name)
		}
	}
	if split < 50 {
		t.Errorf("only %d files split", split)
	}
}

// sameLoad fails unless the Loader loads files as LoadBytes does.
func sameLoad(t *testing.T, l *Loader, what string, files map[string][]byte) {
	t.Helper()
	want, werr := LoadBytes(files)
	got, gerr := l.LoadBytes(files)
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%s: errors differ:\nLoadBytes: %v\nLoader:    %v\nfiles: %q", what, werr, gerr, files)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: topologies differ\nfiles: %q", what, files)
	}
}

// A Loader loads as LoadBytes does: every file of the corpus, then each
// after a series of random changes of its lines, with what it kept of the
// versions before.
func TestLoaderIsLoadBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for name, src := range splitCorpus(t) {
		if len(src) > 20000 {
			continue // the limits' topologies: slow to load 26 times
		}
		l := NewLoader()
		sameLoad(t, l, name, map[string][]byte{"t.yaml": src})
		sameLoad(t, l, name+" again", map[string][]byte{"t.yaml": src})
		cur := src
		for step := 0; step < 12; step++ {
			cur = mutateLines(rng, cur)
			sameLoad(t, l, fmt.Sprintf("%s, change %d", name, step), map[string][]byte{"t.yaml": cur, "b.yaml": src})
		}
	}
}

// mutateLines changes src as an edit would: a line removed, repeated,
// moved or changed, or an entry added.
func mutateLines(rng *rand.Rand, src []byte) []byte {
	lines := strings.SplitAfter(string(src), "\n")
	if len(lines) < 2 {
		return append(src, "switches:\n  - {name: z}\n"...)
	}
	i := rng.Intn(len(lines) - 1)
	switch rng.Intn(5) {
	case 0:
		lines = append(lines[:i], lines[i+1:]...)
	case 1:
		lines = append(lines[:i+1], lines[i:]...)
	case 2:
		lines[i], lines[i+1] = lines[i+1], lines[i]
	case 3:
		lines[i] = strings.Replace(lines[i], "1", "2", 1)
	default:
		lines = append(lines[:i], append([]string{"  - name: n" + fmt.Sprint(rng.Intn(100)) + "\n    tunnelKey: 7\n"}, lines[i:]...)...)
	}
	return []byte(strings.Join(lines, ""))
}

// Large files are split and their entries parsed once: loading again
// after one entry changed parses that entry and the skeleton only.
func TestLoaderReusesEntries(t *testing.T) {
	src := topotest.Generate(10, 20, 5)
	l := NewLoader()
	if _, err := l.LoadBytes(map[string][]byte{"t.yaml": src}); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, list := range l.items {
		kept += len(list)
	}
	if kept != 10+40+200 {
		t.Errorf("%d entries kept, want 250", kept)
	}
	// A port more, in the middle: every other entry is reused, moved.
	mid := bytes.Index(src, []byte("  - name: p100\n"))
	next := append(append(append([]byte{}, src[:mid]...), "  - name: extra\n    switch: s1\n    host: h1\n    mac: auto\n    interface: x\n"...), src[mid:]...)
	before := l.items
	l.items = map[string][]*cachedItem{}
	for k, v := range before {
		l.items[k] = v
	}
	sameLoad(t, l, "one port more", map[string][]byte{"t.yaml": next})
	if n := len(l.items); n != len(before)+1 {
		t.Errorf("%d texts kept, want %d", n, len(before)+1)
	}
	lay, ok := l.Layout(next)
	if !ok || len(lay.Keys) != 4 || lay.Keys[3].Key != "ports" || len(lay.Keys[3].Items) != 201 {
		t.Fatalf("layout %+v", lay)
	}
	if it := lay.Keys[3].Items[100]; it.Name != "extra" || it.End-it.Start != 5 {
		t.Errorf("entry 100: %+v", it)
	}
}

// FuzzLoader: any two files loaded one after the other by one Loader load
// as LoadBytes loads them.
func FuzzLoader(f *testing.F) {
	f.Add([]byte(base), []byte(strings.Replace(base, "  - name: db1\n", "  - name: db2\n    switch: blue\n  - name: db1\n", 1)))
	f.Add([]byte("apiVersion: loom/v1\nswitches:\n- {name: s}\n"), []byte("apiVersion: loom/v1\nswitches:\n- {name: s}\n- {name: t}\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		l := NewLoader()
		sameLoad(t, l, "first", map[string][]byte{"t.yaml": a})
		sameLoad(t, l, "second", map[string][]byte{"t.yaml": b})
	})
}

// validName is nameRE.
func TestValidName(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, s := range []string{"", "a", "-", "a-", "-a", "a-b", "A", "a_b", "0", "web1", "a--b", "é"} {
		if validName(s) != nameRE.MatchString(s) {
			t.Errorf("%q: %v", s, validName(s))
		}
	}
	for i := 0; i < 10000; i++ {
		b := make([]byte, rng.Intn(6))
		for j := range b {
			b[j] = "a-Z0_."[rng.Intn(6)]
		}
		if s := string(b); validName(s) != nameRE.MatchString(s) {
			t.Errorf("%q: %v", s, validName(s))
		}
	}
}

// Validation only reads the specs it validates: a Loader hands the specs
// of an unchanged file to the next validation.
func TestValidationReadsSpecsOnly(t *testing.T) {
	checked := 0
	for name, src := range splitCorpus(t) {
		decode := func() *decoder {
			d := &decoder{}
			d.file("t.yaml", src)
			return d
		}
		a, b := decode(), decode()
		if a.unreadable || a.errs.n > 0 || len(a.specs) != 1 {
			continue
		}
		a.validate()
		if !reflect.DeepEqual(a.specs, b.specs) {
			t.Errorf("%s: validation changed the specs", name)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d files checked", checked)
	}
}

// A file loaded again unchanged is not decoded again.
func TestLoaderReusesFiles(t *testing.T) {
	l := NewLoader()
	files := map[string][]byte{"a.yaml": []byte(base), "b.yaml": []byte("apiVersion: loom/v1\nswitches:\n  - {name: red, tunnelKey: 7}\n")}
	sameLoad(t, l, "first", files)
	a, b := l.decoded["a.yaml"], l.decoded["b.yaml"]
	if a == nil || b == nil {
		t.Fatal("nothing kept")
	}
	files["b.yaml"] = []byte("apiVersion: loom/v1\nswitches:\n  - {name: red, tunnelKey: 8}\n")
	sameLoad(t, l, "b changed", files)
	if l.decoded["a.yaml"] != a || l.decoded["b.yaml"] == b {
		t.Error("a.yaml decoded again, or b.yaml not")
	}
	// Under another name, the same bytes are decoded again (positions
	// name the file).
	sameLoad(t, l, "renamed", map[string][]byte{"c.yaml": []byte(base), "b.yaml": files["b.yaml"]})
	if l.decoded["c.yaml"] == nil || l.decoded["c.yaml"].spec == a.spec {
		t.Error("c.yaml not decoded")
	}
}

// The entries of a changed file that neither changed nor moved are not
// decoded again.
func TestLoaderReusesDecodedEntries(t *testing.T) {
	src := topotest.Generate(4, 10, 5)
	l := NewLoader()
	sameLoad(t, l, "first", map[string][]byte{"t.yaml": src})
	// Mark what p7 decoded to: the next load shows the mark if it reuses it.
	var p7 *cachedItem
	for text, list := range l.items {
		if strings.Contains(text, "name: p7\n") {
			p7 = list[0]
		}
	}
	if p7 == nil || !p7.decoded.ok {
		t.Fatal("p7 not kept decoded")
	}
	p7.decoded.v.FieldByName("Interface").SetString("marked")
	next := append(append([]byte{}, src...), "  - name: extra\n    switch: s1\n    host: h1\n    mac: auto\n    interface: x\n"...)
	topo, err := l.LoadBytes(map[string][]byte{"t.yaml": next})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range topo.Ports {
		if p.Name == "p7" && p.Interface != "marked" {
			t.Errorf("p7 decoded again: interface %q", p.Interface)
		}
	}
	// An entry that moved is decoded again, with its new position.
	moved := append([]byte("# a line more\n"), next...)
	sameLoad(t, l, "moved", map[string][]byte{"t.yaml": moved})
}
