package topology

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v4"
)

// The strict decoder: YAML nodes into the spec structs of spec.go, by their
// tags. yaml.v3's own decoding ignores KnownFields on nodes and loses
// positions, so this walks the nodes itself: unknown keys, repeated keys,
// wrong types, values outside an enum and missing required keys are all
// errors at their position, and decoding goes on after each, so that one
// pass reports them all.

type fieldInfo struct {
	index    int
	key      string
	required bool
	enum     []string
}

type structInfo struct {
	what   string // e.g. "host", for messages
	src    int    // index of the Src field, or -1
	fields []fieldInfo
	byKey  map[string]*fieldInfo
	keys   []string // sorted, for hints
}

var (
	infoMu       sync.Mutex
	infoCache    = map[reflect.Type]*structInfo{}
	srcFieldType = reflect.TypeOf(Src{})
	portRange    = reflect.TypeOf(PortRange(""))
	numOrName    = reflect.TypeOf(NumOrName(""))
	ipList       = reflect.TypeOf(IPList(nil))
)

// objectNames gives each spec struct the word errors use for it.
var objectNames = map[string]string{
	"FileSpec": "topology", "DefaultsSpec": "defaults", "HostSpec": "host",
	"SwitchSpec": "switch", "PortSpec": "port", "PortACLs": "port acls",
	"ACLSpec": "acl", "RuleSpec": "rule", "L2GatewaySpec": "l2 gateway",
	"ExternalEndpointSpec": "external endpoint", "BehindSpec": "station",
}

func infoOf(t reflect.Type) *structInfo {
	infoMu.Lock()
	defer infoMu.Unlock()
	if si, ok := infoCache[t]; ok {
		return si
	}
	si := &structInfo{what: objectNames[t.Name()], src: -1, byKey: map[string]*fieldInfo{}}
	if si.what == "" {
		si.what = strings.ToLower(t.Name())
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == srcFieldType {
			si.src = i
			continue
		}
		key := f.Tag.Get("yaml")
		if key == "" || key == "-" {
			continue
		}
		fi := fieldInfo{index: i, key: key, required: f.Tag.Get("required") == "true"}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		si.fields = append(si.fields, fi)
	}
	for i := range si.fields {
		si.byKey[si.fields[i].key] = &si.fields[i]
		si.keys = append(si.keys, si.fields[i].key)
	}
	sort.Strings(si.keys)
	infoCache[t] = si
	return si
}

// decodeStruct fills the struct v from the mapping n.
func (d *decoder) decodeStruct(file string, n *yaml.Node, v reflect.Value) {
	si := infoOf(v.Type())
	src := Src{Pos: pos(file, n), Fields: map[string]Pos{}}
	if n.Kind != yaml.MappingNode {
		d.errs.add(pos(file, n), "", "%s must be a mapping of keys to values, not %s", si.what, kindName(n))
		if si.src >= 0 {
			v.Field(si.src).Set(reflect.ValueOf(src))
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errs.add(pos(file, k), "", "%s keys must be plain words, not %s", si.what, kindName(k))
			continue
		}
		if prev := firstKey(n, i); prev != nil {
			d.errs.add(pos(file, k), "", "%s key %q repeated (first at line %d)", si.what, k.Value, prev.Line)
			continue
		}
		kp := pos(file, k)
		fi, ok := si.byKey[k.Value]
		if !ok {
			hint := didYouMean(k.Value, si.keys)
			if hint == "" {
				hint = "known fields: " + strings.Join(si.keys, ", ")
			}
			d.errs.add(kp, hint, "unknown %s field %q", si.what, k.Value)
			continue
		}
		src.Fields[k.Value] = pos(file, val)
		d.parts(file, &src, k.Value, val, v.Field(fi.index).Type())
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			d.errs.add(pos(file, val), "remove the key or give it a value", "%s field %q is empty", si.what, k.Value)
			continue
		}
		fv := v.Field(fi.index)
		if !d.decodeValue(file, val, fv, what{obj: si.what, field: k.Value}) {
			continue
		}
		if fi.enum != nil && fv.Kind() == reflect.String && !slices.Contains(fi.enum, fv.String()) {
			hint := didYouMean(fv.String(), fi.enum)
			if hint == "" {
				hint = "one of: " + strings.Join(fi.enum, ", ")
			}
			d.errs.add(pos(file, val), hint, "%s field %q: %q is not allowed", si.what, k.Value, fv.String())
		}
	}
	if si.src >= 0 {
		v.Field(si.src).Set(reflect.ValueOf(src))
	}
	for _, fi := range si.fields {
		if _, ok := src.Fields[fi.key]; !ok && fi.required {
			d.errs.add(src.Pos, "", "%s: missing field %q", objectLabel(si.what, v), fi.key)
		}
	}
}

// firstKey is the scalar key of mapping n before pair i (a key index)
// with the same value as key i, if any: objects have a few keys, so a
// scan costs less than a map.
func firstKey(n *yaml.Node, i int) *yaml.Node {
	for j := 0; j < i; j += 2 {
		if k := n.Content[j]; k.Kind == yaml.ScalarNode && k.Value == n.Content[i].Value {
			return k
		}
	}
	return nil
}

// objectLabel is `host "h1"` when the object has a name, else `host`.
func objectLabel(what string, v reflect.Value) string {
	if f := v.FieldByName("Name"); f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
		return what + " " + strconv.Quote(f.String())
	}
	return what
}

// parts records in src where each entry of a list of values (not of
// objects, which have their own Src) and each key of a mapping of field f
// is written, so that a problem with one entry is reported at it.
func (d *decoder) parts(file string, src *Src, f string, n *yaml.Node, t reflect.Type) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Struct && n.Kind == yaml.SequenceNode:
		ps := make([]Pos, len(n.Content))
		for i, c := range n.Content {
			ps[i] = pos(file, c)
		}
		src.parts = append(src.parts, fieldParts{field: f, items: ps})
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		ps := make(map[string]Pos, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if _, dup := ps[n.Content[i].Value]; !dup {
				ps[n.Content[i].Value] = pos(file, n.Content[i])
			}
		}
		src.parts = append(src.parts, fieldParts{field: f, keys: ps})
	}
}

// Aliases. Loom walks the nodes itself, so yaml's own guard against
// aliases that expand exponentially does not apply: each file may expand
// aliases to at most as many nodes as it has itself plus aliasAllowance,
// which keeps the cost of a load linear in its size and lets ordinary
// reuse (one list of ACLs or addresses named in many places) through.
const aliasAllowance = 10000

// startFile sets the alias budget of the file whose root is root and
// measures what each anchored node would cost to expand.
func (d *decoder) startFile(root *yaml.Node) {
	d.anchorSize = map[*yaml.Node]int{}
	d.expanding = map[*yaml.Node]bool{}
	d.aliasBudget = d.measure(root) + aliasAllowance
}

// measure counts the nodes under n, n included, without following aliases.
func (d *decoder) measure(n *yaml.Node) int {
	size := 1
	for _, c := range n.Content {
		size += d.measure(c)
	}
	if n.Anchor != "" {
		d.anchorSize[n] = size
	}
	return size
}

// what names a value in messages (`port field "ips"`, `host field
// "labels" key "rack"`); it is a string only when a message needs one.
type what struct {
	obj, field, key string
	hasKey          bool
}

func (w what) withKey(k string) what {
	w.key, w.hasKey = k, true
	return w
}

func (w what) String() string {
	s := w.obj + " field " + strconv.Quote(w.field)
	if w.hasKey {
		s += " key " + strconv.Quote(w.key)
	}
	return s
}

// decodeValue decodes n into v; it reports false after an error.
func (d *decoder) decodeValue(file string, n *yaml.Node, v reflect.Value, what what) bool {
	p := pos(file, n)
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		refuse := func(hint, format string, args ...any) bool {
			d.errs.add(p, hint, format, args...)
			// An object in a list is still there: it is where the alias is.
			if v.Kind() == reflect.Struct {
				if si := infoOf(v.Type()); si.src >= 0 {
					v.Field(si.src).Set(reflect.ValueOf(Src{Pos: p}))
				}
			}
			return false
		}
		switch size := d.anchorSize[target]; {
		case target == nil:
			return refuse("", "%s: alias *%s names no anchor", what, n.Value)
		case d.expanding[target]:
			return refuse("", "%s: alias *%s is inside the value it names", what, n.Value)
		case size > d.aliasBudget:
			d.aliasBudget = 0
			return refuse("write the values out, or reuse smaller ones",
				"%s: alias *%s: the file's aliases expand to too many values (at most %d more than the file has)", what, n.Value, aliasAllowance)
		default:
			d.aliasBudget -= size
		}
		if v.Kind() == reflect.Struct {
			// An object named through an alias is where the alias is
			// (its fields are where the anchor's are).
			defer func() {
				if si := infoOf(v.Type()); si.src >= 0 {
					v.Field(si.src).FieldByName("Pos").Set(reflect.ValueOf(p))
				}
			}()
		}
		n = target
	}
	if n.Anchor != "" {
		if d.expanding == nil {
			d.expanding = map[*yaml.Node]bool{}
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	switch {
	case v.Type() == portRange || v.Type() == numOrName:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
			hint := "write a name or a number"
			if v.Type() == portRange {
				hint = "write a port such as 80 or a range such as 8000-8080"
			}
			d.errs.add(p, hint, "%s: expected a name or number, not %s", what, kindName(n))
			return false
		}
		v.SetString(n.Value)
		return true
	case v.Type() == ipList && n.Kind == yaml.ScalarNode:
		if n.Tag != "!!str" || n.Value != "auto" {
			d.errs.add(p, "write a list: [a, b] or one '- item' per line; or auto", "%s: expected a list (or auto), not %s", what, kindName(n))
			return false
		}
		v.Set(reflect.ValueOf(IPList{"auto"}))
		return true
	case v.Kind() == reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if !d.decodeValue(file, n, nv.Elem(), what) {
			return false
		}
		v.Set(nv)
		return true
	case v.Kind() == reflect.Struct:
		d.decodeStruct(file, n, v)
		return true
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errs.add(p, "write a list: [a, b] or one '- item' per line", "%s: expected a list, not %s", what, kindName(n))
			return false
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		entries := d.entries[n] // a list a Loader assembled from kept entries
		for i, c := range n.Content {
			if len(entries) != len(n.Content) {
				d.decodeValue(file, c, s.Index(i), what)
				continue
			}
			// An entry decoded before, without a problem, in this file and
			// at this place, decodes to the same value: validation only
			// reads it, so it is shared.
			e := entries[i]
			if k := e.decoded; k.ok && k.file == file && k.base == e.base && k.v.Type() == s.Index(i).Type() {
				s.Index(i).Set(k.v)
				continue
			}
			errs := d.errs.n
			d.decodeValue(file, c, s.Index(i), what)
			if d.errs.n == errs {
				k := reflect.New(s.Index(i).Type()).Elem()
				k.Set(s.Index(i))
				e.decoded = decodedEntry{ok: true, file: file, base: e.base, v: k}
			}
		}
		v.Set(s)
		return true
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errs.add(p, "", "%s: expected a mapping of keys to values, not %s", what, kindName(n))
			return false
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.errs.add(pos(file, k), "", "%s: keys must be plain words, not %s", what, kindName(k))
				continue
			}
			if line, dup := seen[k.Value]; dup {
				d.errs.add(pos(file, k), "", "%s: key %q repeated (first at line %d)", what, k.Value, line)
				continue
			}
			seen[k.Value] = k.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			if d.decodeValue(file, val, ev, what.withKey(k.Value)) {
				m.SetMapIndex(reflect.ValueOf(k.Value), ev)
			}
		}
		v.Set(m)
		return true
	}
	if n.Kind != yaml.ScalarNode {
		d.errs.add(p, "", "%s: expected %s, not %s", what, kindWant(v.Kind()), kindName(n))
		return false
	}
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" {
			d.errs.add(p, "put it in quotes if you mean the text", "%s: expected a string, not %s", what, kindName(n))
			return false
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		if n.Tag == "!!float" && strings.Trim(n.Value, "0123456789") == "" {
			// Digits too many for an int are read as a float.
			d.errs.add(p, "", "%s: integer %s out of range", what, n.Value)
			return false
		}
		if n.Tag != "!!int" {
			d.errs.add(p, "", "%s: expected an integer, not %s", what, kindName(n))
			return false
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if errors.Is(err, strconv.ErrRange) {
			d.errs.add(p, "", "%s: integer %s out of range", what, n.Value)
			return false
		} else if err != nil {
			d.errs.add(p, "", "%s: expected an integer, not %q", what, n.Value)
			return false
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.Tag != "!!bool" {
			d.errs.add(p, "write true or false", "%s: expected a boolean, not %s", what, kindName(n))
			return false
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	default:
		panic(fmt.Sprintf("topology: no decoder for %s", v.Type()))
	}
	return true
}

func kindWant(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	}
	return k.String()
}

func pos(file string, n *yaml.Node) Pos { return Pos{file, n.Line, n.Column} }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "an empty value"
	case "!!int", "!!float":
		return "a number (" + n.Value + ")"
	case "!!bool":
		return "a boolean (" + n.Value + ")"
	}
	return strconv.Quote(n.Value)
}

// DidYouMean suggests the closest of known to got, as `did you mean "x"?`,
// if one is close enough; otherwise "".
func DidYouMean(got string, known []string) string { return didYouMean(got, known) }

// didYouMean suggests the closest of known to got, if it is close enough.
func didYouMean(got string, known []string) string {
	if len(got) > 2*maxNameLen {
		return "" // no name is that long: nothing is close
	}
	best, bestD := "", len(got)/2+2
	for _, k := range known {
		if d := len(k) - len(got); d > bestD || -d > bestD {
			continue // the distance is at least the difference in length
		}
		if dd := editDistance(strings.ToLower(got), strings.ToLower(k)); dd < bestD || dd == bestD && k < best {
			best, bestD = k, dd
		}
	}
	if best == "" || bestD > len(got)/2+1 {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
