package edit

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// file is one topology file being edited: its text, its yaml.v3 tree
// (which every edit changes) and the splices that make the same change to
// the text.
type file struct {
	name    string
	src     []byte
	lines   []string // src's lines, each ending in \n
	doc     *yaml.Node
	splices []splice
	changed bool
	whole   bool // a change the splices do not cover: encode the tree
	// off is how many lines come before src in the file it is a part of
	// (an entry edited alone), for positions in messages; quiet leaves
	// positions out of messages (files the user does not see).
	off   int
	quiet bool
}

// at is " at FILE:LINE" for a line of src (from 1), for messages.
func (f *file) at(line int) string {
	if f.quiet {
		return ""
	}
	return fmt.Sprintf(" at %s:%d", f.name, line+f.off)
}

// splitLines is src's lines, each ending in a line feed (one is added to
// the last if it has none).
func splitLines(src []byte) []string {
	lines := strings.SplitAfter(string(src), "\n")
	if n := len(lines); lines[n-1] == "" {
		lines = lines[:n-1]
	} else {
		lines[n-1] += "\n"
	}
	return lines
}

// splice replaces lines [from, to) with text; from == to inserts.
type splice struct {
	from, to int
	text     string
}

func parseFile(name string, src []byte) (*file, error) {
	f := &file{name: name, src: src, doc: &yaml.Node{Kind: yaml.DocumentNode}}
	if err := yaml.Unmarshal(src, f.doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f.doc.Kind == 0 {
		f.doc.Kind = yaml.DocumentNode
	}
	f.lines = splitLines(src)
	return f, nil
}

// root is the file's top mapping, or nil.
func (f *file) root() *yaml.Node {
	if len(f.doc.Content) == 0 || f.doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return f.doc.Content[0]
}

// list is the kind's list in the file: the index of its key in the root
// (-1 if not written) and the list (nil if it is not one).
func (f *file) list(kind Kind) (int, *yaml.Node) {
	r := f.root()
	i := index(r, string(kind))
	if i < 0 {
		return -1, nil
	}
	if v := r.Content[2*i+1]; v.Kind == yaml.SequenceNode {
		return i, v
	}
	return i, nil
}

// index is the pair number of key in mapping m, or -1.
func index(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i / 2
		}
	}
	return -1
}

// get is the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if i := index(m, key); i >= 0 {
		return m.Content[2*i+1]
	}
	return nil
}

func keys(m *yaml.Node) []string {
	var out []string
	for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
		out = append(out, m.Content[i].Value)
	}
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

// setPath sets m[path...] to v, making mappings on the way. A new scalar
// or flow value keeps the line comment of the one it replaces.
func setPath(m *yaml.Node, path []string, v *yaml.Node) error {
	for ; len(path) > 1; path = path[1:] {
		i := index(m, path[0])
		if i < 0 {
			nm := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, str(path[0]), nm)
			m = nm
			continue
		}
		child := m.Content[2*i+1]
		if isNull(child) {
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content[2*i+1] = child
		}
		if child.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is %s, not a mapping", path[0], kindName(child))
		}
		m = child
	}
	i := index(m, path[0])
	if i < 0 {
		m.Content = append(m.Content, str(path[0]), v)
		return nil
	}
	old := m.Content[2*i+1]
	if oneLine(old) && oneLine(v) {
		v.LineComment = old.LineComment
	}
	m.Content[2*i+1] = v
	return nil
}

func oneLine(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode || n.Style&yaml.FlowStyle != 0 }

// removePath removes m[path...], and mappings it leaves empty. When the
// key is not there it returns false and the keys where it was looked for.
func removePath(m *yaml.Node, path []string) (bool, []string) {
	i := index(m, path[0])
	if i < 0 {
		return false, keys(m)
	}
	if len(path) > 1 {
		child := m.Content[2*i+1]
		if child.Kind != yaml.MappingNode {
			return false, nil
		}
		if ok, known := removePath(child, path[1:]); !ok {
			return false, known
		}
		if len(child.Content) > 0 {
			return true, nil
		}
	}
	m.Content = append(m.Content[:2*i], m.Content[2*i+2:]...)
	return true, nil
}

// span is where an entry (a list item, or a key and its value) is
// written: lines [head, end), its comments above from head, itself from
// start. col is the column of its contents (the dash of an item, the key
// of a pair), prefix what comes before a pair's key on its line when it
// is the first key of a list item ("  - "), else "".
type span struct {
	head, start, end, col int
	prefix                string
}

func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

func isComment(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "#") }

// itemSpan is where list item n is written, if its dash starts a line.
func (f *file) itemSpan(n *yaml.Node) (span, bool) {
	if n.Line < 1 || n.Line > len(f.lines) {
		return span{}, false
	}
	line := f.lines[n.Line-1]
	if n.Column-1 > len(line) || n.Column < 1 {
		return span{}, false
	}
	pre := line[:n.Column-1]
	if strings.TrimSpace(pre) != "-" {
		return span{}, false
	}
	s := span{start: n.Line - 1, col: indent(pre)}
	s.head, s.end = f.head(s.start, s.col), f.end(s.start, s.col, false)
	return s, true
}

// pairSpan is where the pair of key k is written.
func (f *file) pairSpan(k *yaml.Node) (span, bool) {
	if k.Line < 1 || k.Line > len(f.lines) || k.Column < 1 {
		return span{}, false
	}
	line := f.lines[k.Line-1]
	if k.Column-1 > len(line) {
		return span{}, false
	}
	pre := line[:k.Column-1]
	s := span{start: k.Line - 1, col: k.Column - 1}
	switch strings.TrimSpace(pre) {
	case "":
		s.head = f.head(s.start, s.col)
	case "-":
		s.head, s.prefix = s.start, pre
	default:
		return span{}, false
	}
	s.end = f.end(s.start, s.col, true)
	return s, true
}

// head is the first of the comment lines right above line start at its
// column.
func (f *file) head(start, col int) int {
	h := start
	for h > 0 && isComment(f.lines[h-1]) && indent(f.lines[h-1]) == col {
		h--
	}
	return h
}

// end is the line after the entry that starts at line start: what is
// indented deeper than col (or, for a pair, a list at col), and the
// deeper comments right after it.
func (f *file) end(start, col int, pair bool) int {
	end := start + 1
	for j := start + 1; j < len(f.lines); j++ {
		t := strings.TrimSpace(f.lines[j])
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		ind := indent(f.lines[j])
		if ind > col || pair && ind == col && (t == "-" || strings.HasPrefix(t, "- ")) {
			end = j + 1
			continue
		}
		break
	}
	for end < len(f.lines) && isComment(f.lines[end]) && indent(f.lines[end]) > col {
		end++
	}
	return end
}

// render encodes n with a two-space indent, the style of the examples.
func render(n *yaml.Node) (string, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// indentText puts first before the first line of text and rest before
// the others.
func indentText(text, first, rest string) string {
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for i, l := range lines {
		switch {
		case i == 0:
			b.WriteString(first)
		case l != "" && l != "\n":
			b.WriteString(rest)
		}
		b.WriteString(l)
	}
	return b.String()
}

// noHead is a shallow copy of n without its head comment, which stays
// written above the lines a splice replaces; for a mapping, its first
// key's too.
func noHead(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment = ""
	if c.Kind == yaml.MappingNode && len(c.Content) > 0 {
		c.Content = append([]*yaml.Node(nil), c.Content...)
		k := *c.Content[0]
		k.HeadComment = ""
		c.Content[0] = &k
	}
	return &c
}

func seqOf(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func mapOf(k, v *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, v}}
}

func (f *file) splice(from, to int, text string) {
	f.splices = append(f.splices, splice{from, to, text})
}

// insertItem puts item into the list under key in mapping m, at index at
// (the end when at is negative or past it), making the list if needed.
func (f *file) insertItem(m *yaml.Node, key string, item *yaml.Node, at int) error {
	f.changed = true
	if m == nil {
		if len(f.doc.Content) > 0 {
			return fmt.Errorf("%s: the file is not a YAML mapping", f.name)
		}
		m = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		f.doc.Content = []*yaml.Node{m}
		f.whole = true
	}
	i := index(m, key)
	if i < 0 {
		f.addPair(m, str(key), seqOf(item))
		return nil
	}
	seq := m.Content[2*i+1]
	if isNull(seq) {
		if k := m.Content[2*i]; k.LineComment == "" {
			k.LineComment = seq.LineComment
		}
		m.Content[2*i+1] = seqOf(item)
		f.replacePair(m, i)
		return nil
	}
	if seq.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s is %s, not a list%s", key, kindName(seq), f.at(seq.Line))
	}
	n := len(seq.Content)
	if at < 0 || at > n {
		at = n
	}
	seq.Content = append(seq.Content[:at], append([]*yaml.Node{item}, seq.Content[at:]...)...)
	if n == 0 || seq.Style&yaml.FlowStyle != 0 {
		if n == 0 {
			// Block style; a comment on the line goes to the key, where
			// yaml.v3 writes it (it drops a block list's own).
			seq.Style = 0
			if k := m.Content[2*i]; k.LineComment == "" {
				k.LineComment, seq.LineComment = seq.LineComment, ""
			}
		}
		f.replacePair(m, i)
		return nil
	}
	next, where := seq.Content[at+1:], 0
	var sp span
	var ok bool
	if len(next) > 0 {
		sp, ok = f.itemSpan(next[0])
		where = sp.head
	} else {
		sp, ok = f.itemSpan(seq.Content[at-1])
		where = sp.end
	}
	text, err := render(seqOf(item))
	if !ok || err != nil {
		f.whole = true
		return nil
	}
	f.splice(where, where, indentText(text, strings.Repeat(" ", sp.col), strings.Repeat(" ", sp.col)))
	return nil
}

// deleteItem removes item i of the list under key in mapping m.
func (f *file) deleteItem(m *yaml.Node, key string, i int) {
	f.changed = true
	k := index(m, key)
	seq := m.Content[2*k+1]
	sp, ok := f.itemSpan(seq.Content[i])
	seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
	switch {
	case len(seq.Content) == 0:
		seq.Style = yaml.FlowStyle // key: []
		f.replacePair(m, k)
	case !ok || seq.Style&yaml.FlowStyle != 0:
		f.replacePair(m, k)
	default:
		f.splice(sp.head, sp.end, "")
	}
}

// replacePair rewrites the lines of pair i of m from the tree.
func (f *file) replacePair(m *yaml.Node, i int) {
	k, v := m.Content[2*i], m.Content[2*i+1]
	sp, ok := f.pairSpan(k)
	text, err := render(mapOf(noHead(k), v))
	if !ok || err != nil || m.Style&yaml.FlowStyle != 0 {
		f.whole = true
		return
	}
	f.splice(sp.start, sp.end, f.pairText(sp, text, v))
}

// pairText indents the rendered pair as the one at sp was; a line comment
// of a one-line pair stays at its column.
func (f *file) pairText(sp span, text string, v *yaml.Node) string {
	rest := strings.Repeat(" ", sp.col)
	first := rest
	if sp.prefix != "" {
		first = sp.prefix
	}
	text = indentText(text, first, rest)
	if sp.end-sp.start != 1 || v.LineComment == "" || strings.Count(text, "\n") != 1 {
		return text
	}
	old, now, c := strings.TrimRight(f.lines[sp.start], "\n"), strings.TrimRight(text, "\n"), v.LineComment
	if !strings.HasSuffix(old, c) || !strings.HasSuffix(now, " "+c) {
		return text
	}
	col := len(old) - len(c)
	body := strings.TrimRight(strings.TrimSuffix(now, c), " ")
	if len(body) >= col {
		return text
	}
	return body + strings.Repeat(" ", col-len(body)) + c + "\n"
}

// addPair appends k: v to mapping m, after its last pair; a blank line
// sets a new top-level key apart, as in the examples.
func (f *file) addPair(m *yaml.Node, k, v *yaml.Node) {
	f.changed = true
	var last *yaml.Node
	if len(m.Content) >= 2 {
		last = m.Content[len(m.Content)-2]
	}
	m.Content = append(m.Content, k, v)
	if last == nil || m.Style&yaml.FlowStyle != 0 {
		f.whole = true
		return
	}
	sp, ok := f.pairSpan(last)
	text, err := render(mapOf(k, v))
	if !ok || err != nil {
		f.whole = true
		return
	}
	pre := ""
	if m == f.root() {
		pre = "\n"
	}
	f.splice(sp.end, sp.end, pre+indentText(text, strings.Repeat(" ", sp.col), strings.Repeat(" ", sp.col)))
}

// fieldEdit is one field of Set: its path and new value (nil: remove).
type fieldEdit struct {
	f    Field
	path []string
	v    *yaml.Node
}

// setFields applies edits to the object obj (a list item), splicing each
// top-level key it touched: rewritten, removed or added after the last.
func (f *file) setFields(obj *yaml.Node, what string, edits []fieldEdit) error {
	if obj.Kind != yaml.MappingNode {
		return fmt.Errorf("%s%s is not a mapping", what, f.at(obj.Line))
	}
	orig := map[string]*yaml.Node{}
	var origLast *yaml.Node
	for i := 0; i+1 < len(obj.Content); i += 2 {
		orig[obj.Content[i].Value] = obj.Content[i]
		origLast = obj.Content[i]
	}
	var touched []string
	seen := map[string]bool{}
	for _, e := range edits {
		if e.v == nil {
			if ok, known := removePath(obj, e.path); !ok {
				return fmt.Errorf("%s: %s has no %q to remove%s", e.f, what, e.f.Key, didYouMean(e.path[len(e.path)-1], known))
			}
		} else if err := setPath(obj, e.path, e.v); err != nil {
			return fmt.Errorf("%s: %w", e.f, err)
		}
		if !seen[e.path[0]] {
			seen[e.path[0]] = true
			touched = append(touched, e.path[0])
		}
	}
	f.changed = true
	var added []*yaml.Node
	for _, key := range touched {
		i := index(obj, key)
		k, was := orig[key]
		var sp span
		ok := false
		if was {
			sp, ok = f.pairSpan(k)
		}
		switch {
		case was && !ok, was && i < 0 && sp.prefix != "":
			return f.replaceItem(obj)
		case was && i >= 0:
			text, err := render(mapOf(noHead(obj.Content[2*i]), obj.Content[2*i+1]))
			if err != nil {
				return f.replaceItem(obj)
			}
			f.splice(sp.start, sp.end, f.pairText(sp, text, obj.Content[2*i+1]))
		case was:
			f.splice(sp.head, sp.end, "")
		case i >= 0:
			added = append(added, obj.Content[2*i], obj.Content[2*i+1])
		}
	}
	if len(added) > 0 {
		sp, ok := f.pairSpan(origLast)
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: added}
		text, err := render(m)
		if !ok || err != nil {
			return f.replaceItem(obj)
		}
		f.splice(sp.end, sp.end, indentText(text, strings.Repeat(" ", sp.col), strings.Repeat(" ", sp.col)))
	}
	return nil
}

// replaceItem rewrites the whole list item obj from the tree, in place of
// whatever splices were made for it.
func (f *file) replaceItem(obj *yaml.Node) error {
	f.changed = true
	f.splices = nil
	sp, ok := f.itemSpan(obj)
	text, err := render(seqOf(noHead(obj)))
	if !ok || err != nil {
		f.whole = true
		return nil
	}
	f.splice(sp.start, sp.end, indentText(text, strings.Repeat(" ", sp.col), strings.Repeat(" ", sp.col)))
	return nil
}

// splicedOnly is the edited text when the splices say what the tree
// says; false when the tree would have to be encoded whole.
func (f *file) splicedOnly() ([]byte, bool) {
	if f.whole {
		return nil, false
	}
	whole, err := render(f.doc)
	if err != nil {
		return nil, false
	}
	b, ok := f.spliced()
	return b, ok && f.same(b, []byte(whole))
}

// bytes is the edited file: the original text with the splices, when
// they say what the tree says, else the tree encoded.
func (f *file) bytes() ([]byte, error) {
	whole, err := render(f.doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	if !f.whole {
		if b, ok := f.spliced(); ok && f.same(b, []byte(whole)) {
			return b, nil
		}
	}
	return []byte(whole), nil
}

func (f *file) spliced() ([]byte, bool) {
	sp := append([]splice(nil), f.splices...)
	sort.Slice(sp, func(i, j int) bool {
		if sp[i].from != sp[j].from {
			return sp[i].from > sp[j].from
		}
		return sp[i].to > sp[j].to
	})
	lines := append([]string(nil), f.lines...)
	limit := len(lines)
	for _, s := range sp {
		if s.to > limit || s.from > s.to {
			return nil, false // overlapping
		}
		limit = s.from
		var repl []string
		if s.text != "" {
			repl = strings.SplitAfter(s.text, "\n")
			if repl[len(repl)-1] == "" {
				repl = repl[:len(repl)-1]
			}
		}
		lines = append(lines[:s.from], append(repl, lines[s.to:]...)...)
	}
	return []byte(strings.Join(lines, "")), true
}

// same tells whether the spliced text b decodes to the same data as the
// encoded tree and repeats no comment more often than the original.
func (f *file) same(b, whole []byte) bool {
	var got, want any
	if yaml.Unmarshal(b, &got) != nil || yaml.Unmarshal(whole, &want) != nil || !reflect.DeepEqual(got, want) {
		return false
	}
	before, after := comments(f.src), comments(b)
	for c, n := range after {
		if n > before[c] {
			return false
		}
	}
	return true
}

// comments counts the comment lines of a file.
func comments(src []byte) map[string]int {
	var doc yaml.Node
	out := map[string]int{}
	if yaml.Unmarshal(src, &doc) != nil {
		return out
	}
	walk(&doc, func(n *yaml.Node) {
		for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
			for _, l := range strings.Split(c, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					out[l]++
				}
			}
		}
	})
	return out
}
