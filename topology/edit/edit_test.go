package edit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../deploy/examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fields(t *testing.T, kv ...string) []Field {
	t.Helper()
	fs, err := ParseFields(kv)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// replace is s with old replaced once; it fails the test if old is not
// in s, so that expectations stay tied to the examples.
func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the file", old)
	}
	return strings.Replace(s, old, new, 1)
}

// split is a topology in two files, a.yaml with the hosts and switch red
// (and its port), b.yaml with switch blue, its port and a commented ACL.
var split = Files{
	"a.yaml": []byte(`apiVersion: loom/v1
kind: Topology

hosts:
  - name: h1
    ovsdb: tcp:192.0.2.1:6640
    tunnelIP: 198.19.0.1

switches:
  - name: red
    tunnelKey: 1

ports:
  - name: r1
    switch: red
    host: h1
    mac: auto
    interface: lm-r1
`),
	"b.yaml": []byte(`apiVersion: loom/v1
kind: Topology

switches:
  # the blue one
  - name: blue   # blue!
    tunnelKey: 2 # its key
    subnets: [192.0.2.0/24]

acls:
  - name: web
    rules:
      # plain web
      - name: http
        action: allow
        proto: tcp
        dstPorts: 80
      - name: https
        action: allow
        proto: tcp
        dstPorts: 443
`),
}

func TestAdd(t *testing.T) {
	two := string(example(t, "two-hosts.yaml"))
	tests := []struct {
		name    string
		files   Files
		kind    Kind
		obj     string
		fields  []string
		want    map[string]string // changed files; every other one must be byte-identical
		wantErr string
	}{{
		name:   "port at the end of the list",
		files:  Files{"two-hosts.yaml": []byte(two)},
		kind:   Ports,
		obj:    "web3",
		fields: []string{"switch=blue", "host=h2", "mac=auto", "ips=[192.0.2.13]", "interface=lm-web3"},
		want: map[string]string{"two-hosts.yaml": two + `  - name: web3
    switch: blue
    host: h2
    mac: auto
    ips: [192.0.2.13]
    interface: lm-web3
`},
	}, {
		name:   "port in its switch's file, which has no ports list: the first file with one",
		files:  split,
		kind:   Ports,
		obj:    "b1",
		fields: []string{"switch=blue", "host=h1", "mac=auto", "interface=lm-b1"},
		want: map[string]string{"a.yaml": string(split["a.yaml"]) + `  - name: b1
    switch: blue
    host: h1
    mac: auto
    interface: lm-b1
`},
	}, {
		name:   "switch: the first file with a switches list",
		files:  split,
		kind:   Switches,
		obj:    "green",
		fields: []string{"vlan=10", "physnet=physnet1", "ips="},
		want:   map[string]string{"a.yaml": replace(t, string(split["a.yaml"]), "    tunnelKey: 1\n", "    tunnelKey: 1\n  - name: green\n    vlan: 10\n    physnet: physnet1\n")},
	}, {
		name:   "host into a file without hosts: the key is added",
		files:  Files{"b.yaml": split["b.yaml"]},
		kind:   Hosts,
		obj:    "h9",
		fields: []string{"ovsdb=tcp:192.0.2.9:6640", "labels={rack: r1}"},
		want: map[string]string{"b.yaml": string(split["b.yaml"]) + `
hosts:
  - name: h9
    ovsdb: tcp:192.0.2.9:6640
    labels: {rack: r1}
`},
	}, {
		name:   "no files: topology.yaml is made",
		files:  Files{},
		kind:   Switches,
		obj:    "blue",
		fields: []string{"tunnelKey=100", "subnets=[192.0.2.0/24]"},
		want: map[string]string{"topology.yaml": `apiVersion: loom/v1
kind: Topology

switches:
  - name: blue
    tunnelKey: 100
    subnets: [192.0.2.0/24]
`},
	}, {
		name:   "an empty flow list becomes a block list",
		files:  Files{"t.yaml": []byte("apiVersion: loom/v1\nports: []   # none yet\nacls: []\n")},
		kind:   Ports,
		obj:    "p",
		fields: []string{"mac=auto"},
		want:   map[string]string{"t.yaml": "apiVersion: loom/v1\nports: # none yet\n  - name: p\n    mac: auto\nacls: []\n"},
	}, {
		name:   "an empty key gets a list",
		files:  Files{"t.yaml": []byte("apiVersion: loom/v1\nacls:   # none yet\n")},
		kind:   ACLs,
		obj:    "a",
		fields: []string{"rules=[{action: allow}]"},
		want:   map[string]string{"t.yaml": "apiVersion: loom/v1\nacls: # none yet\n  - name: a\n    rules: [{action: allow}]\n"},
	}, {
		name:  "no newline at the end",
		files: Files{"t.yaml": []byte("ports:\n  - name: a")},
		kind:  Ports,
		obj:   "b",
		want:  map[string]string{"t.yaml": "ports:\n  - name: a\n  - name: b\n"},
	}, {
		name:   "a flow file is encoded whole",
		files:  Files{"t.yaml": []byte("{apiVersion: loom/v1, ports: [{name: a}]}")},
		kind:   Ports,
		obj:    "b",
		fields: []string{"mac=auto"},
		want:   map[string]string{"t.yaml": "{apiVersion: loom/v1, ports: [{name: a}, {name: b, mac: auto}]}\n"},
	}, {
		name:   "dotted keys make mappings",
		files:  Files{"t.yaml": []byte("ports:\n- name: a\n")},
		kind:   Ports,
		obj:    "b",
		fields: []string{"acls.toPort=[x, y]", "acls.fromPort=[z]"},
		want:   map[string]string{"t.yaml": "ports:\n- name: a\n- name: b\n  acls:\n    toPort: [x, y]\n    fromPort: [z]\n"},
	}, {
		name:    "duplicate name",
		files:   Files{"two-hosts.yaml": []byte(two)},
		kind:    Ports,
		obj:     "web1",
		fields:  []string{"switch=blue"},
		wantErr: `port "web1" already exists at two-hosts.yaml:21`,
	}, {
		name:    "duplicate in another file",
		files:   split,
		kind:    Switches,
		obj:     "blue",
		wantErr: `switch "blue" already exists at b.yaml:6`,
	}, {
		name:    "name as a field",
		files:   split,
		kind:    Switches,
		obj:     "x",
		fields:  []string{"name=y"},
		wantErr: `name=y: the name is given as NAME, not as a field`,
	}, {
		name:    "through a scalar",
		files:   split,
		kind:    Switches,
		obj:     "x",
		fields:  []string{"vlan=3", "vlan.id=4"},
		wantErr: `vlan.id=4: vlan is the value "3", not a mapping`,
	}, {
		name:    "unknown kind",
		files:   split,
		kind:    "routers",
		obj:     "r",
		wantErr: `unknown kind "routers"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := copyFiles(tc.files)
			got, err := Add(tc.files, tc.kind, tc.obj, fields(t, tc.fields...))
			check(t, orig, tc.files, got, err, tc.want, tc.wantErr)
		})
	}
}

func copyFiles(f Files) Files {
	out := Files{}
	for k, v := range f {
		out[k] = bytes.Clone(v)
	}
	return out
}

// check compares an edit's result: the input unchanged, the files of want
// as given, every other file byte-identical to the input.
func check(t *testing.T, orig, in, got Files, err error, want map[string]string, wantErr string) {
	t.Helper()
	if !reflect.DeepEqual(orig, in) {
		t.Errorf("the edit changed its input")
	}
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range got {
		w, changed := want[name]
		if !changed {
			if !bytes.Equal(b, orig[name]) {
				t.Errorf("%s changed:\n%s", name, b)
			}
			continue
		}
		if string(b) != w {
			t.Errorf("%s:\n%s\nwant:\n%s", name, b, w)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s in the result", name)
		}
	}
}

func TestDelete(t *testing.T) {
	two := string(example(t, "two-hosts.yaml"))
	b := string(split["b.yaml"])
	tests := []struct {
		name    string
		files   Files
		kind    Kind
		obj     string
		want    map[string]string
		wantErr string
	}{{
		name:  "first port",
		files: Files{"two-hosts.yaml": []byte(two)},
		kind:  Ports,
		obj:   "web1",
		want: map[string]string{"two-hosts.yaml": replace(t, two, `  - name: web1
    switch: blue
    host: h1
    mac: "02:00:00:00:01:01"
    ips: [192.0.2.11]
    interface: lm-web1              # veth made by: lab.sh workload add h1 web1 ...
`, "")},
	}, {
		name:  "last port",
		files: Files{"two-hosts.yaml": []byte(two)},
		kind:  Ports,
		obj:   "db1",
		want: map[string]string{"two-hosts.yaml": replace(t, two, `  - name: db1
    switch: blue
    host: h2
    mac: "02:00:00:00:01:02"
    ips: [192.0.2.12]
    interface: lm-db1
`, "")},
	}, {
		name:  "the only switch, with its comments, leaves an empty list",
		files: split,
		kind:  Switches,
		obj:   "blue",
		want: map[string]string{"b.yaml": replace(t, b, `switches:
  # the blue one
  - name: blue   # blue!
    tunnelKey: 2 # its key
    subnets: [192.0.2.0/24]
`, "switches: []\n")},
	}, {
		name:  "an ACL",
		files: split,
		kind:  ACLs,
		obj:   "web",
		want:  map[string]string{"b.yaml": b[:strings.Index(b, "acls:")] + "acls: []\n"},
	}, {
		name:    "unknown, with a suggestion",
		files:   Files{"two-hosts.yaml": []byte(two)},
		kind:    Ports,
		obj:     "web2",
		wantErr: `no port named "web2" (did you mean "web1"?)`,
	}, {
		name:    "unknown",
		files:   split,
		kind:    Hosts,
		obj:     "zzzzzz",
		wantErr: `no host named "zzzzzz"`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := copyFiles(tc.files)
			got, err := Delete(tc.files, tc.kind, tc.obj)
			check(t, orig, tc.files, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestSet(t *testing.T) {
	two := string(example(t, "two-hosts.yaml"))
	b := string(split["b.yaml"])
	tests := []struct {
		name    string
		files   Files
		kind    Kind
		obj     string
		fields  []string
		want    map[string]string
		wantErr string
	}{{
		name:   "replace, remove, add; a line comment keeps its column",
		files:  Files{"two-hosts.yaml": []byte(two)},
		kind:   Ports,
		obj:    "web1",
		fields: []string{"interface=lm-web9", "ips=", "portSecurity=false", "acls.toPort=[basics, web-in]"},
		want: map[string]string{"two-hosts.yaml": replace(t, two, `    ips: [192.0.2.11]
    interface: lm-web1              # veth made by: lab.sh workload add h1 web1 ...
`, `    interface: lm-web9              # veth made by: lab.sh workload add h1 web1 ...
    portSecurity: false
    acls:
      toPort: [basics, web-in]
`)},
	}, {
		name:   "a list value",
		files:  split,
		kind:   Switches,
		obj:    "blue",
		fields: []string{"subnets=[192.0.2.0/24, 2001:db8::/64]", "tunnelKey=3"},
		want: map[string]string{"b.yaml": replace(t, b, "    tunnelKey: 2 # its key\n    subnets: [192.0.2.0/24]\n",
			"    tunnelKey: 3 # its key\n    subnets: [192.0.2.0/24, '2001:db8::/64']\n")},
	}, {
		name:   "rename: the first key of the item",
		files:  split,
		kind:   Switches,
		obj:    "blue",
		fields: []string{"name=cyan"},
		want:   map[string]string{"b.yaml": replace(t, b, "  - name: blue   # blue!\n", "  - name: cyan   # blue!\n")},
	}, {
		name:   "nested key removed, and its empty mapping",
		files:  Files{"t.yaml": []byte("ports:\n  - name: a\n    acls:\n      toPort: [x]\n    mac: auto\n")},
		kind:   Ports,
		obj:    "a",
		fields: []string{"acls.toPort="},
		want:   map[string]string{"t.yaml": "ports:\n  - name: a\n    mac: auto\n"},
	}, {
		name:   "a flow mapping item is rewritten whole",
		files:  Files{"t.yaml": []byte("# top\nports:\n  - {name: a, mac: auto}\n  - name: b\n\nacls: []\n")},
		kind:   Ports,
		obj:    "a",
		fields: []string{"host=h1"},
		want:   map[string]string{"t.yaml": "# top\nports:\n  - {name: a, mac: auto, host: h1}\n  - name: b\n\nacls: []\n"},
	}, {
		name:    "removing what is not there",
		files:   Files{"two-hosts.yaml": []byte(two)},
		kind:    Ports,
		obj:     "web1",
		fields:  []string{"ipz="},
		wantErr: `ipz=: port "web1" has no "ipz" to remove (did you mean "ips"?)`,
	}, {
		name:    "rename onto another",
		files:   Files{"two-hosts.yaml": []byte(two)},
		kind:    Ports,
		obj:     "web1",
		fields:  []string{"name=db1"},
		wantErr: `name=db1: port "db1" already exists at two-hosts.yaml:27`,
	}, {
		name:    "nothing",
		files:   split,
		kind:    Switches,
		obj:     "blue",
		wantErr: "nothing to set",
	}, {
		name:    "unknown",
		files:   split,
		kind:    Switches,
		obj:     "bleu",
		fields:  []string{"mtu=1400"},
		wantErr: `no switch named "bleu" (did you mean "blue"?)`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := copyFiles(tc.files)
			got, err := Set(tc.files, tc.kind, tc.obj, fields(t, tc.fields...))
			check(t, orig, tc.files, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestRules(t *testing.T) {
	b := string(split["b.yaml"])
	ssh := "      - name: ssh\n        action: allow\n        proto: tcp\n        dstPorts: 22\n"
	http := "      # plain web\n      - name: http\n        action: allow\n        proto: tcp\n        dstPorts: 80\n"
	tests := []struct {
		name    string
		acl     string
		rule    []string // to add; else delete
		pos     int
		del     string
		want    map[string]string
		wantErr string
	}{{
		name: "add at the end",
		acl:  "web", rule: []string{"name=ssh", "action=allow", "proto=tcp", "dstPorts=22"}, pos: -1,
		want: map[string]string{"b.yaml": b + ssh},
	}, {
		name: "add past the end",
		acl:  "web", rule: []string{"name=ssh", "action=allow", "proto=tcp", "dstPorts=22"}, pos: 9,
		want: map[string]string{"b.yaml": b + ssh},
	}, {
		name: "add first, above the first rule's comment",
		acl:  "web", rule: []string{"name=ssh", "action=allow", "proto=tcp", "dstPorts=22"}, pos: 0,
		want: map[string]string{"b.yaml": replace(t, b, http, ssh+http)},
	}, {
		name: "add in the middle",
		acl:  "web", rule: []string{"action=drop"}, pos: 1,
		want: map[string]string{"b.yaml": replace(t, b, "        dstPorts: 80\n", "        dstPorts: 80\n      - action: drop\n")},
	}, {
		name: "add to a new ACL",
		acl:  "db", rule: []string{"action=allow", "proto=tcp", "dstPorts=5432"}, pos: 3,
		want: map[string]string{"b.yaml": b + "  - name: db\n    rules:\n      - action: allow\n        proto: tcp\n        dstPorts: 5432\n"},
	}, {
		name: "add a name twice",
		acl:  "web", rule: []string{"name=https", "action=drop"},
		wantErr: `ACL "web" already has a rule named "https", at b.yaml:18`,
	}, {
		name: "delete by name, with its comment",
		acl:  "web", del: "http",
		want: map[string]string{"b.yaml": replace(t, b, http, "")},
	}, {
		name: "delete by index",
		acl:  "web", del: "1",
		want: map[string]string{"b.yaml": replace(t, b, "      - name: https\n        action: allow\n        proto: tcp\n        dstPorts: 443\n", "")},
	}, {
		name: "delete unknown",
		acl:  "web", del: "htp",
		wantErr: `ACL "web" has no rule "htp" (did you mean "http"?): give a rule's name or its index, 0 to 1`,
	}, {
		name: "delete from unknown ACL",
		acl:  "wbe", del: "0",
		wantErr: `no ACL named "wbe" (did you mean "web"?)`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := copyFiles(split)
			var got Files
			var err error
			if tc.del != "" {
				got, err = DeleteRule(split, tc.acl, tc.del)
			} else {
				got, err = AddRule(split, tc.acl, fields(t, tc.rule...), tc.pos)
			}
			check(t, orig, split, got, err, tc.want, tc.wantErr)
		})
	}
}

func TestParseField(t *testing.T) {
	tests := []struct {
		in      string
		key     string
		wantErr string
	}{
		{in: "ips=[192.0.2.5,192.0.2.6]", key: "ips"},
		{in: "mac=02:00:00:00:01:01", key: "mac"},
		{in: "acls.toPort=[a]", key: "acls.toPort"},
		{in: "ips=", key: "ips"},
		{in: "src=@ops", key: "src"}, // not YAML: a string
		{in: "mtu", wantErr: `"mtu": want key=value`},
		{in: "=1", wantErr: `the key "" is not a field name`},
		{in: "a..b=1", wantErr: `the key "a..b" is not a field name`},
		{in: "ips=[192.0.2.5", wantErr: "ips=[192.0.2.5: the value is not valid YAML"},
	}
	for _, tc := range tests {
		f, err := ParseField(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case f.Key != tc.key || f.String() != tc.in:
			t.Errorf("%s: got %+v", tc.in, f)
		}
	}
}

// The loader reads what an edit writes: a good edit loads, and a bad
// value is reported where the edit put it.
func TestLoadEdited(t *testing.T) {
	files := Files{"two-hosts.yaml": example(t, "two-hosts.yaml")}
	got, err := Add(files, Ports, "web3", fields(t, "switch=blue", "host=h2", "mac=auto", "ips=[192.0.2.13]", "interface=lm-web3"))
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.LoadBytes(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Ports) != 3 {
		t.Errorf("%d ports, want 3", len(topo.Ports))
	}

	got, err = Set(files, Ports, "web1", fields(t, "mac=zz"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = topology.LoadBytes(got)
	var l topology.ErrorList
	if !errors.As(err, &l) || len(l) != 1 || !strings.HasPrefix(l[0].Error(), `two-hosts.yaml:24:10: port "web1": invalid MAC "zz"`) {
		t.Errorf("loading mac=zz: %v", err)
	}

	got, err = Set(files, Switches, "blue", fields(t, "tunnelkey=7"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = topology.LoadBytes(got)
	if err == nil || !strings.Contains(err.Error(), `two-hosts.yaml:19:5: unknown switch field "tunnelkey" (did you mean "tunnelKey"?)`) {
		t.Errorf("loading tunnelkey=7: %v", err)
	}
}

// Every object of every example can be deleted and set by splicing its
// lines (no fallback to encoding the file, which would lose blank lines),
// and the result loads or fails only on references.
func TestExamplesSplice(t *testing.T) {
	names, err := filepath.Glob("../../deploy/examples/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatal("no examples", err)
	}
	for _, path := range names {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		for kind := range singular {
			f, err := parseFile(name, src)
			if err != nil {
				t.Fatal(err)
			}
			_, seq := f.list(kind)
			if seq == nil {
				continue
			}
			for i := range seq.Content {
				for _, op := range []string{"delete", "set"} {
					f, _ := parseFile(name, src)
					_, seq := f.list(kind)
					if op == "delete" {
						f.deleteItem(f.root(), string(kind), i)
					} else {
						obj := seq.Content[i]
						e := []fieldEdit{{Field{"labels.x", "1"}, []string{"labels", "x"}, str("1")}}
						if err := f.setFields(obj, "it", e); err != nil {
							t.Fatal(err)
						}
					}
					b, ok := f.spliced()
					whole, _ := render(f.doc)
					if f.whole || !ok || !f.same(b, []byte(whole)) {
						t.Errorf("%s: %s %s %d: not spliced:\n%s", name, op, kind, i, b)
					}
					if n := strings.Count(string(b), "\n\n"); op == "set" && n != strings.Count(string(src), "\n\n") {
						t.Errorf("%s: set %s %d: blank lines changed:\n%s", name, kind, i, b)
					}
				}
			}
		}
	}
}

// Edits never panic, and what they return decodes as YAML.
func FuzzEdit(f *testing.F) {
	for _, n := range []string{"two-hosts.yaml", "acls.yaml", "vlan-trunk.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/examples", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "web1", "ips=[192.0.2.9]", 1)
		f.Add(b, "blue", "acls.toPort=", 0)
	}
	f.Add(split["b.yaml"], "web", "name=x", 2)
	f.Fuzz(func(t *testing.T, src []byte, name, field string, pos int) {
		files := Files{"f.yaml": src}
		fl, err := ParseField(field)
		if err != nil {
			return
		}
		for _, kind := range []Kind{Hosts, Switches, Ports, ACLs} {
			for _, op := range []func() (Files, error){
				func() (Files, error) { return Add(files, kind, name, []Field{fl}) },
				func() (Files, error) { return Delete(files, kind, name) },
				func() (Files, error) { return Set(files, kind, name, []Field{fl}) },
				func() (Files, error) { return AddRule(files, name, []Field{fl}, pos) },
				func() (Files, error) { return DeleteRule(files, name, fl.Value) },
			} {
				out, err := op()
				if err != nil {
					continue
				}
				if _, err := parseFile("f.yaml", out["f.yaml"]); err != nil {
					t.Fatalf("%s %s %s: the result is not YAML: %v\n%s", kind, name, field, err, out["f.yaml"])
				}
			}
		}
	})
}
