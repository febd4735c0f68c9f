package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// Config is what a Daemon needs.
type Config struct {
	Log *zap.Logger
	// Level, if set, is the log level GET/PUT log/level reads and changes.
	Level *zap.AtomicLevel
	// Reconciler tunes the reconcilers (and gives the TLS files and the
	// metrics registry).
	Reconciler controller.Config
	// StateDir is where the topology and its revision are kept.
	StateDir string
	// TopologyPath, if set, is the file or folder the topology is read
	// from (and re-read when it changes); the API cannot write it then.
	// Empty: the topology is written through the API.
	TopologyPath string
	// StatusFile, if set, receives every host's status as JSON after each
	// change.
	StatusFile string
	// Auth says who may call the API.
	Auth Auth
	// Limits bound what the API's calls may cost.
	Limits Limits
	// Installed, if set, is called with the number of flows of all hosts
	// of each topology put in force (loomd scales its memory limit with it).
	Installed func(flows int)
}

// Daemon holds the topology and the reconcilers.
type Daemon struct {
	cfg   Config
	log   *zap.Logger
	rec   *controller.Reconciler
	store store
	hub   hub

	limits  Limits
	calls   chan struct{} // a slot per validate, plan or PUT being served
	edits   chan struct{} // a slot per edit being served or waiting its turn
	rtCalls chan struct{} // a slot per runtime-port call being served or waiting its turn

	// writeMu serializes the writers of the topology (Put, checkFiles),
	// which compile outside mu; mu guards what readers read. A writer
	// holds writeMu, and mu too when it changes the fields below.
	writeMu sync.Mutex
	mu      sync.Mutex
	topo    *topology.Topology // the topology compiled: the files' with runtime ports and auto addresses
	base    *topology.Topology // the files' topology in force (writeMu)
	removed []string           // runtime ports the last install removed (forced; writeMu)
	gone    []string           // what becomes of the hosts the last install removed (writeMu)
	st      stored
	state   api.TopologyState

	// onReady is called once, when a valid topology is first in force.
	readyOnce  sync.Once
	onReady    func()
	compiled   *flows.Compiled   // the last compilation, which the next one updates (writeMu)
	loader     *topology.Loader  // parses again only what changed in the files (writeMu)
	editMu     sync.Mutex        // guards pending
	pending    []*editCall       // edits waiting for the next batch
	rtPending  []*rtCall         // runtime port calls waiting for the next batch (editMu)
	steps      steps             // the last install's, for the answer to an edit (writeMu)
	lastRead   map[string][]byte // source files: the files last read (writeMu)
	lastDir    string            // the folder lastRead's names are relative to
	lastPrint  []byte            // the cheap fingerprint of the files last read
	lastJudged map[string][]byte // and the last ones loaded, valid or not (writeMu)

	status *statusFile
	done   chan struct{} // closed when Run returns: status streams end
}

// New makes a Daemon and loads the stored (source api) or current (source
// files) topology; it reaches no host before Run.
func New(cfg Config, onReady func()) (*Daemon, error) {
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("state-dir: not set")
	}
	if onReady == nil {
		onReady = func() {}
	}
	limits := cfg.Limits.withDefaults()
	d := &Daemon{cfg: cfg, log: cfg.Log, store: store{dir: cfg.StateDir}, onReady: onReady, done: make(chan struct{}),
		limits: limits, calls: make(chan struct{}, limits.MaxCalls), edits: make(chan struct{}, limits.MaxEdits),
		rtCalls: make(chan struct{}, runtimeSlots*limits.MaxEdits),
		loader:  topology.NewLoader(),
		status:  &statusFile{path: cfg.StatusFile, log: cfg.Log, m: map[string]api.HostStatus{}}}
	d.rec = controller.NewReconciler(cfg.Log, cfg.Reconciler, d.hostChanged)
	st, err := d.store.load()
	if err != nil {
		return nil, fmt.Errorf("state-dir: %w", err)
	}
	d.st = st
	d.state = api.TopologyState{Source: api.SourceAPI, Revision: st.Revision}
	if cfg.TopologyPath != "" {
		d.state.Source, d.state.Path = api.SourceFiles, cfg.TopologyPath
		d.checkFilesNow(true)
		if !d.state.Loaded && len(st.Files) > 0 {
			d.resumeStored(st)
		}
		return d, nil
	}
	if st.Source == api.SourceFiles {
		// It was file-driven: keep the revision, not the files' authority.
		d.log.Info("the stored topology came from files; it stays until one is written through the API",
			zap.String("path", st.Path), zap.Int64("revision", st.Revision))
	}
	if len(st.Files) == 0 {
		d.log.Info("no topology stored yet: waiting for one through the API (loomctl apply -f FILE)")
		return d, nil
	}
	t, err := d.loader.LoadBytes(api.BytesOf(st.Files))
	if err == nil {
		err = d.install(t, st, false)
	}
	if err != nil {
		// A Loom that reads the language more strictly than the one that
		// stored it: say so and wait for a new topology.
		d.reject(fmt.Sprintf("the stored topology (revision %d) is not valid for this loomd", st.Revision), err)
		return d, nil
	}
	return d, nil
}

// resumeStored puts the stored topology back in force when the files it
// should read at start cannot be taken (unreadable or invalid): the hosts
// are kept as they were before the restart, not left unreconciled until
// the files are mended. The rejection stays in the status.
func (d *Daemon) resumeStored(st stored) {
	d.mu.Lock()
	rejected, problems := d.state.Rejected, d.state.Problems
	d.mu.Unlock()
	t, err := topology.LoadBytes(api.BytesOf(st.Files))
	if err == nil {
		err = d.install(t, st, false)
	}
	if err != nil {
		d.log.Error("the stored topology cannot be put back in force either", zap.Int64("revision", st.Revision), zap.Error(err))
		return
	}
	d.log.Warn("the topology files were not taken: the stored topology stays in force until they are mended",
		zap.Int64("revision", st.Revision), zap.String("stored_from", st.Source))
	d.mu.Lock()
	d.state.Rejected, d.state.Problems = rejected, problems
	d.mu.Unlock()
	d.publishTopology()
}

// Reconciler is the daemon's reconciler.
func (d *Daemon) Reconciler() *controller.Reconciler { return d.rec }

// Ready tells whether a valid topology is in force.
func (d *Daemon) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state.Loaded
}

// Run reconciles the hosts (and, with source files, re-reads the files
// every reload) until ctx ends, then waits for the host workers to stop:
// work in flight on a host is abandoned (a flow bundle is all or nothing).
func (d *Daemon) Run(ctx context.Context, reload time.Duration) {
	if d.cfg.TopologyPath != "" {
		go d.watchFiles(ctx)
		go func() {
			t := time.NewTicker(reload)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					d.checkFiles()
				}
			}
		}()
	}
	d.rec.Run(ctx)
	close(d.done)
}

func (d *Daemon) hostChanged(s api.HostStatus) {
	if s.State == api.StateRemoved {
		d.status.forget(s.Host)
		go d.removalDone(s.Host, s.Revision)
	} else {
		d.status.update(s)
	}
	d.hub.publish(api.Event{Type: api.EventHost, Host: &s})
}

// install makes t (stored as st) the topology in force. The caller holds
// d.writeMu, or is New; the compilation, which may take seconds on large
// topologies, does not hold up readers (status, GET topology). d.steps
// records how long its steps took.
//
// t is the files' topology; install resolves it with st.Runtime (the
// runtime ports, the addresses handed out) into the one it compiles, and
// stores what that resolution handed out or (force) removed.
func (d *Daemon) install(base *topology.Topology, st stored, force bool) error {
	d.steps = steps{start: time.Now()}
	r, err := resolve(base, st.Runtime, force)
	if err != nil {
		return err
	}
	st.Runtime = r.rs
	t := r.topo
	d.steps.mark("resolve")
	compiled, err := d.compiled.Update(t)
	if err != nil {
		return err
	}
	took := d.steps.mark("compile")
	if !sameFiles(st.Files, d.st.Files) || st.Source != d.st.Source {
		st.FilesRevision = st.Revision
	}
	gone := d.removedHosts(st, t)
	st.Removing = removals(d.st.Removing, gone, t, st.Revision)
	if !sameFiles(st.Files, d.st.Files) || st.Revision != d.st.Revision || st.Source != d.st.Source || !st.Runtime.equal(d.st.Runtime) ||
		!slices.Equal(st.Removing, d.st.Removing) {
		if err := d.store.save(st); err != nil {
			return &api.Error{Message: "the topology could not be stored, nothing changed: " + err.Error(), Code: http.StatusInternalServerError}
		}
	}
	d.steps.mark("store")
	d.compiled = compiled
	d.base, d.removed = base, r.removed
	for _, p := range r.removed {
		d.log.Warn("runtime port removed with its switch or host (forced)", zap.String("port", p), zap.Int64("revision", st.Revision))
	}
	d.mu.Lock()
	d.st, d.topo = st, t
	d.rec.SetDesired(compiled.States(), st.Revision)
	d.rec.SetRemovals(st.Removing)
	d.state = api.TopologyState{Source: d.state.Source, Path: d.state.Path, Revision: st.Revision,
		Loaded: true, LoadedAt: time.Now(), WrittenAt: st.UpdatedAt, Summary: api.Summarize(t)}
	d.mu.Unlock()
	d.steps.mark("install")
	d.gone = d.logRemoved(gone, st.Removing)
	for _, w := range t.Warnings {
		d.log.Warn("topology", zap.String("warning", w.Error()))
	}
	d.log.Info("topology in force", zap.Int64("revision", st.Revision), zap.String("source", d.state.Source),
		zap.Int("hosts", len(t.Hosts)), zap.Int("switches", len(t.Switches)), zap.Int("ports", len(t.Ports)),
		zap.Int("hosts_changed", len(compiled.Changed())), zap.Int("hosts_kept", len(t.Hosts)-len(compiled.Changed())), zap.Duration("compile", took))
	d.publishTopology()
	if d.cfg.Installed != nil {
		n := 0
		for _, hs := range compiled.States() {
			n += hs.NumFlows()
		}
		d.cfg.Installed(n)
	}
	d.readyOnce.Do(d.onReady)
	return nil
}

// reject records why a new topology was not taken; the one in force stays.
func (d *Daemon) reject(why string, err error) {
	d.log.Error(why+"; the running topology stays", zap.Error(err))
	d.mu.Lock()
	d.state.Rejected = why
	d.state.Problems, _ = problems(err)
	d.mu.Unlock()
	d.publishTopology()
}

func (d *Daemon) publishTopology() {
	d.mu.Lock()
	s := d.state
	d.mu.Unlock()
	d.hub.publish(api.Event{Type: api.EventTopology, Topology: &s})
}

// checkFiles re-reads the topology files and takes them if they changed
// and are valid. Changes are debounced: files are judged once they read
// the same at two checks in a row, so that an editor's or a deployment's
// burst of writes is taken whole, not file by file. At start (settled
// false) they are judged at once.
func (d *Daemon) checkFiles() { d.checkFilesNow(false) }

func (d *Daemon) checkFilesNow(now bool) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	path := d.cfg.TopologyPath
	// Reading the files as the loader does costs a parse of them all: skip
	// it while the files last read, and the folders they are in, hold the
	// same bytes and names.
	print := fingerprint(path, d.lastDir, d.lastRead)
	if d.lastRead != nil && bytes.Equal(print, d.lastPrint) && maps.EqualFunc(d.lastRead, d.lastJudged, bytes.Equal) {
		return
	}
	dir, files, err := d.loader.ReadFilesIn(path)
	if err != nil {
		if d.lastRead != nil || d.state.Rejected == "" {
			d.reject("topology files unreadable", err)
		}
		d.lastRead, d.lastJudged, d.lastPrint = nil, nil, nil
		return
	}
	d.lastDir, d.lastPrint = dir, fingerprint(path, dir, files)
	if !now && !maps.EqualFunc(files, d.lastRead, bytes.Equal) {
		d.lastRead = files // changed: judge it once it holds still
		return
	}
	d.lastRead = files
	if d.lastJudged != nil && maps.EqualFunc(files, d.lastJudged, bytes.Equal) {
		return
	}
	d.lastJudged = files
	// Load from the disk, for errors that name the files as they are there
	// (parsing again only what changed).
	t, err := d.loader.Load(path)
	if err != nil {
		d.reject("topology files rejected", err)
		return
	}
	st := stored{Revision: d.st.Revision, Source: api.SourceFiles, Path: path, Files: api.FilesOf(files), UpdatedAt: time.Now(),
		FilesRevision: d.st.FilesRevision, Runtime: d.st.Runtime}
	if !sameFiles(st.Files, d.st.Files) || d.st.Source != api.SourceFiles {
		st.Revision++
	} else {
		st.UpdatedAt = d.st.UpdatedAt
	}
	if err := d.install(t, st, false); err != nil {
		d.reject("topology files not taken", err)
	}
}

// fingerprint is, cheaply, what decides whether the topology files
// changed: the contents of the files last read (names relative to dir),
// and the YAML file names in path (if a folder) and in their folders. A
// file added to or removed from those folders, or any of those files
// changed, changes it.
func fingerprint(path, dir string, last map[string][]byte) []byte {
	var b bytes.Buffer
	folders := map[string]bool{path: true}
	names := make([]string, 0, len(last))
	for n := range last {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		folders[filepath.Dir(p)] = true
		c, err := os.ReadFile(p)
		fmt.Fprintf(&b, "%s %d %v\n", n, len(c), err)
		b.Write(c)
	}
	list := make([]string, 0, len(folders))
	for f := range folders {
		list = append(list, f)
	}
	sort.Strings(list)
	for _, f := range list {
		ents, err := os.ReadDir(f)
		fmt.Fprintf(&b, "dir %s %v\n", f, err)
		for _, e := range ents {
			if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
				fmt.Fprintf(&b, "%s\n", e.Name())
			}
		}
	}
	return b.Bytes()
}

// Put replaces the topology (source api).
func (d *Daemon) Put(u api.TopologyUpdate) (*api.Applied, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	if d.cfg.TopologyPath != "" {
		return nil, api.Conflictf(d.st.Revision, "loomd reads its topology from %s (setting topology): edit the files there, loomd takes them when they change", d.cfg.TopologyPath)
	}
	if u.Revision > d.st.Revision || u.Revision < d.st.FilesRevision {
		return nil, api.Conflictf(d.st.Revision, "revision %d is not the current one (%d): the topology changed since it was read; read it again and redo the change", u.Revision, d.st.Revision)
	}
	if len(u.Files) == 0 {
		return nil, badRequest("no files: a topology needs at least one file")
	}
	tm := steps{start: time.Now()}
	t, err := d.loader.LoadBytes(api.BytesOf(u.Files))
	tm.mark("load")
	if err != nil {
		return nil, invalid(err)
	}
	a := &api.Applied{Revision: d.st.Revision, Warnings: warnings(t), Summary: api.Summarize(t)}
	if d.st.Source == api.SourceAPI && sameFiles(u.Files, d.st.Files) && d.state.Loaded {
		a.Unchanged = true
		return a, nil
	}
	st := stored{Revision: d.st.Revision + 1, Source: api.SourceAPI, Files: u.Files, UpdatedAt: time.Now(), Runtime: d.st.Runtime}
	if err := d.install(t, st, u.Force); err != nil {
		if e, ok := err.(*api.Error); ok {
			return nil, e
		}
		return nil, invalid(err)
	}
	a.Revision, a.Timings = st.Revision, append(tm.list, d.steps.list...)
	a.Summary, a.RuntimePortsRemoved, a.HostsRemoved = api.Summarize(d.topo), d.removed, d.gone
	return a, nil
}

// Topology returns the topology in force (or stored) and its revision.
func (d *Daemon) Topology() api.Topology {
	d.mu.Lock()
	defer d.mu.Unlock()
	files := d.st.Files
	if files == nil {
		files = map[string]string{}
	}
	out := api.Topology{Revision: d.st.Revision, Source: d.state.Source, Path: d.state.Path, Files: files, UpdatedAt: d.st.UpdatedAt}
	for name, ips := range d.st.Runtime.Auto {
		if out.AutoIPs == nil {
			out.AutoIPs = map[string][]string{}
		}
		for _, ip := range ips {
			out.AutoIPs[name] = append(out.AutoIPs[name], ip.String())
		}
	}
	for _, p := range d.st.Runtime.Ports {
		out.RuntimePorts = append(out.RuntimePorts, view(p, d.topo))
	}
	return out
}

// current returns the topology in force, if any, and its revision.
func (d *Daemon) current() (*topology.Topology, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.topo, d.st.Revision
}

// Status is what GET status answers.
func (d *Daemon) Status() api.Status {
	d.mu.Lock()
	s := d.state
	d.mu.Unlock()
	return api.Status{Topology: s, Hosts: d.rec.Status()}
}

func warnings(t *topology.Topology) []api.Problem {
	if len(t.Warnings) == 0 {
		return nil
	}
	p, _ := problems(t.Warnings)
	return p
}

func invalid(err error) *api.Error {
	p, n := problems(err)
	what := "problems"
	if n == 1 {
		what = "problem"
	}
	return &api.Error{Message: fmt.Sprintf("the topology is invalid (%d %s), nothing was changed", n, what), Problems: p, Code: http.StatusBadRequest}
}

// problems lists err's problems (a topology.ErrorList lists at most
// topology.MaxErrors, then one entry that counts the others); n is how
// many there are in all.
func problems(err error) (list []api.Problem, n int) {
	list = api.Problems(err)
	var l topology.ErrorList
	if errors.As(err, &l) {
		return list, l.Total()
	}
	return list, len(list)
}

func badRequest(format string, args ...any) *api.Error {
	return &api.Error{Message: fmt.Sprintf(format, args...), Code: http.StatusBadRequest}
}

// statusFile keeps every host's latest status in a JSON file, replaced
// atomically, for scripts that do not speak HTTP.
//
// update only records the status and wakes a writer goroutine, which
// writes the latest of all hosts: a burst of updates (a revision reaching
// a thousand hosts) is one write, not a thousand, and the reconcilers
// never wait for the disk.
type statusFile struct {
	path  string
	log   *zap.Logger
	mu    sync.Mutex
	m     map[string]api.HostStatus
	dirty chan struct{} // capacity 1
	once  sync.Once
}

func (s *statusFile) update(st api.HostStatus) {
	if s.path == "" {
		return
	}
	s.once.Do(func() {
		s.dirty = make(chan struct{}, 1)
		go s.writer()
	})
	s.mu.Lock()
	s.m[st.Host] = st
	s.mu.Unlock()
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// forget drops a host from the file (one removed from the topology and
// cleaned).
func (s *statusFile) forget(host string) {
	if s.path == "" {
		return
	}
	s.mu.Lock()
	_, ok := s.m[host]
	delete(s.m, host)
	s.mu.Unlock()
	if !ok || s.dirty == nil {
		return
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

func (s *statusFile) writer() {
	for range s.dirty {
		s.mu.Lock()
		b, err := json.MarshalIndent(s.m, "", "  ")
		s.mu.Unlock()
		if err == nil {
			err = writeFileAtomic(s.path, append(b, '\n'), 0o644)
		}
		if err != nil {
			s.log.Warn("status file", zap.Error(err))
		}
	}
}
