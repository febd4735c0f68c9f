package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
)

// Edits: POST edits changes objects of the stored topology (source api)
// as loomctl's switch, port and acl commands ask. loomd makes the edits
// on its files with topology/edit, through its Loader's index of them (an
// edit touches the lines of the object it changes, not whole files),
// loads the result with the same Loader (only what changed is parsed
// again), and then does what a PUT of the result does: compile, store,
// install, as one new revision, or nothing.

// steps times the steps of a change, for EditResult.Timings.
type steps struct {
	start time.Time
	last  time.Time
	list  []api.Timing
}

// mark ends a step and returns its time.
func (s *steps) mark(name string) time.Duration {
	now := time.Now()
	from := s.last
	if from.IsZero() {
		from = s.start
	}
	s.last = now
	d := now.Sub(from)
	s.list = append(s.list, api.Timing{Step: name, Ms: float64(d.Microseconds()) / 1000})
	return d
}

// editing admits an edit: at most MaxEdits are served or wait their turn
// at once; one more is told at once to come back.
func (d *Daemon) editing(h http.HandlerFunc) http.HandlerFunc {
	return d.admit(d.edits, "edits", h)
}

// runtimeSlots is how many runtime-port calls may be served or wait
// their turn, per edit slot (api-max-edits): a container runtime's call
// is small (a few hundred bytes) and comes in bursts (containers started
// at once), which batches make cheap.
const runtimeSlots = 8

// runtimeCalls admits a runtime-port call: at most 8 × MaxEdits are
// served or wait their turn at once; one more is told at once to come
// back.
func (d *Daemon) runtimeCalls(h http.HandlerFunc) http.HandlerFunc {
	return d.admit(d.rtCalls, "runtime-port calls", h)
}

func (d *Daemon) admit(slots chan struct{}, what string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > d.limits.MaxBody {
			w.Header().Set("Connection", "close")
			writeError(w, tooLarge(d.limits.MaxBody))
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, &api.Error{Message: fmt.Sprintf("loomd is busy: %d %s are being served or waiting, the most it takes at once; try again in a second", cap(slots), what),
				Code: http.StatusServiceUnavailable})
			return
		}
		h(w, r)
	}
}

// editCall is one Edit waiting for, or being made in, a batch.
type editCall struct {
	req    api.EditRequest
	ops    []edit.Op
	queued time.Time
	res    *api.EditResult
	err    error
	done   chan struct{}
	// after and topo are the files and topology the edits made (accepted
	// ones, before they are installed).
	after edit.Files
	topo  *topology.Topology
}

// Edit makes req's edits of the stored topology, in order, all or
// nothing: on its files, then checked, compiled, stored and installed as
// Put does, as one new revision (none if the files come out the same).
//
// Edits that arrive while another change is being made are made together
// next, as a batch (group commit): each is made on the result of those
// before it and checked alone, and gets its own revision and answer, or
// its own refusal; the batch is compiled, stored and installed once, at
// the last revision. A burst of edits (containers started at once) then
// costs one compile, not one each.
func (d *Daemon) Edit(req api.EditRequest) (*api.EditResult, error) {
	ops, err := opsOf(req.Edits)
	if err != nil {
		return nil, err
	}
	c := &editCall{req: req, ops: ops, queued: time.Now(), done: make(chan struct{})}
	groupCommit(d, &d.pending, c, func(c *editCall) chan struct{} { return c.done }, d.commitEdits)
	return c.res, c.err
}

// commitEdits makes a batch of edits and sets each call's answer. The
// caller holds d.writeMu.
func (d *Daemon) commitEdits(batch []*editCall) {
	if d.cfg.TopologyPath != "" {
		for _, c := range batch {
			c.err = api.Conflictf(d.st.Revision, "loomd reads its topology from %s (setting topology): make the edit in those files (loomctl's edit commands do, with -f), loomd takes them when they change", d.cfg.TopologyPath)
		}
		return
	}
	files := edit.Files(api.BytesOf(d.st.Files))
	rev, inForce := d.st.Revision, d.base
	filesRev := d.st.FilesRevision
	var accepted []*editCall
	var last *topology.Topology
	for _, c := range batch {
		now := time.Now()
		tm := steps{start: now, list: []api.Timing{{Step: "queue", Ms: ms(now.Sub(c.queued))}}}
		c.res, c.err = d.editOne(c, files, rev, filesRev, inForce, &tm)
		if c.err != nil || c.res.DryRun || c.res.Unchanged {
			continue
		}
		rev++
		filesRev = rev
		c.res.Revision = rev
		files, last, inForce = c.after, c.topo, c.topo
		accepted = append(accepted, c)
	}
	if len(accepted) == 0 {
		return
	}
	st := stored{Revision: rev, Source: api.SourceAPI, Files: api.FilesOf(files), UpdatedAt: time.Now(), Runtime: d.st.Runtime}
	force := true
	for _, c := range accepted {
		force = force && c.req.Force
	}
	if err := d.install(last, st, force); err != nil {
		if len(accepted) > 1 {
			// Which edit the compile (or the store) refuses is known only
			// one at a time.
			for _, c := range accepted {
				c.res, c.err = nil, nil
				d.commitEdits([]*editCall{c})
			}
			return
		}
		c := accepted[0]
		c.res = nil
		if e, ok := err.(*api.Error); ok {
			c.err = e
		} else {
			c.err = d.editInvalid(err, files, c.ops, inForce)
		}
		return
	}
	for _, c := range accepted {
		c.res.Timings = append(c.res.Timings, d.steps.list...)
	}
	if len(d.removed) > 0 {
		last := accepted[len(accepted)-1]
		last.res.RuntimePortsRemoved = d.removed
	}
	if len(d.gone) > 0 {
		last := accepted[len(accepted)-1]
		last.res.HostsRemoved = d.gone
	}
}

// editOne makes one call's edits on files (at revision rev, topology in
// force t) and checks the result; it keeps the result in c.
func (d *Daemon) editOne(c *editCall, files edit.Files, rev, filesRev int64, t *topology.Topology, tm *steps) (*api.EditResult, error) {
	if c.req.Revision != nil && (*c.req.Revision > rev || *c.req.Revision < filesRev) {
		return nil, api.Conflictf(rev, "revision %d is not the current one (%d): the topology changed since; nothing was changed", *c.req.Revision, rev)
	}
	ops := edit.Cascade(t, c.ops) // deletes with --cascade take their users along
	after, done, err := edit.Apply(files, ops, edit.Options{Index: d.loader, NoPositions: true})
	if err != nil {
		return nil, editError(err)
	}
	tm.mark("edit")
	res := &api.EditResult{FromRevision: rev, Revision: rev, DryRun: c.req.DryRun, Done: done, Files: edit.Changed(files, after)}
	topo, err := d.loader.LoadBytes(after)
	tm.mark("load")
	if err != nil {
		return nil, d.editInvalid(err, after, ops, t)
	}
	res.Summary, res.Warnings = api.Summarize(topo), d.locate(warnings(topo), after)
	res.Timings = tm.list
	if c.req.DryRun {
		// What install would refuse, a dry run refuses too.
		if _, err := d.compiled.Update(topo); err != nil {
			return nil, d.editInvalid(err, after, ops, t)
		}
		tm.mark("compile")
		for _, n := range res.Files {
			res.Diff += edit.Diff(n, files[n], after[n])
		}
		res.HostsRemoved = willRemove(t, topo)
		res.Timings = tm.list
		return res, nil
	}
	if len(res.Files) == 0 && d.state.Loaded {
		res.Unchanged = true
		return res, nil
	}
	c.after, c.topo = after, topo
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// opsOf converts the API's edits.
func opsOf(edits []api.Edit) ([]edit.Op, error) {
	if len(edits) == 0 {
		return nil, badRequest("no edits: give at least one")
	}
	ops := make([]edit.Op, len(edits))
	for i, e := range edits {
		op := edit.Op{Action: e.Op, Kind: e.Kind, Name: e.Name, ACL: e.ACL, Position: -1, Cascade: e.Cascade}
		if e.Cascade && (e.Op != edit.ActionDel || e.Kind == edit.KindRule) {
			return nil, badRequest("edit %d: cascade goes with the delete of an object (host, switch, acl, ...)", i+1)
		}
		if e.Position != nil {
			if *e.Position < 0 {
				return nil, badRequest("edit %d: position %d: give an index from 0", i+1, *e.Position)
			}
			op.Position = *e.Position
		}
		if e.Kind == edit.KindRule && e.ACL == "" {
			return nil, badRequest("edit %d: a rule's edit names its acl", i+1)
		}
		for _, f := range e.Fields {
			ef, err := edit.FieldFromJSON(f.Key, f.Value)
			if err != nil {
				return nil, badRequest("edit %d: %v", i+1, err)
			}
			op.Fields = append(op.Fields, ef)
		}
		ops[i] = op
	}
	return ops, nil
}

// editError is the answer to an edit that could not be made: 404 for an
// object that is not there, 409 for a name taken, else 400.
func editError(err error) *api.Error {
	code := http.StatusBadRequest
	switch {
	case errors.Is(err, edit.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, edit.ErrExists):
		code = http.StatusConflict
	}
	return &api.Error{Message: err.Error() + ": nothing was changed", Code: code}
}

// editInvalid is the answer to edits whose result is not a valid
// topology: its problems in the user's terms (the objects, not the lines
// of loomd's files), or, when the edits delete an object still in use,
// who uses it.
func (d *Daemon) editInvalid(err error, files edit.Files, ops []edit.Op, t *topology.Topology) *api.Error {
	if p := stillUsed(t, ops); len(p) > 0 {
		return &api.Error{Message: "the edit would delete what other objects use: nothing was changed", Problems: p, Code: http.StatusBadRequest}
	}
	p, n := problems(err)
	return &api.Error{Message: fmt.Sprintf("the edit would make the topology invalid (%d problems): nothing was changed", n),
		Problems: alreadyUsed(d.locate(p, files), ops), Code: http.StatusBadRequest}
}

// alreadyUsed words a value defined twice from the side of the edit: the
// loader reports the second object in file order ("port web2: MAC ...
// defined twice (first at port web1)") even when the edit changed the
// first; an edit's user wants to hear that what they wrote is already
// used, and by whom.
func alreadyUsed(ps []api.Problem, ops []edit.Op) []api.Problem {
	edited := map[string]bool{}
	for _, op := range ops {
		if op.Kind != edit.KindRule && op.Action != edit.ActionDel {
			edited[edit.Ref{Kind: op.Kind, Name: op.Name}.String()] = true
		}
	}
	const twice, first = " defined twice (first at ", ")"
	for i, p := range ps {
		what, other, ok := strings.Cut(p.Message, twice)
		if !ok || p.Object == "" || !strings.HasSuffix(other, first) {
			continue
		}
		other = strings.TrimSuffix(other, first)
		switch {
		case edited[p.Object]:
		case edited[other]:
			p.Object, other = other, p.Object
		default:
			continue
		}
		p.Message = what + " is already used by " + other
		ps[i] = p
	}
	return ps
}

// locate names the object (and field) each problem is in, and the objects
// its message points at, from the positions in loomd's files.
func (d *Daemon) locate(ps []api.Problem, files edit.Files) []api.Problem {
	lays := map[string]*topology.Layout{}
	layout := func(file string) *topology.Layout {
		if l, ok := lays[file]; ok {
			return l
		}
		b, ok := files[file]
		var l *topology.Layout
		if ok {
			l, _ = d.loader.Layout(b)
		}
		lays[file] = l
		return l
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	// Longer names first: a.yaml must not match inside ba.yaml.
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	out := make([]api.Problem, len(ps))
	for i, p := range ps {
		if p.File != "" && p.Line > 0 {
			if lay := layout(p.File); lay != nil {
				p.Object, p.Field = objectAt(lay, files[p.File], p.Line, p.Col)
			}
		}
		p.Message = replacePositions(p.Message, names, func(file string, line, col int) string {
			if lay := layout(file); lay != nil {
				obj, _ := objectAt(lay, files[file], line, col)
				return obj
			}
			return ""
		})
		out[i] = p
	}
	return out
}

// objectAt is the object written at line:col of a file (as messages name
// it: `port "web1"`) and the field there; "" outside any object.
func objectAt(lay *topology.Layout, src []byte, line, col int) (obj, field string) {
	l := line - 1
	for _, k := range lay.Keys {
		if !k.List || l < k.Line || l >= k.End {
			continue
		}
		for _, it := range k.Items {
			if l < it.Start || l >= it.End || it.NameLine == 0 {
				continue
			}
			obj = edit.Kind(k.Key).Singular() + " " + strconv.Quote(it.Name)
			return obj, fieldAt(src, it, line, col)
		}
	}
	return "", ""
}

// fieldAt is the key of the entry it whose value holds line:col: the last
// key written before that place.
func fieldAt(src []byte, it topology.ItemLayout, line, col int) string {
	lines := strings.SplitAfterN(string(src), "\n", it.End+1)
	if len(lines) < it.End {
		return ""
	}
	var doc yaml.Node
	if yaml.Unmarshal([]byte(strings.Join(lines[it.Start:it.End], "")), &doc) != nil || len(doc.Content) != 1 ||
		len(doc.Content[0].Content) != 1 || doc.Content[0].Content[0].Kind != yaml.MappingNode {
		return ""
	}
	m := doc.Content[0].Content[0]
	field := ""
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		kl := k.Line + it.Start
		if kl > line || kl == line && k.Column > col {
			break
		}
		field = k.Value
	}
	if field == "name" {
		return "" // the object itself
	}
	return field
}

// replacePositions replaces each FILE:LINE[:COL] of files in msg by what
// name says is there (kept when it says "").
func replacePositions(msg string, files []string, name func(file string, line, col int) string) string {
	for _, f := range files {
		var b strings.Builder
		rest := msg
		for {
			i := strings.Index(rest, f+":")
			if i < 0 {
				b.WriteString(rest)
				break
			}
			j := i + len(f) + 1
			line, n := digits(rest[j:])
			col := 0
			end := j + n
			if n > 0 && end < len(rest) && rest[end] == ':' {
				c, m := digits(rest[end+1:])
				if m > 0 {
					col, end = c, end+1+m
				}
			}
			what := ""
			if n > 0 && (i == 0 || !isNameByte(rest[i-1])) {
				what = name(f, line, col)
			}
			if what == "" {
				b.WriteString(rest[:j])
				rest = rest[j:]
				continue
			}
			b.WriteString(rest[:i])
			b.WriteString(what)
			rest = rest[end:]
		}
		msg = b.String()
	}
	return msg
}

func digits(s string) (int, int) {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	v, _ := strconv.Atoi(s[:n])
	return v, n
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/'
}

// stillUsed lists, for each object ops delete (or rename), the objects of
// t (the topology the edits were made on) that use it and that ops
// neither delete nor change.
func stillUsed(t *topology.Topology, ops []edit.Op) []api.Problem {
	var out []api.Problem
	for _, u := range edit.StillUsed(t, ops) {
		out = append(out, api.Problem{Object: u.Object.String(), Message: u.Message(), Hint: u.Hint()})
	}
	return out
}

// groupCommit queues c on *pending and, once it holds d.writeMu, commits
// every call queued by then in one batch (a burst of calls costs one
// compile and one store, not one each); it returns once c's batch, this
// call's or an earlier one's, is done. pending is guarded by d.editMu.
func groupCommit[T any](d *Daemon, pending *[]T, c T, done func(T) chan struct{}, commit func([]T)) {
	d.editMu.Lock()
	*pending = append(*pending, c)
	d.editMu.Unlock()
	d.writeMu.Lock()
	d.editMu.Lock()
	batch := *pending
	*pending = nil
	d.editMu.Unlock()
	if len(batch) > 0 {
		commit(batch)
		for _, b := range batch {
			close(done(b))
		}
	}
	d.writeMu.Unlock()
	<-done(c)
}
