package edit

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/topology"
)

// Files are topology files by name, as topology.LoadBytes reads them.
type Files map[string][]byte

// Changed names the files that differ between before and after (changed,
// added or removed), sorted.
func Changed(before, after Files) []string {
	out := []string{}
	for n, b := range after {
		if a, ok := before[n]; !ok || string(a) != string(b) {
			out = append(out, n)
		}
	}
	for n := range before {
		if _, ok := after[n]; !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Kind is a top-level list of named objects in a topology file.
type Kind string

// The kinds of objects an edit can add, delete or set.
const (
	Hosts             Kind = "hosts"
	Switches          Kind = "switches"
	Ports             Kind = "ports"
	ACLs              Kind = "acls"
	L2Gateways        Kind = "l2Gateways"
	ExternalEndpoints Kind = "externalEndpoints"
)

var singular = map[Kind]string{
	Hosts: "host", Switches: "switch", Ports: "port", ACLs: "ACL",
	L2Gateways: "l2 gateway", ExternalEndpoints: "external endpoint",
}

// Singular is how messages name one object of the kind: "port", "ACL".
func (k Kind) Singular() string {
	if s, ok := singular[k]; ok {
		return s
	}
	return string(k)
}

func (k Kind) check() error {
	if _, ok := singular[k]; !ok {
		return fmt.Errorf("unknown kind %q: want hosts, switches, ports, acls, l2Gateways or externalEndpoints", string(k))
	}
	return nil
}

// ErrNotFound and ErrExists are in the errors (errors.Is) of edits of an
// object (or rule) that is not there, or of a name already taken.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// codedError is an error that errors.Is takes for its code.
type codedError struct {
	msg  string
	code error
}

func (e *codedError) Error() string        { return e.msg }
func (e *codedError) Is(target error) bool { return target == e.code }

func coded(code error, format string, args ...any) error {
	return &codedError{fmt.Sprintf(format, args...), code}
}

// NewFile is the file Add creates when there is none.
const NewFile = "topology.yaml"

// Field is one key=value of an edit. Key may be dotted to reach into
// nested mappings (acls.toPort); Value is YAML text ([a, b], 100, false,
// auto), and a value that is not YAML (but does not start with [ or {)
// is a plain string. An empty Value removes the key (Set) or leaves it
// out (Add).
type Field struct {
	Key, Value string
}

func (f Field) String() string { return f.Key + "=" + f.Value }

var keyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z][A-Za-z0-9_-]*)*$`)

// ParseField parses key=value.
func ParseField(s string) (Field, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Field{}, fmt.Errorf("%q: want key=value, e.g. mtu=1400 or ips=[192.0.2.5]", s)
	}
	f := Field{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
	if !keyRE.MatchString(f.Key) {
		return Field{}, fmt.Errorf("%q: the key %q is not a field name (letters, digits, - and _; dots reach into a mapping, as in acls.toPort)", s, f.Key)
	}
	if _, err := f.node(); err != nil {
		return Field{}, err
	}
	return f, nil
}

// ParseFields parses each of args as key=value.
func ParseFields(args []string) ([]Field, error) {
	out := make([]Field, 0, len(args))
	for _, a := range args {
		f, err := ParseField(a)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// node is the value as a YAML node; nil for an empty value.
func (f Field) node() (*yaml.Node, error) {
	if f.Value == "" {
		return nil, nil
	}
	var doc yaml.Node
	err := yaml.Unmarshal([]byte(f.Value), &doc)
	if err != nil && strings.ContainsAny(f.Value[:1], "[{") {
		return nil, fmt.Errorf("%s: the value is not valid YAML: %s (quote it to write a string)",
			f, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err != nil || len(doc.Content) == 0 || doc.Content[0].Kind == yaml.AliasNode {
		return str(f.Value), nil
	}
	n := doc.Content[0]
	walk(n, func(n *yaml.Node) {
		n.HeadComment, n.LineComment, n.FootComment = "", "", ""
		n.Line, n.Column = 0, 0
		n.Anchor = ""
	})
	return n, nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func walk(n *yaml.Node, fn func(*yaml.Node)) {
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// Add adds a new object {name: NAME, fields...} at the end of the kind's
// list. The file is, for a port, the file of its switch if that file has
// a ports list; otherwise the first file (by name) with a list of the
// kind; otherwise, for a port, the file of its switch; otherwise the first
// file. With no files at all, it creates NewFile.
func Add(files Files, kind Kind, name string, fields []Field) (Files, error) {
	return add(files, kind, name, fields, false)
}

func add(files Files, kind Kind, name string, fields []Field, quiet bool) (Files, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	obj, err := object(name, fields)
	if err != nil {
		return nil, err
	}
	s, err := parse(files, quiet)
	if err != nil {
		return nil, err
	}
	if err := s.add(kind, name, obj); err != nil {
		return nil, err
	}
	return s.result(files)
}

// object builds {name: NAME, fields...}.
func object(name string, fields []Field) (*yaml.Node, error) {
	if name == "" {
		return nil, fmt.Errorf("no name given")
	}
	obj := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	obj.Content = append(obj.Content, str("name"), str(name))
	for _, f := range fields {
		if f.Key == "name" {
			return nil, fmt.Errorf("%s: the name is given as NAME, not as a field", f)
		}
		v, err := f.node()
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if err := setPath(obj, strings.Split(f.Key, "."), v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return obj, nil
}

func (s *set) add(kind Kind, name string, obj *yaml.Node) error {
	if l, ok := s.find(kind, name); ok {
		return coded(ErrExists, "%s %q already exists%s", kind.Singular(), name, l.at())
	}
	f, err := s.target(kind, obj)
	if err != nil {
		return err
	}
	return f.insertItem(f.root(), string(kind), obj, -1)
}

// target is the file a new object of kind goes to.
func (s *set) target(kind Kind, obj *yaml.Node) (*file, error) {
	var swFile *file
	if kind == Ports {
		if v := get(obj, "switch"); v != nil && v.Kind == yaml.ScalarNode {
			if l, ok := s.find(Switches, v.Value); ok {
				swFile = l.f
				if _, seq := l.f.list(kind); seq != nil {
					return l.f, nil
				}
			}
		}
	}
	for _, n := range s.names {
		if _, seq := s.files[n].list(kind); seq != nil {
			return s.files[n], nil
		}
	}
	if swFile != nil {
		return swFile, nil
	}
	for _, n := range s.names {
		if s.files[n].root() != nil {
			return s.files[n], nil
		}
	}
	if len(s.names) == 0 {
		f, err := parseFile(NewFile, []byte("apiVersion: "+topology.APIVersion+"\nkind: Topology\n"))
		if err != nil {
			return nil, err
		}
		f.changed = true
		s.files[NewFile] = f
		s.names = []string{NewFile}
		return f, nil
	}
	return nil, fmt.Errorf("no file to add the %s to: none holds a YAML mapping", kind.Singular())
}

// Delete removes the named object.
func Delete(files Files, kind Kind, name string) (Files, error) {
	return del(files, kind, name, false)
}

func del(files Files, kind Kind, name string, quiet bool) (Files, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	s, err := parse(files, quiet)
	if err != nil {
		return nil, err
	}
	l, err := s.must(kind, name)
	if err != nil {
		return nil, err
	}
	l.f.deleteItem(l.f.root(), string(kind), l.i)
	return s.result(files)
}

// Set sets fields of the named object; a field with an empty value
// removes its key. Dotted keys reach into nested mappings, which are
// made as needed and removed when they become empty.
func Set(files Files, kind Kind, name string, fields []Field) (Files, error) {
	return set1(files, kind, name, fields, false)
}

func set1(files Files, kind Kind, name string, fields []Field, quiet bool) (Files, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("nothing to set: give key=value")
	}
	s, err := parse(files, quiet)
	if err != nil {
		return nil, err
	}
	l, err := s.must(kind, name)
	if err != nil {
		return nil, err
	}
	edits, err := fieldEdits(kind, name, fields, func(n string) (string, bool) {
		o, ok := s.find(kind, n)
		if !ok {
			return "", false
		}
		return o.at(), true
	})
	if err != nil {
		return nil, err
	}
	if err := l.f.setFields(l.item(), fmt.Sprintf("%s %q", kind.Singular(), name), edits); err != nil {
		return nil, err
	}
	return s.result(files)
}

// fieldEdits are the edits of Set: fields as paths and nodes, a new name
// checked against the others (find says where one is written).
func fieldEdits(kind Kind, name string, fields []Field, find func(string) (string, bool)) ([]fieldEdit, error) {
	var edits []fieldEdit
	for _, f := range fields {
		v, err := f.node()
		if err != nil {
			return nil, err
		}
		if f.Key == "name" {
			if v == nil || v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: a %s needs a name", f, kind.Singular())
			}
			if at, ok := find(v.Value); ok && v.Value != name {
				return nil, coded(ErrExists, "%s: %s %q already exists%s", f, kind.Singular(), v.Value, at)
			}
		}
		edits = append(edits, fieldEdit{f, strings.Split(f.Key, "."), v})
	}
	return edits, nil
}

// AddRule adds a rule, made of fields, to the named ACL: at index
// position, or at the end when position is negative or past the end.
// An ACL that does not exist is added, with this one rule.
func AddRule(files Files, acl string, rule []Field, position int) (Files, error) {
	out, _, err := addRule(files, acl, rule, position, false)
	return out, err
}

// addRule is AddRule; it also returns the index the rule took (-1 in a
// new ACL).
func addRule(files Files, acl string, rule []Field, position int, quiet bool) (Files, int, error) {
	r, err := ruleNode(rule)
	if err != nil {
		return nil, 0, err
	}
	s, err := parse(files, quiet)
	if err != nil {
		return nil, 0, err
	}
	l, ok := s.find(ACLs, acl)
	if !ok {
		obj, err := newACL(acl, r)
		if err != nil {
			return nil, 0, err
		}
		if err := s.add(ACLs, acl, obj); err != nil {
			return nil, 0, err
		}
		out, err := s.result(files)
		return out, -1, err
	}
	at, err := l.f.addRule(l.item(), acl, r, position, l.at())
	if err != nil {
		return nil, 0, err
	}
	out, err := s.result(files)
	return out, at, err
}

// ruleNode is a rule made of fields.
func ruleNode(rule []Field) (*yaml.Node, error) {
	if len(rule) == 0 {
		return nil, fmt.Errorf("an empty rule: give key=value, e.g. action=allow proto=tcp dstPorts=80")
	}
	r := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range rule {
		v, err := f.node()
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if err := setPath(r, strings.Split(f.Key, "."), v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return r, nil
}

// newACL is an ACL of one rule.
func newACL(acl string, r *yaml.Node) (*yaml.Node, error) {
	obj, err := object(acl, nil)
	if err != nil {
		return nil, err
	}
	obj.Content = append(obj.Content, str("rules"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{r}})
	return obj, nil
}

// addRule puts rule r into the ACL obj (written at, for messages) at
// index position (the end if negative or past it), and returns the index.
func (f *file) addRule(obj *yaml.Node, acl string, r *yaml.Node, position int, at string) (int, error) {
	if obj.Kind != yaml.MappingNode {
		return 0, fmt.Errorf("ACL %q%s is not a mapping", acl, at)
	}
	n := 0
	if rules := get(obj, "rules"); rules != nil && rules.Kind == yaml.SequenceNode {
		n = len(rules.Content)
		if name := get(r, "name"); name != nil {
			for _, old := range rules.Content {
				if on := get(old, "name"); on != nil && on.Value == name.Value {
					return 0, coded(ErrExists, "ACL %q already has a rule named %q%s", acl, name.Value, comma(f.at(on.Line)))
				}
			}
		}
	}
	if position < 0 || position > n {
		position = n
	}
	return position, f.insertItem(obj, "rules", r, position)
}

// DeleteRule removes a rule of the named ACL, named or counted from 0.
func DeleteRule(files Files, acl, rule string) (Files, error) {
	return deleteRule(files, acl, rule, false)
}

func deleteRule(files Files, acl, rule string, quiet bool) (Files, error) {
	s, err := parse(files, quiet)
	if err != nil {
		return nil, err
	}
	l, err := s.must(ACLs, acl)
	if err != nil {
		return nil, err
	}
	if err := l.f.deleteRule(l.item(), acl, rule, l.at()); err != nil {
		return nil, err
	}
	return s.result(files)
}

// deleteRule removes a rule, named or counted from 0, of the ACL obj
// (written at, for messages).
func (f *file) deleteRule(obj *yaml.Node, acl, rule, at string) error {
	rules := get(obj, "rules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return fmt.Errorf("ACL %q%s has no rules list", acl, at)
	}
	idx := -1
	var names []string
	for i, r := range rules.Content {
		if n := get(r, "name"); n != nil && n.Kind == yaml.ScalarNode {
			names = append(names, n.Value)
			if n.Value == rule && idx < 0 {
				idx = i
			}
		}
	}
	if idx < 0 {
		if i, err := strconv.Atoi(rule); err == nil && i >= 0 && i < len(rules.Content) {
			idx = i
		}
	}
	if idx < 0 {
		hint := didYouMean(rule, names)
		return coded(ErrNotFound, "ACL %q has no rule %q%s: give a rule's name or its index, 0 to %d",
			acl, rule, hint, len(rules.Content)-1)
	}
	f.deleteItem(obj, "rules", idx)
	return nil
}

// set is the parsed files of an edit.
type set struct {
	names []string // sorted
	files map[string]*file
}

func parse(files Files, quiet bool) (*set, error) {
	s := &set{files: map[string]*file{}}
	for n := range files {
		s.names = append(s.names, n)
	}
	sort.Strings(s.names)
	for _, n := range s.names {
		f, err := parseFile(n, files[n])
		if err != nil {
			return nil, err
		}
		f.quiet = quiet
		s.files[n] = f
	}
	return s, nil
}

// result is files with the changed ones replaced; files itself is not
// changed.
func (s *set) result(files Files) (Files, error) {
	out := make(Files, len(files)+1)
	for n, b := range files {
		out[n] = b
	}
	for _, n := range s.names {
		f := s.files[n]
		if !f.changed {
			continue
		}
		b, err := f.bytes()
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// loc is where an object is: item i of the kind's list in f.
type loc struct {
	f   *file
	seq *yaml.Node
	i   int
}

func (l loc) item() *yaml.Node { return l.seq.Content[l.i] }

// at is " at FILE:LINE" of the object's name (or the object), or "".
func (l loc) at() string {
	n := l.item()
	if v := get(n, "name"); v != nil {
		n = v
	}
	return l.f.at(n.Line)
}

// comma puts a comma before a position: ", at FILE:LINE".
func comma(at string) string {
	if at == "" {
		return ""
	}
	return "," + at
}

func (s *set) find(kind Kind, name string) (loc, bool) {
	for _, fn := range s.names {
		f := s.files[fn]
		_, seq := f.list(kind)
		if seq == nil {
			continue
		}
		for i, it := range seq.Content {
			if n := get(it, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value == name {
				return loc{f, seq, i}, true
			}
		}
	}
	return loc{}, false
}

// must finds the object or says it is not there, and what was meant.
func (s *set) must(kind Kind, name string) (loc, error) {
	if l, ok := s.find(kind, name); ok {
		return l, nil
	}
	var names []string
	for _, fn := range s.names {
		if _, seq := s.files[fn].list(kind); seq != nil {
			for _, it := range seq.Content {
				if n := get(it, "name"); n != nil && n.Kind == yaml.ScalarNode {
					names = append(names, n.Value)
				}
			}
		}
	}
	return loc{}, coded(ErrNotFound, "no %s named %q%s", kind.Singular(), name, didYouMean(name, names))
}

// didYouMean suggests the closest of known to got, as " (did you mean
// "x"?)", if one is close enough.
func didYouMean(got string, known []string) string {
	if h := topology.DidYouMean(got, known); h != "" {
		return " (" + h + ")"
	}
	return ""
}
