package edit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/topology"
)

// Op is one edit of topology files, as loomd's API carries it: add,
// delete or set an object, or add or delete a rule of an ACL.
type Op struct {
	// Action is add, del or set (a rule has no set).
	Action string
	// Kind is what changes: host, switch, port, acl, l2Gateway,
	// externalEndpoint (KindOf), or rule.
	Kind string
	// Name is the object's. For a rule: the name it gets (add; or give
	// it as a field), or the one it has, or its index counted from 0
	// (del).
	Name string
	// ACL is a rule's ACL.
	ACL string
	// Position is the index a rule added takes in its ACL; negative:
	// the end.
	Position int
	// Fields are the object's fields (add), or those to change (set).
	Fields []Field
	// Cascade (del): the object's users go too, or stop naming it (see
	// Cascade, which turns it into those edits).
	Cascade bool
}

// The actions of an Op.
const (
	ActionAdd = "add"
	ActionDel = "del"
	ActionSet = "set"
)

// KindRule is the Kind of an Op on an ACL's rule.
const KindRule = "rule"

var kindWords = map[string]Kind{
	"host": Hosts, "switch": Switches, "port": Ports, "acl": ACLs,
	"l2Gateway": L2Gateways, "externalEndpoint": ExternalEndpoints,
}

// KindOf is the Kind an Op's kind names: "port" is Ports.
func KindOf(word string) (Kind, bool) {
	k, ok := kindWords[word]
	return k, ok
}

// Word is how an Op names the kind: Ports is "port".
func (k Kind) Word() string {
	for w, kk := range kindWords {
		if kk == k {
			return w
		}
	}
	return string(k)
}

// Subject is how messages name the Op's object: `port "web3"`.
func (o Op) Subject() string {
	if o.Kind == KindRule {
		if o.Name == "" {
			return "a rule"
		}
		return fmt.Sprintf("rule %q", o.Name)
	}
	k, _ := KindOf(o.Kind)
	return fmt.Sprintf("%s %q", k.Singular(), o.Name)
}

func (o Op) String() string {
	s := o.Action + " " + o.Kind
	if o.ACL != "" {
		s += " " + o.ACL
	}
	if o.Name != "" {
		s += " " + o.Name
	}
	return s
}

// Indexer tells how a topology file is written (topology.Loader does).
type Indexer interface {
	Layout(src []byte) (*topology.Layout, bool)
}

// Options tune Apply.
type Options struct {
	// Index, if set, tells where the entries of files' lists are: an Op
	// then parses and rewrites only the entry it changes (and the lines
	// around it), not whole files; the result is the same bytes.
	Index Indexer
	// NoPositions leaves FILE:LINE out of errors: for files the user
	// does not see (loomd's).
	NoPositions bool
}

// Apply makes ops on files, in order, all or nothing, and says what
// each did, in words: `port "web3" added to switch blue on host h2`.
// files itself is not changed. An Op's error names the Op when there are
// several.
func Apply(files Files, ops []Op, o Options) (Files, []string, error) {
	if len(ops) == 0 {
		return nil, nil, fmt.Errorf("no edits")
	}
	x := newFast(files, o)
	did := make([]string, len(ops))
	for i, op := range ops {
		if op.Kind == KindRule && op.Action == ActionAdd && op.Name == "" {
			if f, ok := field(op.Fields, "name"); ok {
				op.Name = f.Value
			}
		}
		next, what, err := apply(files, op, o, x)
		if err != nil {
			if len(ops) > 1 {
				err = fmt.Errorf("edit %d (%s): %w", i+1, op, err)
			}
			return nil, nil, err
		}
		did[i] = op.Subject() + " " + what
		x.update(files, next)
		files = next
	}
	return files, did, nil
}

// apply makes one Op, through the index when it can.
func apply(files Files, op Op, o Options, x *fast) (Files, string, error) {
	q := o.NoPositions
	if op.Kind == KindRule {
		switch op.Action {
		case ActionAdd:
			name := op.Name
			if name != "" {
				if f, ok := field(op.Fields, "name"); ok && f.Value != name {
					return nil, "", fmt.Errorf("the rule's name is %q, and %q as a field", name, f.Value)
				}
			}
			fields := op.Fields
			if _, ok := field(fields, "name"); !ok && name != "" {
				fields = append([]Field{{Key: "name", Value: yamlText(str(name))}}, fields...)
			}
			out, at, err := x.addRule(files, op.ACL, fields, op.Position)
			if out == nil && err == nil {
				out, at, err = addRule(files, op.ACL, fields, op.Position, q)
			}
			if err != nil {
				return nil, "", err
			}
			if at < 0 {
				return out, fmt.Sprintf("added to new ACL %s", op.ACL), nil
			}
			return out, fmt.Sprintf("added to ACL %s at index %d", op.ACL, at), nil
		case ActionDel:
			out, err := x.deleteRule(files, op.ACL, op.Name)
			if out == nil && err == nil {
				out, err = deleteRule(files, op.ACL, op.Name, q)
			}
			return out, "deleted from ACL " + op.ACL, err
		}
		return nil, "", fmt.Errorf("unknown action %q for a rule: want add or del", op.Action)
	}
	kind, ok := KindOf(op.Kind)
	if !ok {
		return nil, "", fmt.Errorf("unknown kind %q: want host, switch, port, acl, l2Gateway, externalEndpoint or rule", op.Kind)
	}
	switch op.Action {
	case ActionAdd:
		out, err := x.add(files, kind, op.Name, op.Fields)
		if out == nil && err == nil {
			out, err = add(files, kind, op.Name, op.Fields, q)
		}
		what := "added"
		if kind == Ports {
			sw, _ := field(op.Fields, "switch")
			host, _ := field(op.Fields, "host")
			what = fmt.Sprintf("added to switch %s on host %s", sw.Value, host.Value)
		}
		return out, what, err
	case ActionDel:
		out, err := x.del(files, kind, op.Name)
		if out == nil && err == nil {
			out, err = del(files, kind, op.Name, q)
		}
		return out, "deleted", err
	case ActionSet:
		out, err := x.set(files, kind, op.Name, op.Fields)
		if out == nil && err == nil {
			out, err = set1(files, kind, op.Name, op.Fields, q)
		}
		var kv []string
		for _, f := range op.Fields {
			kv = append(kv, f.String())
		}
		return out, "updated: " + strings.Join(kv, " "), err
	}
	return nil, "", fmt.Errorf("unknown action %q: want add, del or set", op.Action)
}

// field is the field of fs with key k, with its value as a plain string
// if it is one.
func field(fs []Field, k string) (Field, bool) {
	for _, f := range fs {
		if f.Key == k {
			if n, err := f.node(); err == nil && n != nil && n.Kind == yaml.ScalarNode {
				f.Value = n.Value
			}
			return f, true
		}
	}
	return Field{}, false
}

// FieldFromJSON is the field key set to a JSON value, written as YAML in
// the style of the examples: strings plain unless they would read as
// something else, lists and mappings in flow style ([a, b], {k: v}); null
// removes the key (Set).
func FieldFromJSON(key string, value []byte) (Field, error) {
	if !keyRE.MatchString(key) {
		return Field{}, fmt.Errorf("%q is not a field name (letters, digits, - and _; dots reach into a mapping, as in acls.toPort)", key)
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	n, err := jsonNode(dec)
	if err != nil {
		return Field{}, fmt.Errorf("%s: %w", key, err)
	}
	if n == nil {
		return Field{Key: key}, nil
	}
	return Field{Key: key, Value: yamlText(n)}, nil
}

// jsonNode reads one JSON value as a YAML node; nil for null.
func jsonNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case nil:
		return nil, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v)}, nil
	case string:
		return str(v), nil
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		if v == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, str(k.(string)))
			}
			c, err := jsonNode(dec)
			if err != nil {
				return nil, err
			}
			if c == nil {
				c = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
			}
			n.Content = append(n.Content, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	}
	return nil, fmt.Errorf("unexpected JSON %v", tok)
}

// yamlText is n written as YAML, on one line when it is a scalar or in
// flow style.
func yamlText(n *yaml.Node) string {
	text, err := render(n)
	if err != nil {
		return n.Value
	}
	return strings.TrimSuffix(text, "\n")
}

// JSON is the field's value as JSON (null for an empty value): what
// FieldFromJSON reads back as the same value.
func (f Field) JSON() (json.RawMessage, error) {
	n, err := f.node()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := nodeJSON(&b, n); err != nil {
		return nil, fmt.Errorf("%s: %w", f, err)
	}
	return b.Bytes(), nil
}

// nodeJSON writes n as JSON: scalars by their YAML tag (a timestamp or
// other unusual tag as the string written), mappings with their keys in
// order.
func nodeJSON(b *bytes.Buffer, n *yaml.Node) error {
	if n == nil {
		b.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		var v any = n.Value
		switch n.Tag {
		case "!!null":
			v = nil
		case "!!bool", "!!int", "!!float":
			var x any
			if err := n.Decode(&x); err == nil {
				v = x
			}
		}
		out, err := json.Marshal(v)
		if err != nil {
			out, _ = json.Marshal(n.Value) // .inf, .nan: as written
		}
		b.Write(out)
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := nodeJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := nodeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("an alias or anchor cannot be sent")
	}
	return nil
}
