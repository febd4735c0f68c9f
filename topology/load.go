package topology

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// source is where topology files come from: the file system (Load) or a
// map of contents (LoadBytes, pure).
type source interface {
	// stat tells whether p is a folder, or that it does not exist.
	stat(p string) (dir bool, err error)
	// list returns the *.yaml and *.yml files directly in folder p, sorted.
	list(p string) ([]string, error)
	read(p string) ([]byte, error)
}

type diskSource struct{}

func (diskSource) stat(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

func (diskSource) list(p string) ([]string, error) {
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && isYAML(e.Name()) {
			out = append(out, filepath.Join(p, e.Name()))
		}
	}
	return out, nil
}

func (diskSource) read(p string) ([]byte, error) { return os.ReadFile(p) }

type mapSource map[string][]byte

func (m mapSource) stat(p string) (bool, error) {
	if _, ok := m[p]; ok {
		return false, nil
	}
	if l, _ := m.list(p); len(l) > 0 {
		return true, nil
	}
	return false, fs.ErrNotExist
}

func (m mapSource) list(p string) ([]string, error) {
	var out []string
	for name := range m {
		if path.Dir(name) == path.Clean(p) && isYAML(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m mapSource) read(p string) ([]byte, error) {
	if b, ok := m[p]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func isYAML(name string) bool {
	ext := path.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// Load reads the topology from files and folders (a folder contributes its
// *.yaml and *.yml files, not its subfolders), and the files they include,
// merges them and validates the result. On any problem it returns an
// ErrorList with every problem found; otherwise the frozen Topology, whose
// Warnings may list problems that do not stop it.
func Load(paths ...string) (*Topology, error) {
	return load(diskSource{}, paths)
}

// LoadBytes is Load on file contents keyed by file name (used in positions
// and to resolve includes). It does no I/O: all files are loaded, in name
// order, and includes name other keys of the map.
func LoadBytes(files map[string][]byte) (*Topology, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return load(mapSource(files), names)
}

func load(src source, roots []string) (*Topology, error) {
	if len(roots) == 0 {
		return nil, errors.New("no topology files given")
	}
	d := &decoder{}
	seen := map[string]bool{}
	var queue []string
	expand := func(p string, from Pos) {
		dir, err := src.stat(p)
		if err != nil {
			if from.File == "" {
				d.errs.add(Pos{File: p}, "", "%v", unwrapPath(err))
			} else {
				d.errs.add(from, "", "include %q: %v", p, unwrapPath(err))
			}
			return
		}
		files := []string{p}
		if dir {
			files, _ = src.list(p)
			if len(files) == 0 {
				d.errs.add(Pos{File: p}, "", "no *.yaml or *.yml files in folder")
			}
		}
		for _, f := range files {
			if !seen[filepath.Clean(f)] {
				seen[filepath.Clean(f)] = true
				queue = append(queue, f)
			}
		}
	}
	for _, r := range roots {
		expand(r, Pos{})
	}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		b, err := src.read(f)
		if err != nil {
			d.errs.add(Pos{File: f}, "", "%v", unwrapPath(err))
			continue
		}
		spec := d.file(f, b)
		if spec == nil {
			continue
		}
		for i, inc := range spec.Include {
			p := inc
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(f), inc)
			}
			at := spec.at("include")
			if n := d.includeNodes[f]; i < len(n) {
				at = n[i]
			}
			expand(p, at)
		}
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
	d.warns.sort()
	t.Warnings = d.warns
	return t, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type decoder struct {
	errs             ErrorList
	tunnelIPReported map[string]bool
	gwVLANPos        map[string]Pos
	gwOfSwitch       map[string]string // switch -> its l2 gateway
	warns            ErrorList
	unreadable       bool // a file was not YAML or had tabs
	specs            []*FileSpec
	includeNodes     map[string][]Pos // file -> position of each include entry
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// file decodes one file; nil if it could not be read as YAML at all.
func (d *decoder) file(name string, src []byte) *FileSpec {
	if bytes.Contains(src, []byte("\t")) {
		for i, line := range strings.Split(string(src), "\n") {
			if c := strings.IndexByte(line, '\t'); c >= 0 {
				d.errs.add(Pos{name, i + 1, c + 1}, "indent with spaces", "tab character: YAML forbids tabs")
			}
		}
		d.unreadable = true
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs.add(Pos{File: name, Line: 1}, "", "empty file: expected apiVersion: %s", APIVersion)
			return nil
		}
		d.yamlError(name, err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs.add(pos(name, &extra), "put each topology in a file of its own, or merge them", "a second YAML document in one file")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(name, err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.errs.add(Pos{File: name, Line: 1}, "", "empty file: expected apiVersion: %s", APIVersion)
		return nil
	}
	root := doc.Content[0]
	spec := &FileSpec{}
	d.decodeStruct(name, root, reflect.ValueOf(spec).Elem())
	if spec.Src.Pos.File == "" {
		spec.Src.Pos = Pos{File: name, Line: 1, Col: 1}
	}
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "include" && root.Content[i+1].Kind == yaml.SequenceNode {
				if d.includeNodes == nil {
					d.includeNodes = map[string][]Pos{}
				}
				for _, c := range root.Content[i+1].Content {
					d.includeNodes[name] = append(d.includeNodes[name], pos(name, c))
				}
			}
		}
	}
	d.specs = append(d.specs, spec)
	return spec
}

func (d *decoder) yamlError(name string, err error) {
	msg := err.Error()
	p := Pos{File: name}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	d.errs.add(p, "", "%s", strings.TrimPrefix(msg, "yaml: "))
	d.unreadable = true
}

// recordingSource reads from disk and keeps what it read.
type recordingSource struct {
	diskSource
	files map[string][]byte
}

func (r *recordingSource) read(p string) ([]byte, error) {
	b, err := r.diskSource.read(p)
	if err == nil {
		r.files[filepath.Clean(p)] = b
	}
	return b, err
}

// ReadFiles reads the files Load would read for paths (folders' YAML files
// and every file included), without judging them, keyed by their paths
// relative to the folder they share; LoadBytes of the result reads the
// same topology as Load(paths...), with shorter file names in positions.
// Only a file or folder that cannot be read is an error.
func ReadFiles(paths ...string) (map[string][]byte, error) {
	_, files, err := ReadFilesIn(paths...)
	return files, err
}

// ReadFilesIn is ReadFiles, and also the folder the keys are relative to.
// (Reading costs a whole Load: callers that poll should first check
// whether those files changed.)
func ReadFilesIn(paths ...string) (dir string, files map[string][]byte, err error) {
	rec := &recordingSource{files: map[string][]byte{}}
	_, err = load(rec, paths)
	var l ErrorList
	if errors.As(err, &l) {
		var unread ErrorList
		for _, e := range l {
			if e.Pos.Line == 0 || strings.HasPrefix(e.Msg, "include \"") {
				unread = append(unread, e)
			}
		}
		if len(unread) > 0 {
			return "", nil, unread
		}
	} else if err != nil {
		return "", nil, err
	}
	if len(rec.files) == 0 {
		return "", nil, errors.New("no topology files found")
	}
	var dirs []string
	for name := range rec.files {
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", nil, err
		}
		dirs = append(dirs, filepath.Dir(abs))
	}
	common := dirs[0]
	for _, d := range dirs[1:] {
		for !strings.HasPrefix(d+string(filepath.Separator), common+string(filepath.Separator)) && common != "/" {
			common = filepath.Dir(common)
		}
	}
	out := make(map[string][]byte, len(rec.files))
	for name, b := range rec.files {
		abs, _ := filepath.Abs(name)
		rel, err := filepath.Rel(common, abs)
		if err != nil {
			return "", nil, err
		}
		out[filepath.ToSlash(rel)] = b
	}
	return common, out, nil
}
