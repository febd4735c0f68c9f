package topology

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var updateSchema = flag.Bool("update", false, "rewrite "+SchemaFile+" from the Go types")

const schemaPath = "../" + SchemaFile

func genSchema(t *testing.T) []byte {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func schemaMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(genSchema(t), &m); err != nil {
		t.Fatalf("JSONSchema is not JSON: %v", err)
	}
	return m
}

func TestSchemaInSync(t *testing.T) {
	got := genSchema(t)
	if *updateSchema {
		if err := os.MkdirAll(filepath.Dir(schemaPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("%v\nregenerate it with: go test ./topology -run TestSchemaInSync -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with topology/spec.go\nregenerate it with: go test ./topology -run TestSchemaInSync -update", SchemaFile)
	}
}

func TestSchemaDeterministic(t *testing.T) {
	a, b := genSchema(t), genSchema(t)
	if !bytes.Equal(a, b) {
		t.Fatal("two calls of JSONSchema differ")
	}
	if !json.Valid(a) {
		t.Fatal("JSONSchema is not valid JSON")
	}
	if !bytes.HasSuffix(a, []byte("}\n")) {
		t.Fatal("JSONSchema does not end with a newline")
	}
}

// TestSchemaCoversSpec walks the spec types on its own and checks that
// every yaml key is a property of its object's schema, with its doc and
// enum, and that the required fields are required.
func TestSchemaCoversSpec(t *testing.T) {
	m := schemaMap(t)
	defs, _ := m["$defs"].(map[string]any)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(st reflect.Type) {
		if seen[st] {
			return
		}
		seen[st] = true
		obj := m
		if st != reflect.TypeFor[FileSpec]() {
			name := strings.TrimSuffix(st.Name(), "Spec")
			obj, _ = defs[name].(map[string]any)
			if obj == nil {
				t.Errorf("%s: no $defs/%s in the schema", st.Name(), name)
				return
			}
		}
		if obj["additionalProperties"] != false {
			t.Errorf("%s: schema admits unknown keys", st.Name())
		}
		props, _ := obj["properties"].(map[string]any)
		var req []string
		if r, ok := obj["required"].([]any); ok {
			for _, k := range r {
				req = append(req, k.(string))
			}
		}
		keys := 0
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			if f.Type == reflect.TypeFor[Src]() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" {
				t.Errorf("%s.%s has no yaml tag", st.Name(), f.Name)
				continue
			}
			if key == "-" {
				continue
			}
			keys++
			p, _ := props[key].(map[string]any)
			if p == nil {
				t.Errorf("%s.%s: no property %q in the schema", st.Name(), f.Name, key)
				continue
			}
			if p["description"] != f.Tag.Get("doc") {
				t.Errorf("%s.%s: description %q, want the doc tag %q", st.Name(), f.Name, p["description"], f.Tag.Get("doc"))
			}
			if f.Tag.Get("required") == "true" && !slices.Contains(req, key) {
				t.Errorf("%s.%s: %q is not required in the schema", st.Name(), f.Name, key)
			}
			if e := f.Tag.Get("enum"); e != "" {
				enumOf := p
				if items, ok := p["items"].(map[string]any); ok {
					enumOf = items
				}
				var got []string
				for _, v := range enumOf["enum"].([]any) {
					got = append(got, v.(string))
				}
				if want := strings.Split(e, ","); !slices.Equal(got, want) {
					t.Errorf("%s.%s: enum %q, want %q", st.Name(), f.Name, got, want)
				}
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft)
			}
		}
		if keys != len(props) {
			t.Errorf("%s: %d yaml keys but %d properties in the schema", st.Name(), keys, len(props))
		}
		if len(req) != countRequired(st) {
			t.Errorf("%s: schema requires %q, not the required fields", st.Name(), req)
		}
	}
	walk(reflect.TypeFor[FileSpec]())
	if len(seen) < 2 {
		t.Fatal("walked no spec types")
	}
}

func countRequired(st reflect.Type) int {
	n := 0
	for i := 0; i < st.NumField(); i++ {
		if st.Field(i).Tag.Get("required") == "true" {
			n++
		}
	}
	return n
}

// TestSchemaExamples checks that the top-level keys of the example
// topologies are properties of the schema.
func TestSchemaExamples(t *testing.T) {
	props, _ := schemaMap(t)["properties"].(map[string]any)
	files, _ := filepath.Glob("../deploy/examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no examples in deploy/examples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k := range doc {
			if _, ok := props[k]; !ok {
				t.Errorf("%s: top-level key %q is not in the schema", f, k)
			}
		}
	}
}

// TestSchemaValidates checks topology snippets against the schema with a
// JSON Schema validator, as an editor would.
func TestSchemaValidates(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(genSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID) // also checks it against the 2020-12 metaschema
	if err != nil {
		t.Fatal(err)
	}
	const good = `
apiVersion: loom/v1
kind: Topology
defaults:
  encapsulation: vxlan
  underlayMTU: 9000
hosts:
  - name: h1
    ovsdb: tcp:198.18.0.11:6640
    openflow: ssl:198.18.0.11:6653
    tunnelIP: 198.19.0.11
    datapathType: netdev
    physnets: {physnet1: eth1}
    labels: {rack: r1}
  - name: h2
    ovsdb: unix:/var/run/openvswitch/db.sock
    openflow: tcp:127.0.0.1:6653
    tunnelIP: 198.19.0.12
switches:
  - name: blue
    tunnelKey: 100
    subnets: [192.0.2.0/24, "2001:db8::/64"]
    floodUnknown: false
  - name: vlan10
    vlan: 10
    physnet: physnet1
ports:
  - name: web1
    switch: blue
    host: h1
    mac: auto
    ips: [192.0.2.11]
    interface: lm-web1
    acls: {toPort: [web]}
  - name: db1
    switch: blue
    host: h2
    mac: "02:00:00:00:01:02"
    ifaceID: 5b0c6c1e
    portSecurity: false
acls:
  - name: web
    rules:
      - {action: allow, proto: tcp, dstPorts: 80}
      - {action: allow, proto: "6", dstPorts: "8000-8080", srcPorts: "1024-65535"}
      - {action: allow, ethType: "0x88cc"}
      - {action: allow, proto: icmp, icmpType: 8, icmpCode: 0}
      - {action: drop}
l2Gateways:
  - {name: gw, switch: blue, host: h1, physnet: physnet1, vlan: 20}
externalEndpoints:
  - name: vtep
    ip: 198.19.0.99
    encapsulation: vxlan
    switch: blue
    behind:
      - {mac: "02:00:00:00:09:01", ips: [192.0.2.99]}
`
	// at is where the schema must find the problem ("/" the document); ""
	// for no problem.
	cases := []struct{ name, yaml, at string }{
		{"good", good, ""},
		{"minimal", "apiVersion: loom/v1", ""},
		{"no apiVersion", "kind: Topology", "/"},
		{"unknown top-level key", "apiVersion: loom/v1\nroutrs: []", "/"},
		{"unknown host key", "apiVersion: loom/v1\nhosts: [{name: h1, ovsdb: 'tcp:1.2.3.4:6640', tunnelIp: 1.2.3.4}]", "/hosts/0"},
		{"wrong apiVersion", "apiVersion: loom/v2", "/apiVersion"},
		{"wrong enum", "apiVersion: loom/v1\ndefaults: {encapsulation: ipsec}", "/defaults/encapsulation"},
		{"wrong rule action", "apiVersion: loom/v1\nacls: [{name: a, rules: [{action: deny}]}]", "/acls/0/rules/0/action"},
		{"missing required", "apiVersion: loom/v1\nports: [{name: p, switch: s, host: h}]", "/ports/0"},
		{"bad name", "apiVersion: loom/v1\nswitches: [{name: Blue}]", "/switches/0/name"},
		{"bad ovsdb", "apiVersion: loom/v1\nhosts: [{name: h1, ovsdb: '1.2.3.4:6640'}]", "/hosts/0/ovsdb"},
		{"dashed mac", "apiVersion: loom/v1\nexternalEndpoints: [{name: e, ip: 1.2.3.4, encapsulation: gre, switch: s, behind: [{mac: 02-00-00-00-09-01}, {mac: 0200.0000.0902}]}]", ""},
		{"bad mac", "apiVersion: loom/v1\nports: [{name: p, switch: s, host: h, mac: '02:00:00:00:01'}]", "/ports/0/mac"},
		{"auto mac behind", "apiVersion: loom/v1\nexternalEndpoints: [{name: e, ip: 1.2.3.4, encapsulation: gre, switch: s, behind: [{mac: auto}]}]", "/externalEndpoints/0/behind/0/mac"},
		{"bad port range", "apiVersion: loom/v1\nacls: [{name: a, rules: [{action: allow, proto: tcp, dstPorts: '80-'}]}]", "/acls/0/rules/0/dstPorts"},
		{"port out of range", "apiVersion: loom/v1\nacls: [{name: a, rules: [{action: allow, proto: tcp, dstPorts: 70000}]}]", "/acls/0/rules/0/dstPorts"},
		{"string for integer", "apiVersion: loom/v1\nswitches: [{name: s, tunnelKey: 'x'}]", "/switches/0/tunnelKey"},
		{"number for string", "apiVersion: loom/v1\nhosts: [{name: 42, ovsdb: 'tcp:192.0.2.1:6640'}]", "/hosts/0/name"},
		{"string for boolean", "apiVersion: loom/v1\nswitches: [{name: s, floodUnknown: 'no'}]", "/switches/0/floodUnknown"},
		{"long interface", "apiVersion: loom/v1\nports: [{name: p, switch: s, host: h, mac: auto, interface: a-very-long-ifname}]", "/ports/0/interface"},
	}
	// The examples are valid topologies: the schema must admit them.
	examples, _ := filepath.Glob("../deploy/examples/*.yaml")
	for _, f := range examples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, yaml, at string }{filepath.Base(f), string(b), ""})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := sch.Validate(yamlInstance(t, tc.yaml))
			switch {
			case tc.at == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.at != "" && err == nil:
				t.Errorf("accepted")
			case tc.at != "" && !strings.Contains(err.Error(), "at '"+strings.TrimSuffix(tc.at, "/")+"'"):
				t.Errorf("rejected, but not at %s: %v", tc.at, err)
			}
		})
	}
}

// yamlInstance is YAML src as a JSON Schema instance: what an editor's
// YAML support validates.
func yamlInstance(t *testing.T, src string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}
