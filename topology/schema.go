package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SchemaID is the $id of the topology JSON Schema. The .invalid top-level
// domain is reserved: the id names the schema, it is not fetched.
const SchemaID = "https://loom.invalid/schema/topology.v1.json"

// SchemaFile is where the schema is published, relative to the repository
// root; a test keeps it equal to JSONSchema().
const SchemaFile = "deploy/schema/topology.v1.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of a topology file,
// derived from FileSpec and the types it holds: their yaml, doc, required,
// enum, default and format tags. Editors use it to complete and check
// topology files as they are written; the validator remains the authority
// (the schema cannot say, for example, that a port's switch exists).
//
// The output is deterministic: properties in declaration order, $defs by
// name, indented, with a trailing newline. It does no I/O.
func JSONSchema() ([]byte, error) {
	g := &schemaGen{defs: map[string]jsObject{}, names: map[reflect.Type]string{}}
	root := reflect.TypeFor[FileSpec]()
	g.names[root] = "" // a reference to the root is "#"
	body, err := g.structBody(root)
	if err != nil {
		return nil, err
	}
	doc := jsObject{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaID},
		{"$comment", "Generated from topology/spec.go by topology.JSONSchema; do not edit. Regenerate: go test ./topology -run TestSchemaInSync -update"},
		{"title", "Loom topology"},
		{"description", "A Loom topology file: hosts, logical switches, ports, ACLs, L2 gateways and external endpoints. Loom's validator checks more than this schema can (references between objects, addresses, ranges)."},
	}
	doc = append(doc, body...)
	names := make([]string, 0, len(g.defs))
	for n := range g.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	defs := make(jsObject, 0, len(names))
	for _, n := range names {
		defs = append(defs, jsMember{n, g.defs[n]})
	}
	doc = append(doc, jsMember{"$defs", defs})
	var b bytes.Buffer
	if err := writeJSON(&b, doc, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

var (
	srcType       = reflect.TypeFor[Src]()
	portRangeType = reflect.TypeFor[PortRange]()
	numOrNameType = reflect.TypeFor[NumOrName]()
	ipListType    = reflect.TypeFor[IPList]()
)

// Patterns of the formats that have a simple, safe one. The validator
// checks every format fully; these only catch mistakes early in an editor.
const (
	namePattern     = `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	macPattern      = `^(` + macForms + `)$`
	macAutoPattern  = `^(` + macForms + `|auto)$`
	ovsdbPattern    = `^(tcp|ssl):.+:[0-9]+$|^unix:.+$`
	openflowPattern = `^(tcp|ssl):.+:[0-9]+$`
	portPattern     = `^[0-9]{1,5}(-[0-9]{1,5})?$`
	ipRangePattern  = `^[0-9A-Fa-f.:]+((/[0-9]{1,3})|(-[0-9A-Fa-f.:]+))?$`

	// The six-byte forms net.ParseMAC reads, as the validator does:
	// 02:00:00:00:00:01, 02-00-00-00-00-01 and 0200.0000.0001.
	macForms = `[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}`
)

type schemaGen struct {
	defs  map[string]jsObject     // $defs by name
	names map[reflect.Type]string // struct types seen, by $defs name
}

// leaf holds the tags that constrain the scalars of a field: the field
// itself, or the items of a list field.
type leaf struct {
	where  string // Type.Field, for errors
	format string
	enum   string
}

// structBody is the schema of a spec struct: an object with exactly the
// keys of its fields' yaml tags.
func (g *schemaGen) structBody(t reflect.Type) (jsObject, error) {
	props := jsObject{}
	var required []string
	seen := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		where := t.Name() + "." + f.Name
		if f.Type == srcType {
			continue // positions, not part of the language
		}
		tag, ok := f.Tag.Lookup("yaml")
		key, _, _ := strings.Cut(tag, ",")
		switch {
		case !ok || key == "":
			return nil, fmt.Errorf("topology schema: field %s has no yaml tag", where)
		case key == "-":
			continue
		case !f.IsExported():
			return nil, fmt.Errorf("topology schema: field %s is not exported", where)
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("topology schema: fields %s and %s have the same yaml key %q", prev, where, key)
		}
		seen[key] = where
		fs, err := g.field(where, f)
		if err != nil {
			return nil, err
		}
		props = append(props, jsMember{key, fs})
		switch r := f.Tag.Get("required"); r {
		case "true":
			required = append(required, key)
		case "", "false":
		default:
			return nil, fmt.Errorf("topology schema: field %s: required:%q, want \"true\"", where, r)
		}
	}
	o := jsObject{{"type", "object"}, {"additionalProperties", false}}
	if len(required) > 0 {
		o = append(o, jsMember{"required", required})
	}
	return append(o, jsMember{"properties", props}), nil
}

// field is the schema of one struct field: its type's, with its doc and
// default.
func (g *schemaGen) field(where string, f reflect.StructField) (jsObject, error) {
	doc := f.Tag.Get("doc")
	if doc == "" {
		return nil, fmt.Errorf("topology schema: field %s has no doc tag", where)
	}
	l := leaf{where: where, format: f.Tag.Get("format"), enum: f.Tag.Get("enum")}
	ts, err := g.typeSchema(f.Type, l)
	if err != nil {
		return nil, err
	}
	s := append(jsObject{{"description", doc}}, ts...)
	if d, ok := f.Tag.Lookup("default"); ok {
		v, err := scalar(f.Type, d)
		if err != nil {
			return nil, fmt.Errorf("topology schema: field %s: default: %v", where, err)
		}
		if l.enum != "" && !slices.Contains(strings.Split(l.enum, ","), d) {
			return nil, fmt.Errorf("topology schema: field %s: default %q is not in enum %q", where, d, l.enum)
		}
		s = append(s, jsMember{"default", v})
	}
	return s, nil
}

// typeSchema is the schema of values of type t.
func (g *schemaGen) typeSchema(t reflect.Type, l leaf) (jsObject, error) {
	if t == portRangeType {
		if l.enum != "" {
			return nil, fmt.Errorf("topology schema: field %s: enum on a PortRange", l.where)
		}
		if _, ok := g.defs["PortRange"]; !ok {
			g.defs["PortRange"] = jsObject{
				{"description", "An L4 port (80) or range lo-hi (\"8000-8080\")."},
				{"oneOf", []any{
					jsObject{{"type", "integer"}, {"minimum", 0}, {"maximum", 65535}},
					jsObject{{"type", "string"}, {"pattern", portPattern}},
				}},
			}
		}
		return jsObject{{"$ref", "#/$defs/PortRange"}}, nil
	}
	if t == ipListType {
		items, err := withFormat(jsObject{{"type", "string"}}, l)
		if err != nil {
			return nil, err
		}
		return jsObject{{"oneOf", []any{
			jsObject{{"type", "array"}, {"items", items}},
			jsObject{{"const", "auto"}},
		}}}, nil
	}
	if t == numOrNameType {
		if l.enum != "" {
			return nil, fmt.Errorf("topology schema: field %s: enum on a NumOrName", l.where)
		}
		return jsObject{{"oneOf", []any{
			jsObject{{"type", "integer"}, {"minimum", 0}},
			jsObject{{"type", "string"}},
		}}}, nil
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Slice && t.Kind() != reflect.Map &&
		t.Kind() != reflect.Struct && t.Name() != t.Kind().String() {
		return nil, fmt.Errorf("topology schema: field %s: named type %s has no schema; add a case to schema.go", l.where, t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem(), l)
	case reflect.String:
		s := jsObject{{"type", "string"}}
		if l.enum != "" {
			s = append(s, jsMember{"enum", strings.Split(l.enum, ",")})
		}
		return withFormat(s, l)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if l.format != "" {
			return nil, fmt.Errorf("topology schema: field %s: format on an integer", l.where)
		}
		s := jsObject{{"type", "integer"}}
		if l.enum != "" {
			var vs []any
			for _, e := range strings.Split(l.enum, ",") {
				v, err := scalar(t, e)
				if err != nil {
					return nil, fmt.Errorf("topology schema: field %s: enum: %v", l.where, err)
				}
				vs = append(vs, v)
			}
			s = append(s, jsMember{"enum", vs})
		}
		return s, nil
	case reflect.Bool:
		if l.format != "" || l.enum != "" {
			return nil, fmt.Errorf("topology schema: field %s: format or enum on a boolean", l.where)
		}
		return jsObject{{"type", "boolean"}}, nil
	case reflect.Slice:
		items, err := g.typeSchema(t.Elem(), l)
		if err != nil {
			return nil, err
		}
		return jsObject{{"type", "array"}, {"items", items}}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("topology schema: field %s: map keys must be strings", l.where)
		}
		if l.format != "" || l.enum != "" {
			return nil, fmt.Errorf("topology schema: field %s: format or enum on a map", l.where)
		}
		vs, err := g.typeSchema(t.Elem(), leaf{where: l.where})
		if err != nil {
			return nil, err
		}
		return jsObject{{"type", "object"}, {"additionalProperties", vs}}, nil
	case reflect.Struct:
		if l.format != "" || l.enum != "" {
			return nil, fmt.Errorf("topology schema: field %s: format or enum on an object", l.where)
		}
		return g.ref(t)
	}
	return nil, fmt.Errorf("topology schema: field %s: type %s has no schema", l.where, t)
}

// ref walks struct type t into $defs, once, and refers to it.
func (g *schemaGen) ref(t reflect.Type) (jsObject, error) {
	if name, ok := g.names[t]; ok {
		if name == "" {
			return jsObject{{"$ref", "#"}}, nil
		}
		return jsObject{{"$ref", "#/$defs/" + name}}, nil
	}
	if t.Name() == "" {
		return nil, fmt.Errorf("topology schema: anonymous struct %s; declare a named type", t)
	}
	name := strings.TrimSuffix(t.Name(), "Spec")
	for other, n := range g.names {
		if n == name {
			return nil, fmt.Errorf("topology schema: types %s and %s both map to $defs/%s", other, t, name)
		}
	}
	g.names[t] = name // before the walk, for types that refer to themselves
	body, err := g.structBody(t)
	if err != nil {
		return nil, err
	}
	g.defs[name] = body
	return jsObject{{"$ref", "#/$defs/" + name}}, nil
}

// withFormat adds the constraints of l's format to the string schema s.
func withFormat(s jsObject, l leaf) (jsObject, error) {
	switch l.format {
	case "":
	case "name":
		s = append(s, jsMember{"pattern", namePattern}, jsMember{"maxLength", 63})
	case "mac":
		s = append(s, jsMember{"pattern", macPattern})
	case "mac-or-auto":
		s = append(s, jsMember{"pattern", macAutoPattern})
	case "ifname":
		s = append(s, jsMember{"maxLength", 15})
	case "ovsdb":
		s = append(s, jsMember{"pattern", ovsdbPattern})
	case "openflow":
		s = append(s, jsMember{"pattern", openflowPattern})
	case "iprange":
		s = append(s, jsMember{"pattern", ipRangePattern})
	case "ip", "cidr", "ethtype", "proto", "portrange":
		// Left to the validator.
	default:
		return nil, fmt.Errorf("topology schema: field %s: unknown format %q; add it to schema.go", l.where, l.format)
	}
	return s, nil
}

// scalar parses v, written in a tag, as a value of type t (or *t).
func scalar(t reflect.Type, v string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return v, nil
	case reflect.Bool:
		return strconv.ParseBool(v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.ParseInt(v, 10, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.ParseUint(v, 10, t.Bits())
	}
	return nil, fmt.Errorf("no scalar value of type %s", t)
}

// jsObject is a JSON object whose keys keep their order.
type jsObject []jsMember

type jsMember struct {
	key string
	val any
}

// writeJSON writes v indented by two spaces per level, without escaping
// <, > and & (the schema is not embedded in HTML).
func writeJSON(b *bytes.Buffer, v any, indent string) error {
	in := indent + "  "
	switch v := v.(type) {
	case jsObject:
		if len(v) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{")
		for i, m := range v {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n" + in)
			if err := writeJSON(b, m.key, in); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeJSON(b, m.val, in); err != nil {
				return err
			}
		}
		b.WriteString("\n" + indent + "}")
	case []string:
		items := make([]any, len(v))
		for i, s := range v {
			items[i] = s
		}
		return writeJSON(b, items, indent)
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[")
		for i, x := range v {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n" + in)
			if err := writeJSON(b, x, in); err != nil {
				return err
			}
		}
		b.WriteString("\n" + indent + "]")
	case string, bool, int, int64, uint64:
		var s bytes.Buffer
		e := json.NewEncoder(&s)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			return err
		}
		b.Write(bytes.TrimSuffix(s.Bytes(), []byte("\n")))
	default:
		return fmt.Errorf("topology schema: cannot write %T", v)
	}
	return nil
}
