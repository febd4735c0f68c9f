package edit

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/topology"
)

// Edits through an index. Add, Delete and the others parse every file
// to find an object and check the result; with thousands of objects that
// costs more than everything else an edit does. fast finds objects in
// the files' layouts (an Indexer's, which keeps them from one edit to the
// next), and changes the lines of one list entry: an entry added is
// rendered and put after the list's last entry, one deleted is cut with
// the comments above it, and one set (or an ACL whose rules change) is
// parsed alone, edited and checked as a file of its own, then put back in
// its place. The bytes are those the whole-file edit makes (a test holds
// them equal); when a step cannot be taken that way (a flow list, the
// last entry of a list, an entry the splice would not say right) fast
// declines (nil files, nil error) and the whole-file edit runs.

type fast struct {
	ix    Indexer
	quiet bool
	ok    bool
	names []string
	lays  map[string]*topology.Layout
}

func newFast(files Files, o Options) *fast {
	x := &fast{ix: o.Index, quiet: o.NoPositions, lays: map[string]*topology.Layout{}}
	if x.ix == nil || len(files) == 0 {
		return x
	}
	x.ok = true
	x.update(nil, files)
	return x
}

// update takes the layouts of the files that changed from before to
// after.
func (x *fast) update(before, after Files) {
	if !x.ok {
		return
	}
	x.names = x.names[:0]
	for n, b := range after {
		x.names = append(x.names, n)
		if old, ok := before[n]; ok && bytes.Equal(old, b) {
			continue
		}
		lay, ok := x.ix.Layout(b)
		if !ok {
			x.ok = false
			return
		}
		x.lays[n] = lay
	}
	sort.Strings(x.names)
}

func (x *fast) at(file string, line int) string {
	if x.quiet {
		return ""
	}
	return fmt.Sprintf(" at %s:%d", file, line)
}

// key is the first top-level key of kind in file, or nil.
func (x *fast) key(file string, kind Kind) *topology.KeyLayout {
	lay := x.lays[file]
	if lay == nil {
		return nil
	}
	for i := range lay.Keys {
		if lay.Keys[i].Key == string(kind) {
			return &lay.Keys[i]
		}
	}
	return nil
}

// usable tells whether every list of kind is a block list whose entries
// the layouts know.
func (x *fast) usable(kind Kind) bool {
	if !x.ok {
		return false
	}
	for _, n := range x.names {
		if kl := x.key(n, kind); kl != nil && kl.Seq && !kl.List {
			return false
		}
	}
	return true
}

// find is where the object is: its file, its list and its index.
func (x *fast) find(kind Kind, name string) (string, *topology.KeyLayout, int, bool) {
	for _, n := range x.names {
		kl := x.key(n, kind)
		if kl == nil || !kl.List {
			continue
		}
		for i, it := range kl.Items {
			if it.NameLine > 0 && it.Name == name {
				return n, kl, i, true
			}
		}
	}
	return "", nil, 0, false
}

// notFound is must's error.
func (x *fast) notFound(kind Kind, name string) error {
	var names []string
	for _, n := range x.names {
		if kl := x.key(n, kind); kl != nil && kl.List {
			for _, it := range kl.Items {
				if it.NameLine > 0 {
					names = append(names, it.Name)
				}
			}
		}
	}
	return coded(ErrNotFound, "no %s named %q%s", kind.Singular(), name, didYouMean(name, names))
}

// dashContent tells whether line is an entry whose content starts on its
// dash's line, the dash at column indent.
func dashContent(line string, indent int) bool {
	if len(line) < indent+2 || line[indent] != '-' || line[indent+1] != ' ' {
		return false
	}
	rest := strings.TrimLeft(line[indent+1:], " ")
	return rest != "" && rest[0] != '\n' && rest[0] != '#'
}

// with is files with file's lines replaced: lines[:from], text,
// lines[to:].
func with(files Files, file string, lines []string, from, to int, text string) Files {
	out := make(Files, len(files))
	for n, b := range files {
		out[n] = b
	}
	var b strings.Builder
	for _, l := range lines[:from] {
		b.WriteString(l)
	}
	b.WriteString(text)
	for _, l := range lines[to:] {
		b.WriteString(l)
	}
	out[file] = []byte(b.String())
	return out
}

func (x *fast) add(files Files, kind Kind, name string, fields []Field) (Files, error) {
	if !x.usable(kind) || kind == Ports && !x.usable(Switches) {
		return nil, nil
	}
	obj, err := object(name, fields)
	if err != nil {
		return nil, err
	}
	return x.addObject(files, kind, name, obj)
}

// addObject is set.add through the layouts.
func (x *fast) addObject(files Files, kind Kind, name string, obj *yaml.Node) (Files, error) {
	if f, kl, i, ok := x.find(kind, name); ok {
		return nil, coded(ErrExists, "%s %q already exists%s", kind.Singular(), name, x.at(f, kl.Items[i].NameLine))
	}
	// The file set.target picks.
	target, swFile := "", ""
	if kind == Ports {
		if v := get(obj, "switch"); v != nil && v.Kind == yaml.ScalarNode {
			if f, _, _, ok := x.find(Switches, v.Value); ok {
				swFile = f
				if kl := x.key(f, kind); kl != nil && kl.Seq {
					target = f
				}
			}
		}
	}
	for _, n := range x.names {
		if kl := x.key(n, kind); target == "" && kl != nil && kl.Seq {
			target = n
		}
	}
	if target == "" {
		target = swFile
	}
	kl := x.key(target, kind)
	if target == "" || kl == nil || !kl.List || len(kl.Items) == 0 {
		return nil, nil
	}
	lines := splitLines(files[target])
	last := kl.Items[len(kl.Items)-1]
	if !dashContent(lines[last.Start], kl.Indent) {
		return nil, nil
	}
	text, err := render(seqOf(obj))
	if err != nil {
		return nil, nil
	}
	pad := strings.Repeat(" ", kl.Indent)
	ins := indentText(text, pad, pad)
	var a, b any
	if yaml.Unmarshal([]byte(ins), &a) != nil || yaml.Unmarshal([]byte(text), &b) != nil || !reflect.DeepEqual(a, b) {
		return nil, nil
	}
	f := &file{lines: lines}
	where := f.end(last.Start, kl.Indent, false)
	return with(files, target, lines, where, where, ins), nil
}

func (x *fast) del(files Files, kind Kind, name string) (Files, error) {
	if !x.usable(kind) {
		return nil, nil
	}
	fn, kl, i, ok := x.find(kind, name)
	if !ok {
		return nil, x.notFound(kind, name)
	}
	if len(kl.Items) == 1 {
		return nil, nil // the list becomes []: the key is rewritten
	}
	lines := splitLines(files[fn])
	it := kl.Items[i]
	if !dashContent(lines[it.Start], kl.Indent) {
		return nil, nil
	}
	f := &file{lines: lines}
	return with(files, fn, lines, f.head(it.Start, kl.Indent), f.end(it.Start, kl.Indent, false), ""), nil
}

// entry parses the named object's entry alone, as a file of its own, and
// lets fn change it (at says where the object is written, for messages);
// the entry's new lines replace the old ones.
func (x *fast) entry(files Files, kind Kind, name string, change func(f *file, obj *yaml.Node, at string) error) (Files, error) {
	if !x.usable(kind) {
		return nil, nil
	}
	fn, kl, i, ok := x.find(kind, name)
	if !ok {
		return nil, x.notFound(kind, name)
	}
	it := kl.Items[i]
	lines := splitLines(files[fn])
	f, err := parseFile(fn, []byte(strings.Join(lines[it.Start:it.End], "")))
	if err != nil || len(f.doc.Content) != 1 || f.doc.Content[0].Kind != yaml.SequenceNode || len(f.doc.Content[0].Content) != 1 {
		return nil, nil
	}
	f.off, f.quiet = it.Start, x.quiet
	obj := f.doc.Content[0].Content[0]
	at := obj
	if v := get(obj, "name"); v != nil {
		at = v
	}
	if err := change(f, obj, f.at(at.Line)); err != nil {
		return nil, err
	}
	if !f.changed {
		out := make(Files, len(files))
		for n, b := range files {
			out[n] = b
		}
		return out, nil
	}
	b, ok := f.splicedOnly()
	if !ok {
		return nil, nil
	}
	return with(files, fn, lines, it.Start, it.End, string(b)), nil
}

func (x *fast) set(files Files, kind Kind, name string, fields []Field) (Files, error) {
	if !x.usable(kind) {
		return nil, nil
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("nothing to set: give key=value")
	}
	if _, _, _, ok := x.find(kind, name); !ok {
		return nil, x.notFound(kind, name)
	}
	edits, err := fieldEdits(kind, name, fields, func(n string) (string, bool) {
		f, kl, i, ok := x.find(kind, n)
		if !ok {
			return "", false
		}
		return x.at(f, kl.Items[i].NameLine), true
	})
	if err != nil {
		return nil, err
	}
	return x.entry(files, kind, name, func(f *file, obj *yaml.Node, _ string) error {
		return f.setFields(obj, fmt.Sprintf("%s %q", kind.Singular(), name), edits)
	})
}

func (x *fast) addRule(files Files, acl string, fields []Field, position int) (Files, int, error) {
	if !x.usable(ACLs) {
		return nil, 0, nil
	}
	r, err := ruleNode(fields)
	if err != nil {
		return nil, 0, err
	}
	if _, _, _, ok := x.find(ACLs, acl); !ok {
		obj, err := newACL(acl, r)
		if err != nil {
			return nil, 0, err
		}
		out, err := x.addObject(files, ACLs, acl, obj)
		return out, -1, err
	}
	idx := 0
	out, err := x.entry(files, ACLs, acl, func(f *file, obj *yaml.Node, at string) error {
		var err error
		idx, err = f.addRule(obj, acl, r, position, at)
		return err
	})
	return out, idx, err
}

func (x *fast) deleteRule(files Files, acl, rule string) (Files, error) {
	return x.entry(files, ACLs, acl, func(f *file, obj *yaml.Node, at string) error {
		return f.deleteRule(obj, acl, rule, at)
	})
}
