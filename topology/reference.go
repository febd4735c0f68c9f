package topology

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference returns the field reference of the topology language as
// Markdown: one section per object of spec.go, starting with the top level
// of a file, each a table of its keys with their type, whether they are
// required, their default and their meaning. It reads the same tags as the
// decoder and JSON Schema, so the three cannot disagree. docs/topology.md
// embeds the output; a test keeps it up to date.
//
// The output is deterministic (objects in the order a reader meets them
// from the top level, keys in declaration order) and ends with a newline.
// It does no I/O.
func Reference() string {
	types, uses := specTypes()
	var b strings.Builder
	b.WriteString("Generated from `topology/spec.go` by `topology.Reference()`; do not edit by hand. ")
	b.WriteString("In the default column, — means no fixed value: the meaning says what leaving the key out does.\n")
	for _, t := range types {
		fmt.Fprintf(&b, "\n### %s\n\n", refTitle(t))
		if us := uses[t]; len(us) > 0 {
			b.WriteString(strings.Join(us, "; ") + ".\n\n")
		} else {
			b.WriteString("The keys of a topology file.\n\n")
		}
		b.WriteString("| field | type | required | default | meaning |\n|---|---|---|---|---|\n")
		for _, fi := range infoOf(t).fields {
			f := t.Field(fi.index)
			req := "no"
			if fi.required {
				req = "yes"
			}
			def := "—"
			if d, ok := f.Tag.Lookup("default"); ok {
				def = "`" + d + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", fi.key, refType(f.Type, fi.enum), req, def, refCell(f.Tag.Get("doc")))
		}
	}
	return b.String()
}

// specTypes lists the spec structs reachable from FileSpec, each once, in
// the order a reader meets them (depth first, fields in declaration
// order), and for each but FileSpec where it is written.
func specTypes() ([]reflect.Type, map[reflect.Type][]string) {
	var order []reflect.Type
	uses := map[reflect.Type][]string{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		order = append(order, t)
		for _, fi := range infoOf(t).fields {
			ft := t.Field(fi.index).Type
			st, list := specStruct(ft)
			if st == nil {
				continue
			}
			how := "an object"
			if list {
				how = "a list of them"
			}
			uses[st] = append(uses[st], fmt.Sprintf("Written as `%s` (%s) in [%s](#%s)", fi.key, how, refTitle(t), refAnchor(t)))
			walk(st)
		}
	}
	walk(reflect.TypeFor[FileSpec]())
	return order, uses
}

// specStruct is the spec struct a field of type t holds, and whether it
// holds a list of them; nil for a field of scalars.
func specStruct(t reflect.Type) (reflect.Type, bool) {
	list := false
	for {
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
			continue
		case reflect.Slice:
			t, list = t.Elem(), true
			continue
		case reflect.Struct:
			if t != srcType {
				return t, list
			}
		}
		return nil, false
	}
}

// refTitle is the heading of an object's section: the top level, or the
// object's name as the JSON Schema's $defs calls it.
func refTitle(t reflect.Type) string {
	if t == reflect.TypeFor[FileSpec]() {
		return "Top level"
	}
	return strings.TrimSuffix(t.Name(), "Spec") + " object"
}

// refAnchor is the link target of refTitle, as Markdown renderers derive
// it from the heading.
func refAnchor(t reflect.Type) string {
	return strings.ReplaceAll(strings.ToLower(refTitle(t)), " ", "-")
}

// refType is a readable name of the type of values of t.
func refType(t reflect.Type, enum []string) string {
	switch t {
	case portRangeType:
		return "port or range"
	case numOrNameType:
		return "name or number"
	case ipListType:
		return "list of strings, or `auto`"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return refType(t.Elem(), enum)
	case reflect.String:
		if len(enum) > 0 {
			return "string, one of `" + strings.Join(enum, "`, `") + "`"
		}
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		e := refType(t.Elem(), nil)
		switch e {
		case "string", "integer", "boolean":
			e += "s"
		}
		return "list of " + e
	case reflect.Map:
		return "map of " + refType(t.Key(), nil) + " to " + refType(t.Elem(), nil)
	case reflect.Struct:
		return "[" + refTitle(t) + "](#" + refAnchor(t) + ")"
	}
	panic(fmt.Sprintf("topology: Reference has no name for type %s; add a case to reference.go", t))
}

// refCell makes text safe in a Markdown table cell.
func refCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
