package topology

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sort"
	"sync"

	"go.yaml.in/yaml/v4"
)

// Loading again what changed a little. A Loader loads as Load and
// LoadBytes do, but keeps what it parsed: a file is split into its
// top-level keys and, for a key whose value is a block list, the list's
// entries (each from its dash to the next entry's), and each entry's text
// is parsed once and kept. The next load of a file parses only the
// entries whose text is new, and the file with every entry blanked out
// (a few blank lines cost nothing to parse); the entries kept are moved to
// their new lines, and the tree assembled from the pieces is the tree a
// whole parse makes (tests hold the two equal). Decoding and validation
// then run on it as on any other: same topology, same problems, same
// positions.
//
// A file the split cannot read safely is parsed whole, as by Load: one
// with a YAML anchor or alias (an alias may name an anchor in another
// entry), a document marker or directive, a carriage return, a top-level
// key that is not a plain word, or an entry that does not parse alone as
// one list entry.

// Loader loads topologies as Load and LoadBytes do, parsing again only
// the entries of files' lists whose text changed since it last saw them.
// Its methods may be called from several goroutines; they take turns.
type Loader struct {
	mu    sync.Mutex
	gen   int
	items map[string][]*cachedItem // by the entry's text
	// roots are the last files assembled, to hand out again while none
	// of their entries moved (a Layout for an edit, then the load of the
	// same bytes).
	roots []*assembled
	// decoded are the files decoded without a problem, by name: one
	// loaded again unchanged is not decoded again (its specs are only
	// read by validation).
	decoded map[string]*decodedFile
}

// decodedFile is what decoding a file gave.
type decodedFile struct {
	src      []byte
	spec     *FileSpec
	end      Pos
	includes []Pos
	used     int
}

// decodedFile is the file decoded before under name with the same bytes.
// The caller holds l.mu.
func (l *Loader) decodedFile(name string, src []byte) *decodedFile {
	df := l.decoded[name]
	if df == nil || !bytes.Equal(df.src, src) {
		return nil
	}
	df.used = l.gen
	return df
}

// keepDecoded keeps what decoding a file gave. The caller holds l.mu.
func (l *Loader) keepDecoded(name string, src []byte, spec *FileSpec, end Pos, includes []Pos) {
	if l.decoded == nil {
		l.decoded = map[string]*decodedFile{}
	}
	l.decoded[name] = &decodedFile{src: bytes.Clone(src), spec: spec, end: end, includes: includes, used: l.gen}
}

// assembled is a file's tree as assemble made it.
type assembled struct {
	src   []byte
	root  *yaml.Node
	lay   *Layout
	items []*cachedItem
	bases []int                        // each item's base when the tree was made
	seqs  map[*yaml.Node][]*cachedItem // each list's entries, in order
	used  int                          // the generation that last used it
}

// maxRoots is how many assembled files a Loader keeps at most (each holds
// a copy of its file).
const maxRoots = 8

// cachedItem is one list entry's parsed node, as it was last placed, and
// what it decoded to there.
type cachedItem struct {
	node    *yaml.Node // the entry (the mapping under the dash), lines moved to base
	seq     yaml.Node  // the sequence node its text parses to, for its position
	base    int        // the lines node's were moved down by
	used    int        // the generation of the load that last used it
	name    string     // its name, and the name's line less base (0: none)
	nameAt  int
	decoded decodedEntry
}

// decodedEntry is the spec an entry decoded to without a problem, in a
// file, at a base (its positions name both).
type decodedEntry struct {
	ok   bool
	file string
	base int
	v    reflect.Value
}

// NewLoader makes an empty Loader.
func NewLoader() *Loader { return &Loader{items: map[string][]*cachedItem{}} }

// Load is Load(paths...), reusing what the Loader parsed before.
func (l *Loader) Load(paths ...string) (*Topology, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.evict()
	return loadWith(diskSource{}, paths, l)
}

// LoadBytes is LoadBytes(files), reusing what the Loader parsed before.
func (l *Loader) LoadBytes(files map[string][]byte) (*Topology, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.evict()
	return loadWith(newMapSource(files), sortedNames(files), l)
}

// ReadFilesIn is ReadFilesIn(paths...), reusing what the Loader parsed
// before (finding the included files parses them).
func (l *Loader) ReadFilesIn(paths ...string) (dir string, files map[string][]byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.evict()
	return readFilesIn(paths, l)
}

// evict forgets the entries and the files that neither this load nor the
// one before used (and the trees that hold them). The caller holds l.mu.
func (l *Loader) evict() {
	for name, df := range l.decoded {
		if df.used < l.gen-1 {
			delete(l.decoded, name)
		}
	}
	keep := l.roots[:0]
	for _, a := range l.roots {
		live := a.used >= l.gen-1
		for _, it := range a.items {
			live = live && it.used >= l.gen-1
		}
		if live {
			keep = append(keep, a)
		}
	}
	l.roots = keep
	for text, list := range l.items {
		keep := list[:0]
		for _, it := range list {
			if it.used >= l.gen-1 {
				keep = append(keep, it)
			}
		}
		if len(keep) == 0 {
			delete(l.items, text)
		} else {
			l.items[text] = keep
		}
	}
	l.gen++
}

// Layout is how a topology file is written, as a Loader splits it: its
// top-level keys in order and, for those whose value is a block list, the
// lines of each entry. Lines count from 0.
type Layout struct {
	Keys []KeyLayout
}

// KeyLayout is one top-level key of a file.
type KeyLayout struct {
	Key  string
	Line int // the key's line
	// End is the line after the key's value (and the comments and blank
	// lines after it): the next key's line, or the file's line count.
	End int
	// Seq tells whether the value is a list; List, whether it is a block
	// list whose entries are in Items, their dashes at column Indent.
	Seq, List bool
	Indent    int
	Items     []ItemLayout
}

// ItemLayout is one entry of a block list.
type ItemLayout struct {
	// Start is the line of the entry's dash; End the line after it and
	// the blank and comment lines that follow it: the next entry's line,
	// or the key's End.
	Start, End int
	// Name is the value of the entry's name key, when it is a scalar, and
	// NameLine the line it is on (from 1; 0 without a name).
	Name     string
	NameLine int
}

// Layout splits src, a topology file, as the Loader does for loading (and
// keeps what it parsed for the next load). ok is false for a file it
// cannot split (see above): one that would be parsed whole.
func (l *Loader) Layout(src []byte) (lay *Layout, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() {
		if recover() != nil {
			lay, ok = nil, false
		}
	}()
	_, lay, ok = l.assemble(src)
	return lay, ok
}

func sortedNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// region is a top-level key of a file, as split: its lines [line, end)
// and, for a block list, its entries' lines.
type region struct {
	key       string
	line, end int
	list      bool
	indent    int
	items     [][2]int // [start, end) of each entry
}

// lineInfo is what split needs of a line.
type lineInfo struct {
	start, end int // bytes of the line, without its line feed
	indent     int
	content    bool // neither blank nor a comment
}

// splitFile splits src into its top-level keys, or says it cannot.
func splitFile(src []byte) ([]region, []lineInfo, bool) {
	if bytes.IndexByte(src, '\r') >= 0 || bytes.IndexByte(src, '\t') >= 0 || bytes.Contains(src, []byte("\u0085")) ||
		bytes.Contains(src, []byte("\u2028")) || bytes.Contains(src, []byte("\u2029")) {
		return nil, nil, false // line breaks the parser counts and the split would not
	}
	var lines []lineInfo
	for start := 0; start < len(src); {
		end := bytes.IndexByte(src[start:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += start
		}
		li := lineInfo{start: start, end: end}
		for li.indent < end-start && src[start+li.indent] == ' ' {
			li.indent++
		}
		li.content = start+li.indent < end && src[start+li.indent] != '#'
		lines = append(lines, li)
		start = end + 1
	}
	text := func(i int) []byte { return src[lines[i].start+lines[i].indent : lines[i].end] }
	isDash := func(i int) bool {
		t := text(i)
		return len(t) > 0 && t[0] == '-' && (len(t) == 1 || t[1] == ' ')
	}
	var regions []region
	i := 0
	for i < len(lines) && !lines[i].content {
		i++
	}
	for i < len(lines) {
		li := lines[i]
		if li.indent != 0 {
			return nil, nil, false // content before the first key, or a stray line
		}
		key, rest, ok := keyLine(text(i))
		if !ok {
			return nil, nil, false
		}
		r := region{key: key, line: i}
		// The key's value runs to the next line at column 0 with content
		// (for a list at column 0, one that is not an entry).
		first := -1
		j := i + 1
		for ; j < len(lines); j++ {
			if !lines[j].content {
				continue
			}
			if first < 0 {
				first = j
			}
			if lines[j].indent == 0 && !(first >= 0 && lines[first].indent == 0 && isDash(j) && rest == "") {
				break
			}
		}
		r.end = j
		if rest == "" && first >= 0 && first < j && isDash(first) {
			r.list, r.indent = true, lines[first].indent
			for k := first; k < j; k++ {
				if !lines[k].content {
					continue
				}
				switch {
				case lines[k].indent < r.indent:
					return nil, nil, false
				case lines[k].indent == r.indent:
					if !isDash(k) {
						return nil, nil, false
					}
					if n := len(r.items); n > 0 {
						r.items[n-1][1] = k
					}
					r.items = append(r.items, [2]int{k, j})
				}
			}
		}
		regions = append(regions, r)
		i = j
	}
	if len(regions) == 0 {
		return nil, nil, false
	}
	return regions, lines, true
}

// keyLine reads a top-level "key:" line: the key, and what follows the
// colon unless it is only a comment. A key that is not a plain word (or a
// document marker, a directive) is not read.
func keyLine(t []byte) (key, rest string, ok bool) {
	c := bytes.IndexByte(t, ':')
	if c <= 0 {
		return "", "", false
	}
	for i, b := range t[:c] {
		word := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
		if !word && (b != '-' || i == 0) {
			return "", "", false
		}
	}
	after := t[c+1:]
	if len(after) > 0 && after[0] != ' ' {
		return "", "", false
	}
	r := bytes.TrimSpace(after)
	if len(r) > 0 && r[0] == '#' {
		r = nil
	}
	return string(t[:c]), string(r), true
}

var errSplit = errors.New("cannot be split")

// assemble makes the tree of src from the skeleton (src with its lists'
// entries blanked) and the entries, parsing only those not kept. The
// caller holds l.mu. It returns the root mapping.
func (l *Loader) assemble(src []byte) (*yaml.Node, *Layout, bool) {
	a, ok := l.assembleFile(src)
	if !ok {
		return nil, nil, false
	}
	return a.root, a.lay, true
}

// assembleFile is assemble, with the entries of each list.
func (l *Loader) assembleFile(src []byte) (*assembled, bool) {
	for _, a := range l.roots {
		if a.fresh(src) {
			for _, it := range a.items {
				it.used = l.gen
			}
			a.used = l.gen
			return a, true
		}
	}
	a := &assembled{src: bytes.Clone(src), seqs: map[*yaml.Node][]*cachedItem{}, used: l.gen}
	root, lay, ok := l.assembleNew(src, a)
	if !ok {
		return nil, false
	}
	a.root, a.lay = root, lay
	l.roots = append(l.roots, a)
	if len(l.roots) > maxRoots {
		l.roots = l.roots[1:]
	}
	return a, true
}

// fresh tells whether a is src's tree and none of its entries moved
// since (an entry's node is moved to where another file has it).
func (a *assembled) fresh(src []byte) bool {
	if !bytes.Equal(a.src, src) {
		return false
	}
	for i, it := range a.items {
		if it.base != a.bases[i] {
			return false
		}
	}
	return true
}

func (l *Loader) assembleNew(src []byte, a *assembled) (*yaml.Node, *Layout, bool) {
	regions, lines, ok := splitFile(src)
	if !ok {
		return nil, nil, false
	}
	skel := make([]byte, 0, len(src))
	blank := make([]bool, len(lines))
	for _, r := range regions {
		for _, it := range r.items {
			for k := it[0]; k < it[1]; k++ {
				blank[k] = true
			}
		}
	}
	for k, li := range lines {
		if !blank[k] {
			skel = append(skel, src[li.start:li.end]...)
		}
		if li.end < len(src) {
			skel = append(skel, '\n')
		}
	}
	root, err := parseOne(skel)
	if err != nil || root.Kind != yaml.MappingNode || plain(root) != nil {
		return nil, nil, false
	}
	lay := &Layout{Keys: make([]KeyLayout, len(regions))}
	if len(root.Content) != 2*len(regions) {
		return nil, nil, false
	}
	used := map[*cachedItem]int{} // entries of each text taken so far, by the text's first
	for ri, r := range regions {
		k, v := root.Content[2*ri], root.Content[2*ri+1]
		if k.Kind != yaml.ScalarNode || k.Value != r.key || k.Line != r.line+1 {
			return nil, nil, false
		}
		kl := KeyLayout{Key: r.key, Line: r.line, End: r.end, Seq: v.Kind == yaml.SequenceNode}
		if r.list {
			if v.Kind != yaml.ScalarNode || v.Tag != "!!null" || v.Value != "" {
				return nil, nil, false
			}
			seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(r.items))}
			kl.Seq, kl.List, kl.Indent = true, true, r.indent
			kl.Items = make([]ItemLayout, len(r.items))
			for n, span := range r.items {
				it := l.item(src[lines[span[0]].start:endOf2(lines, span[1], len(src))], span[0], used)
				if it == nil {
					return nil, nil, false
				}
				if n == 0 {
					seq.Line, seq.Column, seq.Style = it.seq.Line+it.base, it.seq.Column, it.seq.Style
				}
				a.items, a.bases = append(a.items, it), append(a.bases, it.base)
				a.seqs[seq] = append(a.seqs[seq], it)
				seq.Content[n] = it.node
				line := 0
				if it.nameAt > 0 {
					line = it.nameAt + it.base
				}
				kl.Items[n] = ItemLayout{Start: span[0], End: span[1], Name: it.name, NameLine: line}
			}
			root.Content[2*ri+1] = seq
		}
		lay.Keys[ri] = kl
	}
	return root, lay, true
}

// endOf2 is the byte where line end starts (the end of src past the last).
func endOf2(lines []lineInfo, end, size int) int {
	if end < len(lines) {
		return lines[end].start
	}
	return size
}

// item returns the node of the list entry whose text is text, at line
// start (0-based): a kept one not yet used in this assembly (used counts
// them by text), moved there, or a new parse. nil if the text is not one
// list entry on its own.
func (l *Loader) item(text []byte, start int, used map[*cachedItem]int) *cachedItem {
	list := l.items[string(text)] // no copy of text for a lookup
	if len(list) > 0 && used[list[0]] < len(list) {
		it := list[used[list[0]]]
		used[list[0]]++
		it.used = l.gen
		if d := start - it.base; d != 0 {
			shift(it.node, d)
			it.base = start
		}
		return it
	}
	seq, err := parseOne(text)
	if err != nil || seq.Kind != yaml.SequenceNode || len(seq.Content) != 1 || seq.Line != 1 || plain(seq) != nil {
		return nil
	}
	it := &cachedItem{node: seq.Content[0], seq: *seq, used: l.gen}
	it.seq.Content = nil
	it.name, it.nameAt = nameOf(it.node)
	shift(it.node, start)
	it.base = start
	key := string(text)
	if len(list) == 0 {
		used[it]++
	} else {
		used[list[0]]++
	}
	l.items[key] = append(list, it)
	return it
}

// parseOne parses src, which must hold one YAML document, and returns its
// root node.
func parseOne(src []byte) (*yaml.Node, error) {
	ld, err := yaml.NewLoader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := ld.Load(&doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := ld.Load(&extra); !errors.Is(err, io.EOF) {
		return nil, errSplit
	}
	if len(doc.Content) != 1 {
		return nil, errSplit
	}
	return doc.Content[0], nil
}

// plain returns errSplit if n or a node under it has an anchor or is an
// alias: those may reach across entries.
func plain(n *yaml.Node) error {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return errSplit
	}
	for _, c := range n.Content {
		if err := plain(c); err != nil {
			return err
		}
	}
	return nil
}

// shift moves n and the nodes under it d lines down.
func shift(n *yaml.Node, d int) {
	n.Line += d
	for _, c := range n.Content {
		shift(c, d)
	}
}

// nameOf is the value of the (first) name key of mapping n, if a scalar,
// and its line.
func nameOf(n *yaml.Node) (string, int) {
	if n.Kind != yaml.MappingNode {
		return "", 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
				return v.Value, v.Line
			}
			return "", 0
		}
	}
	return "", 0
}
