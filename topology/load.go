package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
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

// read reads at most MaxBytes and one byte more: enough to tell that a
// file is too large without holding it all.
func (diskSource) read(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxBytes+1))
}

// MaxBytes is the most a topology's files may hold in all. Loading costs
// about 40 bytes of memory at its peak for each byte of YAML
// (docs/topology.md, Limits), so this bounds a load to about 1.3 GB; the
// largest topology measured, 125,000 ports, is 16 MB. loomd's API may
// reuse it.
const MaxBytes = 32 << 20

// mapSource is files in memory, with each folder's YAML files listed
// once (a load may stat and list folders many times).
type mapSource struct {
	files map[string][]byte
	dirs  map[string][]string // folder -> its *.yaml and *.yml files, sorted
}

func newMapSource(files map[string][]byte) *mapSource {
	m := &mapSource{files: files, dirs: map[string][]string{}}
	for name := range files {
		if isYAML(name) {
			m.dirs[path.Dir(name)] = append(m.dirs[path.Dir(name)], name)
		}
	}
	for _, l := range m.dirs {
		sort.Strings(l)
	}
	return m
}

func (m *mapSource) stat(p string) (bool, error) {
	if _, ok := m.files[p]; ok {
		return false, nil
	}
	if l, _ := m.list(p); len(l) > 0 {
		return true, nil
	}
	return false, fs.ErrNotExist
}

func (m *mapSource) list(p string) ([]string, error) {
	return m.dirs[path.Clean(p)], nil
}

func (m *mapSource) read(p string) ([]byte, error) {
	if b, ok := m.files[p]; ok {
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
	return loadWith(diskSource{}, paths, nil)
}

// LoadBytes is Load on file contents keyed by file name (used in positions
// and to resolve includes). It does no I/O: all files are loaded, in name
// order, and includes name other keys of the map.
func LoadBytes(files map[string][]byte) (*Topology, error) {
	return loadWith(newMapSource(files), sortedNames(files), nil)
}

// loadWith loads roots from src; with a Loader, files are parsed with its
// help (incremental.go).
func loadWith(src source, roots []string, cache *Loader) (t *Topology, err error) {
	return loadFiles(src, roots, cache, false)
}

// loadFiles loads roots from src; readOnly stops once every file is read
// and decoded (no topology; only the problems of reading).
func loadFiles(src source, roots []string, cache *Loader, readOnly bool) (t *Topology, err error) {
	if len(roots) == 0 {
		return nil, errors.New("no topology files given")
	}
	d := &decoder{cache: cache}
	// A bug of the loader costs the file, never the process reading it.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, ErrorList{{Pos: Pos{File: d.current}, Msg: fmt.Sprintf("internal error reading the topology: %v; please report it with the files", r)}}
		}
	}()
	seen := map[string]bool{}
	var queue []string
	expand := func(p string, from Pos) {
		if seen[filepath.Clean(p)] {
			return // a file, or a folder, already taken
		}
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
			seen[filepath.Clean(p)] = true
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
		d.current = f
		b, err := src.read(f)
		if err != nil {
			d.errs.add(Pos{File: f}, "", "%v", unwrapPath(err))
			continue
		}
		if d.bytes += len(b); d.bytes > MaxBytes {
			d.errs.add(Pos{File: f}, "split the network over several loomd instances, or write it more tersely",
				"the topology's files hold more than %d bytes (32 MiB) with this one: at most that much is read", MaxBytes)
			d.unreadable = true
			break
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
	// The parser places some nodes (an empty document's) past the end.
	defer func() {
		for _, l := range []ErrorList{d.errs.list, d.warns.list} {
			for _, e := range l {
				if end, ok := d.ends[e.Pos.File]; ok && e.Pos.Line > end.Line {
					e.Pos = end
				}
			}
		}
	}()
	if readOnly {
		if l := d.errs.sorted("errors", false); len(l) > 0 {
			return nil, l
		}
		return nil, nil
	}
	if d.unreadable || d.errs.more > 0 {
		// A file that is not YAML contributes nothing: checking references
		// against the rest would only add noise. Nor is it worth checking
		// the meaning of files that already have more errors than are
		// listed.
		return nil, d.errs.sorted("errors", d.errs.more > 0 && !d.unreadable)
	}
	// Check the meaning even when some fields were wrong, so that every
	// problem is reported at once; a field whose value was already
	// rejected is not reported again.
	if len(d.errs.list) > 0 {
		d.errs.reported = map[Pos]bool{}
		for _, e := range d.errs.list {
			d.errs.reported[e.Pos] = true
		}
	}
	d.current = ""
	t = d.validate()
	if d.errs.n > 0 {
		return nil, d.errs.sorted("errors", false)
	}
	t.Warnings = d.warns.sorted("warnings", false)
	return t, nil
}

func unwrapPath(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		// The same words whether the file is missing on disk or from the
		// files sent to loomd: a local validate and loomd's agree.
		return fs.ErrNotExist
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

type decoder struct {
	errs             problems
	tunnelIPReported map[string]bool
	gwVLANPos        map[string]Pos
	gwOfSwitch       map[string]string // switch -> its l2 gateway
	warns            problems
	unreadable       bool           // a file was not YAML or had tabs
	current          string         // the file being decoded
	ends             map[string]Pos // where each file ends
	bytes            int            // read so far
	specs            []*FileSpec
	includeNodes     map[string][]Pos // file -> position of each include entry
	cache            *Loader          // parses files, if set
	// entries are, for each list a Loader assembled, its kept entries in
	// order (incremental.go).
	entries map[*yaml.Node][]*cachedItem
	// Aliases of the file being decoded (decode.go).
	aliasBudget int                // nodes its aliases may still expand to
	anchorSize  map[*yaml.Node]int // the nodes under each anchored node
	expanding   map[*yaml.Node]bool
}

// file decodes one file; nil if it could not be read as YAML at all.
// With a Loader, a file it decoded before without a problem, under the
// same name and with the same bytes, is not decoded again.
func (d *decoder) file(name string, src []byte) *FileSpec {
	if d.ends == nil {
		d.ends = map[string]Pos{}
	}
	if d.cache != nil {
		if df := d.cache.decodedFile(name, src); df != nil {
			d.ends[name] = df.end
			if len(df.includes) > 0 {
				if d.includeNodes == nil {
					d.includeNodes = map[string][]Pos{}
				}
				d.includeNodes[name] = df.includes
			}
			d.specs = append(d.specs, df.spec)
			return df.spec
		}
		n := d.errs.n
		spec := d.decodeFile(name, src)
		if spec != nil && d.errs.n == n && !d.unreadable {
			d.cache.keepDecoded(name, src, spec, d.ends[name], d.includeNodes[name])
		}
		return spec
	}
	return d.decodeFile(name, src)
}

func (d *decoder) decodeFile(name string, src []byte) *FileSpec {
	src = lineFeeds(src)
	d.ends[name] = endOf(name, src, Pos{Line: math.MaxInt})
	if p, msg, hint, bad := badChar(name, src); bad {
		// The YAML reader would say so without a position.
		d.errs.add(p, hint, "%s", msg)
		d.unreadable = true
		return nil
	}
	if bytes.IndexByte(src, '\t') >= 0 {
		for i, line := range bytes.Split(src, []byte("\n")) {
			if c := bytes.IndexByte(line, '\t'); c >= 0 {
				d.errs.add(Pos{name, i + 1, utf8.RuneCount(line[:c]) + 1}, "indent with spaces", "tab character: YAML forbids tabs")
			}
		}
		d.unreadable = true
		return nil
	}
	if d.cache != nil {
		if a, ok := d.cache.assembleFile(src); ok {
			if d.entries == nil {
				d.entries = map[*yaml.Node][]*cachedItem{}
			}
			for seq, items := range a.seqs {
				d.entries[seq] = items
			}
			return d.fileRoot(name, a.root, false)
		}
	}
	l, err := yaml.NewLoader(bytes.NewReader(src))
	if err != nil {
		d.errs.add(Pos{File: name}, "", "%v", err)
		d.unreadable = true
		return nil
	}
	var doc yaml.Node
	if err := l.Load(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs.add(Pos{File: name, Line: 1, Col: 1}, "", "empty file: expected apiVersion: %s", APIVersion)
			return nil
		}
		d.yamlError(name, src, err)
		return nil
	}
	var extra yaml.Node
	if err := l.Load(&extra); err == nil {
		d.errs.add(pos(name, &extra), "put each topology in a file of its own, or merge them", "a second YAML document in one file")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(name, src, err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.errs.add(Pos{File: name, Line: 1, Col: 1}, "", "empty file: expected apiVersion: %s", APIVersion)
		return nil
	}
	return d.fileRoot(name, doc.Content[0], true)
}

// fileRoot decodes the file whose root node is root; aliases tells
// whether it may have aliases (an assembled file has none).
func (d *decoder) fileRoot(name string, root *yaml.Node, aliases bool) *FileSpec {
	if aliases {
		d.startFile(root)
	}
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

// lineFeeds turns the line breaks YAML knows, CR LF and a lone CR, into
// line feeds, so that lines are counted one way here and in the parser.
func lineFeeds(src []byte) []byte {
	if bytes.IndexByte(src, '\r') < 0 {
		return src
	}
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		switch {
		case src[i] != '\r':
			out = append(out, src[i])
		case i+1 < len(src) && src[i+1] == '\n':
			// CR LF: the LF follows.
		default:
			out = append(out, '\n')
		}
	}
	return out
}

// endOf is p, or the end of src when p is past it (the parser counts a
// line more at the end of a file without a final line feed).
func endOf(name string, src []byte, p Pos) Pos {
	lines := bytes.Count(src, []byte("\n")) + 1
	if p.Line <= lines {
		return p
	}
	last := src[bytes.LastIndexByte(src, '\n')+1:]
	return Pos{File: name, Line: lines, Col: utf8.RuneCount(last) + 1}
}

// badChar finds the first character of src that YAML does not allow:
// bytes that are not UTF-8, and control characters other than tab, line
// feed and carriage return.
func badChar(name string, src []byte) (at Pos, msg, hint string, bad bool) {
	line, start := 1, 0
	for i := 0; i < len(src); {
		if b := src[i]; b >= 0x20 && b < 0x7f || b == '\t' || b == '\r' {
			i++ // printable ASCII: most of a file, without decoding runes
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			msg, hint = "invalid UTF-8", "save the file as UTF-8"
		case r == '\n':
			line, start = line+1, i+1
		case r == 0x85 || r == 0x2028 || r == 0x2029:
			msg, hint = fmt.Sprintf("character U+%04X is not allowed: YAML's parser takes it for a line break, editors do not", r), "end lines with a line feed"
		case !printable(r):
			msg = fmt.Sprintf("character U+%04X is not allowed in YAML", r)
		}
		if msg != "" {
			return Pos{File: name, Line: line, Col: utf8.RuneCount(src[start:i]) + 1}, msg, hint, true
		}
		i += size
	}
	return Pos{}, "", "", false
}

// printable tells whether YAML allows r in a file (YAML 1.2, 5.1).
func printable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r == 0x85 || r == 0x2028 || r == 0x2029:
		// Line breaks to the parser, not to editors: positions would
		// disagree.
		return false
	case r < 0x20 || r == 0x7f:
		return false
	case r < 0x7f:
		return true
	}
	return r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

// yamlError reports a file that is not YAML at the place the parser
// stopped; an unclosed [list], {mapping} or quoted string at the place it
// was opened, which is where the mistake usually is.
func (d *decoder) yamlError(name string, src []byte, err error) {
	d.unreadable = true
	var le *yaml.LoadError
	if !errors.As(err, &le) {
		d.errs.add(Pos{File: name}, "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	stop := endOf(name, src, Pos{File: name, Line: le.Mark.Line, Col: le.Mark.Column})
	what := map[string]string{
		"while parsing a flow sequence":  "[list]",
		"while parsing a flow mapping":   "{mapping}",
		"while scanning a quoted scalar": "quoted string",
	}[le.ContextMsg]
	badEscape := strings.Contains(le.Message, "escape") || strings.Contains(le.Message, "hexdecimal")
	switch {
	case what != "" && !badEscape && le.ContextMark.Line > 0 && le.ContextMark != le.Mark:
		// The parser knows what was left open.
		d.errs.add(Pos{File: name, Line: le.ContextMark.Line, Col: le.ContextMark.Column}, "",
			"the %s that starts here is not closed (the parser stopped at line %d, column %d: %s)", what, stop.Line, stop.Col, le.Message)
		return
	case stop.Line > 0 && !badEscape:
		if o, ok := opened(src, stop.Line, stop.Col); ok {
			at := Pos{File: name, Line: o.line, Col: o.col}
			if o.what == "quoted string" {
				d.errs.add(at, "is its closing quote missing?", "the quoted string that starts here runs on to line %d (the parser stopped at line %d, column %d: %s)",
					o.endLine, stop.Line, stop.Col, le.Message)
			} else {
				d.errs.add(at, "", "the %s that starts here is not closed (the parser stopped at line %d, column %d: %s)", o.what, stop.Line, stop.Col, le.Message)
			}
			return
		}
	}
	d.errs.add(stop, "", "%s", le.Message)
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
	return readFilesIn(paths, nil)
}

func readFilesIn(paths []string, cache *Loader) (dir string, files map[string][]byte, err error) {
	rec := &recordingSource{files: map[string][]byte{}}
	_, err = loadFiles(rec, paths, cache, true)
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

func load(src source, roots []string) (*Topology, error) { return loadWith(src, roots, nil) }
