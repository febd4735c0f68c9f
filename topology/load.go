package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the topology from files and folders (a folder contributes its
// *.yaml and *.yml files, not its subfolders), merges them and validates
// the result. On any problem it returns an ErrorList with every problem
// found; otherwise the frozen Topology.
func Load(paths ...string) (*Topology, error) {
	if len(paths) == 0 {
		return nil, errors.New("no topology files given")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, e := range ents {
			ext := filepath.Ext(e.Name())
			if e.Type().IsRegular() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no *.yaml or *.yml files in folder", p)
		}
	}
	srcs := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, fmt.Errorf("read topology: %w", err)
		}
		srcs[f] = b
	}
	return LoadBytes(srcs)
}

// LoadBytes is Load on file contents already read, keyed by file name (used
// in positions). It does no I/O.
func LoadBytes(files map[string][]byte) (*Topology, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	d := &decoder{}
	for _, n := range names {
		d.file(n, files[n])
	}
	if d.unreadable {
		// A file that is not YAML contributes nothing: checking references
		// against the rest would only add noise.
		return nil, d.errs.Err()
	}
	// Check the meaning even when some fields were wrong, so that every
	// problem is reported at once; a field whose value was already
	// rejected is not reported again.
	decoded := len(d.errs)
	t := d.validate()
	if decoded > 0 {
		bad := map[Pos]bool{}
		for _, e := range d.errs[:decoded] {
			bad[e.Pos] = true
		}
		kept := d.errs[:decoded]
		for _, e := range d.errs[decoded:] {
			if !bad[e.Pos] {
				kept = append(kept, e)
			}
		}
		d.errs = kept
	}
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// Raw objects as written, with the positions of their fields.
type rawHost struct {
	pos                                                   Pos
	fields                                                map[string]Pos
	name, ovsdb, openflow, tunnelIP, datapathType, bridge string
}

type rawSwitch struct {
	pos       Pos
	fields    map[string]Pos
	name      string
	tunnelKey int64
}

type rawPort struct {
	pos                            Pos
	fields                         map[string]Pos
	name, sw, host, mac, ip, iface string
}

type decoder struct {
	errs       ErrorList
	unreadable bool // a file was not YAML or had tabs
	hosts      []*rawHost
	switches   []*rawSwitch
	ports      []*rawPort
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) file(name string, src []byte) {
	if bytes.Contains(src, []byte("\t")) {
		for i, line := range strings.Split(string(src), "\n") {
			if c := strings.IndexByte(line, '\t'); c >= 0 {
				d.errs.add(Pos{name, i + 1, c + 1}, "indent with spaces", "tab character: YAML forbids tabs")
			}
		}
		d.unreadable = true
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		msg := err.Error()
		p := Pos{File: name}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		d.errs.add(p, "", "%s", strings.TrimPrefix(msg, "yaml: "))
		d.unreadable = true
		return
	}
	if len(doc.Content) == 0 {
		d.errs.add(Pos{File: name, Line: 1}, "", "empty file: expected apiVersion: %s", APIVersion)
		return
	}
	root := doc.Content[0]
	seenAPI := false
	d.mapping(name, root, "topology", map[string]func(*yaml.Node){
		"apiVersion": func(v *yaml.Node) {
			seenAPI = true
			if s := d.str(name, v); s != "" && s != APIVersion {
				d.errs.add(pos(name, v), "this Loom reads apiVersion: "+APIVersion, "unsupported apiVersion %q", s)
			}
		},
		"kind": func(v *yaml.Node) {
			if s := d.str(name, v); s != "" && s != "Topology" {
				d.errs.add(pos(name, v), "", "kind must be Topology, not %q", s)
			}
		},
		"hosts":    func(v *yaml.Node) { d.seq(name, v, "host", d.host) },
		"switches": func(v *yaml.Node) { d.seq(name, v, "switch", d.sw) },
		"ports":    func(v *yaml.Node) { d.seq(name, v, "port", d.port) },
	})
	if root.Kind == yaml.MappingNode && !seenAPI {
		d.errs.add(pos(name, root), "", "missing apiVersion: every topology file starts with apiVersion: %s", APIVersion)
	}
}

func pos(file string, n *yaml.Node) Pos { return Pos{file, n.Line, n.Column} }

// mapping decodes a YAML mapping whose keys must be among fields, reporting
// unknown and repeated keys. It returns the positions of the keys seen.
func (d *decoder) mapping(file string, n *yaml.Node, what string, fields map[string]func(*yaml.Node)) map[string]Pos {
	seen := map[string]Pos{}
	if n.Kind != yaml.MappingNode {
		d.errs.add(pos(file, n), "", "%s must be a mapping of keys to values, not %s", what, kindName(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := pos(file, k)
		if prev, dup := seen[k.Value]; dup {
			d.errs.add(kp, "", "%s key %q repeated (first at line %d)", what, k.Value, prev.Line)
			continue
		}
		seen[k.Value] = pos(file, v)
		set, ok := fields[k.Value]
		if !ok {
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			hint := didYouMean(k.Value, known)
			if hint == "" {
				sort.Strings(known)
				hint = "known fields: " + strings.Join(known, ", ")
			}
			d.errs.add(kp, hint, "unknown %s field %q", what, k.Value)
			continue
		}
		set(v)
	}
	return seen
}

func (d *decoder) seq(file string, n *yaml.Node, what string, item func(string, *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		d.errs.add(pos(file, n), "", "expected a list of %ss, not %s", what, kindName(n))
		return
	}
	for _, c := range n.Content {
		item(file, c)
	}
}

func (d *decoder) str(file string, n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errs.add(pos(file, n), "", "expected a string, not %s", kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) int(file string, n *yaml.Node) int64 {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errs.add(pos(file, n), "", "expected an integer, not %s", kindName(n))
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil {
		d.errs.add(pos(file, n), "", "integer %s out of range", n.Value)
	}
	return v
}

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
	return fmt.Sprintf("%q", n.Value)
}

func (d *decoder) host(file string, n *yaml.Node) {
	h := &rawHost{pos: pos(file, n)}
	s := func(dst *string) func(*yaml.Node) { return func(v *yaml.Node) { *dst = d.str(file, v) } }
	h.fields = d.mapping(file, n, "host", map[string]func(*yaml.Node){
		"name": s(&h.name), "ovsdb": s(&h.ovsdb), "openflow": s(&h.openflow),
		"tunnelIP": s(&h.tunnelIP), "datapathType": s(&h.datapathType), "bridge": s(&h.bridge),
	})
	d.hosts = append(d.hosts, h)
}

func (d *decoder) sw(file string, n *yaml.Node) {
	w := &rawSwitch{pos: pos(file, n)}
	w.fields = d.mapping(file, n, "switch", map[string]func(*yaml.Node){
		"name":      func(v *yaml.Node) { w.name = d.str(file, v) },
		"tunnelKey": func(v *yaml.Node) { w.tunnelKey = d.int(file, v) },
	})
	d.switches = append(d.switches, w)
}

func (d *decoder) port(file string, n *yaml.Node) {
	p := &rawPort{pos: pos(file, n)}
	s := func(dst *string) func(*yaml.Node) { return func(v *yaml.Node) { *dst = d.str(file, v) } }
	p.fields = d.mapping(file, n, "port", map[string]func(*yaml.Node){
		"name": s(&p.name), "switch": s(&p.sw), "host": s(&p.host),
		"mac": s(&p.mac), "ip": s(&p.ip), "interface": s(&p.iface),
	})
	d.ports = append(d.ports, p)
}

// didYouMean suggests the closest of known to got, if it is close enough.
func didYouMean(got string, known []string) string {
	sort.Strings(known)
	best, bestD := "", len(got)/2+2
	for _, k := range known {
		if dd := editDistance(strings.ToLower(got), strings.ToLower(k)); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best == "" {
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
