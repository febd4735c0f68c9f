package edit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// fileSets are the topologies the equivalence tests edit.
func fileSets(t *testing.T) map[string]Files {
	t.Helper()
	sets := map[string]Files{"split": split}
	ex, _ := filepath.Glob("../../deploy/examples/*.yaml")
	for _, p := range ex {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sets[filepath.Base(p)] = Files{filepath.Base(p): b}
	}
	sets["generated"] = Files{"net.yaml": topotest.Generate(3, 4, 4)}
	sets["flow entries"] = Files{"t.yaml": []byte("apiVersion: loom/v1\nhosts:\n  - {name: h1, ovsdb: \"tcp:198.18.0.11:6640\", tunnelIP: 198.19.0.11}\n" +
		"switches:\n  - {name: s0, tunnelKey: 1}\n  - {name: s1, tunnelKey: 2}\nports:\n" +
		"  - {name: p0, switch: s0, host: h1, mac: auto, interface: p0}   # first\n\n  # the second\n  - {name: p1, switch: s1, host: h1, mac: auto, interface: p1}\n" +
		"acls:\n  - {name: a, rules: [{action: allow}]}\n  - name: b\n    rules:\n    - {name: r1, action: drop}\n    - action: allow\n")}
	sets["column 0"] = Files{"t.yaml": []byte("apiVersion: loom/v1\nswitches:\n- name: s0\n  tunnelKey: 1\n# between\n- name: s1\n  tunnelKey: 2\nports:\n- name: p0\n  switch: s0\n  host: h1\n  mac: auto\n- name: p1\n  switch: s1\n  host: h1\n  mac: auto\n")}
	sets["flow lists"] = Files{"t.yaml": []byte("apiVersion: loom/v1\nswitches: [{name: s0}, {name: s1}]\nports:\n  - {name: p0, switch: s0}\n  - {name: p1, switch: s1}\n")}
	sets["dash alone"] = Files{"t.yaml": []byte("apiVersion: loom/v1\nswitches:\n  -\n    name: s0\n  - name: s1  # one\n")}
	sets["no final newline"] = Files{"t.yaml": []byte("apiVersion: loom/v1\nswitches:\n  - name: s0\n  - name: s1")}
	return sets
}

// opsFor are edits of every object of files, and some more.
func opsFor(t *testing.T, files Files) []Op {
	t.Helper()
	topo, _ := topology.LoadBytes(files)
	var ops []Op
	l := topology.NewLoader()
	names := map[Kind][]string{}
	for _, b := range files {
		lay, ok := l.Layout(b)
		if !ok {
			continue
		}
		for _, k := range lay.Keys {
			for _, it := range k.Items {
				names[Kind(k.Key)] = append(names[Kind(k.Key)], it.Name)
			}
		}
	}
	fs := func(kv ...string) []Field { return fields(t, kv...) }
	for kind, list := range names {
		w := kind.Word()
		for _, n := range list {
			ops = append(ops,
				Op{Action: ActionDel, Kind: w, Name: n},
				Op{Action: ActionSet, Kind: w, Name: n, Fields: fs("mtu=1400", "labels.rack=r2")},
				Op{Action: ActionSet, Kind: w, Name: n, Fields: fs("name=renamed")},
				Op{Action: ActionSet, Kind: w, Name: n, Fields: fs("ips=", "interface=lm-x")},
				Op{Action: ActionSet, Kind: w, Name: n, Fields: fs("ipz=")},
				Op{Action: ActionAdd, Kind: w, Name: n, Fields: fs("mtu=1")},
			)
		}
		if len(list) > 1 {
			ops = append(ops, Op{Action: ActionSet, Kind: w, Name: list[0], Fields: fs("name=" + list[1])})
		}
	}
	sw := "blue"
	if topo != nil && len(topo.Switches) > 0 {
		sw = topo.Switches[len(topo.Switches)-1].Name
	}
	ops = append(ops,
		Op{Action: ActionAdd, Kind: "port", Name: "new1", Fields: fs("switch="+sw, "host=h1", "mac=auto", "ips=[192.0.2.99]", "interface=lm-new1")},
		Op{Action: ActionAdd, Kind: "switch", Name: "new2", Fields: fs("tunnelKey=77", "subnets=[198.51.100.0/24]")},
		Op{Action: ActionAdd, Kind: "host", Name: "new3", Fields: fs("ovsdb=tcp:192.0.2.3:6640", "labels={rack: r1}")},
		Op{Action: ActionAdd, Kind: "acl", Name: "new4", Fields: fs("rules=[{action: allow}]")},
		Op{Action: ActionAdd, Kind: "l2Gateway", Name: "new5", Fields: fs("switch=" + sw)},
		Op{Action: ActionDel, Kind: "port", Name: "nope"},
		Op{Action: ActionSet, Kind: "switch", Name: "nope", Fields: fs("mtu=1")},
		Op{Action: ActionSet, Kind: "switch", Name: sw},
	)
	for _, acl := range names[ACLs] {
		for _, pos := range []int{-1, 0, 1, 99} {
			ops = append(ops, Op{Action: ActionAdd, Kind: KindRule, ACL: acl, Position: pos, Fields: fs("name=r9", "action=drop", "proto=udp")})
		}
		for _, r := range []string{"0", "1", "http", "zz"} {
			ops = append(ops, Op{Action: ActionDel, Kind: KindRule, ACL: acl, Name: r})
		}
	}
	ops = append(ops, Op{Action: ActionAdd, Kind: KindRule, ACL: "fresh", Fields: fs("action=allow")})
	return ops
}

// Through an index, every edit makes the bytes (or the error) the
// whole-file edit makes; and most take the short way.
func TestFastIsWhole(t *testing.T) {
	fastTaken, all := 0, 0
	for name, files := range fileSets(t) {
		loader := topology.NewLoader()
		for _, op := range opsFor(t, files) {
			for _, quiet := range []bool{false, true} {
				want, wdid, werr := Apply(files, []Op{op}, Options{NoPositions: quiet})
				got, gdid, gerr := Apply(files, []Op{op}, Options{Index: loader, NoPositions: quiet})
				if fmt.Sprint(werr) != fmt.Sprint(gerr) {
					t.Errorf("%s, %s: errors differ\nwhole: %v\nfast:  %v", name, op, werr, gerr)
					continue
				}
				if fmt.Sprint(wdid) != fmt.Sprint(gdid) {
					t.Errorf("%s, %s: said %q, want %q", name, op, gdid, wdid)
				}
				for n := range want {
					if !bytes.Equal(want[n], got[n]) {
						t.Errorf("%s, %s: %s differs\nwhole:\n%s\nfast:\n%s", name, op, n, want[n], got[n])
					}
				}
				if len(want) != len(got) {
					t.Errorf("%s, %s: %d files, want %d", name, op, len(got), len(want))
				}
			}
			all++
			if taken(files, op, loader) {
				fastTaken++
			}
		}
	}
	if fastTaken < all*2/3 {
		t.Errorf("only %d of %d edits took the short way", fastTaken, all)
	}
	t.Logf("%d of %d edits took the short way", fastTaken, all)
}

// taken tells whether fast made op (or refused it) without the
// whole-file edit.
func taken(files Files, op Op, ix Indexer) bool {
	x := newFast(files, Options{Index: ix})
	var out Files
	var err error
	if op.Kind == KindRule {
		if op.Action == ActionAdd {
			out, _, err = x.addRule(files, op.ACL, op.Fields, op.Position)
		} else {
			out, err = x.deleteRule(files, op.ACL, op.Name)
		}
		return out != nil || err != nil
	}
	kind, _ := KindOf(op.Kind)
	switch op.Action {
	case ActionAdd:
		out, err = x.add(files, kind, op.Name, op.Fields)
	case ActionDel:
		out, err = x.del(files, kind, op.Name)
	case ActionSet:
		out, err = x.set(files, kind, op.Name, op.Fields)
	}
	return out != nil || err != nil
}

// The common edits of a large file take the short way.
func TestFastTaken(t *testing.T) {
	files := Files{"net.yaml": topotest.Generate(10, 20, 5)}
	ix := topology.NewLoader()
	fs := func(kv ...string) []Field { return fields(t, kv...) }
	for _, op := range []Op{
		{Action: ActionAdd, Kind: "port", Name: "x", Fields: fs("switch=s1", "host=h1", "mac=auto", "interface=x")},
		{Action: ActionDel, Kind: "port", Name: "p7"},
		{Action: ActionSet, Kind: "port", Name: "p7", Fields: fs("ips=[10.128.0.99]")},
		{Action: ActionAdd, Kind: "switch", Name: "x", Fields: fs("tunnelKey=999")},
		{Action: ActionDel, Kind: "switch", Name: "s3"},
		{Action: ActionDel, Kind: "host", Name: "h3"},
	} {
		if !taken(files, op, ix) {
			t.Errorf("%s: whole-file edit", op)
		}
	}
}

// Several edits at once: made in order, each on the result of the one
// before; all or nothing.
func TestApplySeveral(t *testing.T) {
	two := Files{"two-hosts.yaml": example(t, "two-hosts.yaml")}
	fs := func(kv ...string) []Field { return fields(t, kv...) }
	ops := []Op{
		{Action: ActionAdd, Kind: "switch", Name: "red", Fields: fs("tunnelKey=300")},
		{Action: ActionAdd, Kind: "port", Name: "r1", Fields: fs("switch=red", "host=h1", "mac=auto", "interface=lm-r1")},
		{Action: ActionSet, Kind: "port", Name: "r1", Fields: fs("host=h2")},
		{Action: ActionAdd, Kind: KindRule, ACL: "db-in", Name: "pg", Fields: fs("action=allow", "proto=tcp", "dstPorts=5432")},
	}
	out, did, err := Apply(two, ops, Options{Index: topology.NewLoader(), NoPositions: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`switch "red" added`, `port "r1" added to switch red on host h1`, `port "r1" updated: host=h2`, `rule "pg" added to new ACL db-in`}
	if fmt.Sprint(did) != fmt.Sprint(want) {
		t.Errorf("did %q, want %q", did, want)
	}
	topo, err := topology.LoadBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range topo.Ports {
		if p.Name == "r1" {
			found = true
			if p.Host != "h2" || p.Switch != "red" {
				t.Errorf("port r1: %+v", p)
			}
		}
	}
	if !found {
		t.Error("no port r1")
	}
	if a, ok := topo.ACL("db-in"); !ok || len(a.Rules) != 1 || a.Rules[0].Name != "pg" {
		t.Errorf("acl db-in: %+v", a)
	}
	_, _, err = Apply(two, append(ops, Op{Action: ActionDel, Kind: "port", Name: "nope"}), Options{NoPositions: true})
	if err == nil || err.Error() != `edit 5 (del port nope): no port named "nope"` {
		t.Errorf("error %v", err)
	}
}

func TestFieldJSON(t *testing.T) {
	for _, tc := range []struct{ key, json, yaml, back string }{
		{"ips", `["192.0.2.5","2001:db8::5"]`, "[192.0.2.5, '2001:db8::5']", ""},
		{"mac", `"02:00:00:00:01:01"`, `02:00:00:00:01:01`, ""},
		{"mac", `"auto"`, "auto", ""},
		{"tunnelKey", `100`, "100", ""},
		{"portSecurity", `false`, "false", ""},
		{"name", `"123"`, `"123"`, ""},
		{"name", `"yes"`, `yes`, ""},
		{"name", `"true"`, `"true"`, ""},
		{"name", `"a: b"`, `'a: b'`, ""},
		{"mtu", `null`, "", ""},
		{"physnets", `{"physnet1":"eth1","b":"x"}`, "{physnet1: eth1, b: x}", ""},
		{"rules", `[{"action":"allow","dstPorts":80}]`, "[{action: allow, dstPorts: 80}]", ""},
		{"x", `1.5`, "1.5", ""},
	} {
		f, err := FieldFromJSON(tc.key, []byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if f.Value != tc.yaml {
			t.Errorf("%s: YAML %q, want %q", tc.json, f.Value, tc.yaml)
		}
		back, err := f.JSON()
		if err != nil {
			t.Errorf("%s: back: %v", tc.json, err)
			continue
		}
		var a, b any
		json.Unmarshal([]byte(tc.json), &a)
		json.Unmarshal(back, &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: back as %s", tc.json, back)
		}
	}
	// What loomctl's key=value gives.
	for in, want := range map[string]string{
		"ips=[192.0.2.5, 192.0.2.6]": `["192.0.2.5","192.0.2.6"]`,
		"tunnelKey=0x10":             `16`,
		"mac=02:00:00:00:01:01":      `"02:00:00:00:01:01"`,
		"dstPorts=8000-8099":         `"8000-8099"`,
		"ips=":                       `null`,
		"acls.toPort=[a,b]":          `["a","b"]`,
		"labels={rack: r1}":          `{"rack":"r1"}`,
		"when=2001-12-14":            `"2001-12-14"`,
		"name=web 1":                 `"web 1"`,
	} {
		f, err := ParseField(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.JSON()
		if err != nil || string(got) != want {
			t.Errorf("%s: %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := FieldFromJSON("a b", []byte("1")); err == nil || !strings.Contains(err.Error(), "not a field name") {
		t.Errorf("bad key: %v", err)
	}
	if _, err := FieldFromJSON("a", []byte("[1,")); err == nil {
		t.Error("bad JSON: no error")
	}
}
