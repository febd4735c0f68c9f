package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
)

// The worker's unit tests: its loop (ordering, coalescing, backoff,
// terminal errors, cancellation, Wake, probe, lost connections) against
// fake ends (ends.go): a fake OVSDB server and switch per host, and a fake
// clock for the retries. Every wait is on a status, a call of a fake or a
// channel, bounded by the test's context; nothing sleeps.

// fakeState is host's desired state at revision rev: one port whose
// external ids carry the revision, so that the fake OVSDB server sees
// which revision a reconcile brings.
func fakeState(host string, rev int) *flows.HostState {
	hs := flows.HostState{Host: host, OVSDB: "fake:" + host, OpenFlow: "fake:" + host, Bridge: "lm-br",
		Ports: []flows.Port{{Name: "p1", Ofport: 1, ExternalIDs: map[string]string{"rev": strconv.Itoa(rev)}}}}
	return hs.WithFlows([]flows.Flow{{Table: 0, Priority: 1, Cookie: flows.CookieSpace, Actions: flows.Actions{flows.Output(1)}}})
}

// fakeHost is one host's OVSDB server and switch. Every whole reconcile
// starts with Plan, which calls the test's plan hook (if set) with the
// revision it is asked for; the hook's error is Plan's.
type fakeHost struct {
	mu        sync.Mutex
	plan      func(ctx context.Context, rev string) error
	dialErr   error
	pingErr   error
	flowCount int // -1: as many as desired
	pending   []string
	down      []*ovsdb.InterfaceError
	revs      []string      // the revision of each Plan, in order
	recreate  chan []string // receives the names of each RecreatePorts
	recErr    error
	dials     int
	conns     []*fakeDB
}

func (h *fakeHost) set(fn func(h *fakeHost)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(h)
}

// planned is the revisions planned so far.
func (h *fakeHost) planned() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.revs)
}

// conn is the host's last connection.
func (h *fakeHost) conn() *fakeDB {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[len(h.conns)-1]
}

// fakeDB is one OVSDB connection to a fakeHost.
type fakeDB struct {
	h         *fakeHost
	mu        sync.Mutex
	watch     func()
	recreated func(iface string)
	done      chan struct{}
	closeOnce sync.Once
	closed    bool
}

func (d *fakeDB) Plan(ctx context.Context, spec ovsdb.BridgeSpec) (*ovsdb.Plan, error) {
	rev := spec.Ports[0].ExternalIDs["rev"]
	d.h.mu.Lock()
	d.h.revs = append(d.h.revs, rev)
	hook := d.h.plan
	d.h.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, rev); err != nil {
			return nil, err
		}
	}
	return &ovsdb.Plan{Bridge: spec.Name}, nil
}

func (d *fakeDB) PlanChange(context.Context, ovsdb.BridgeSpec, ovsdb.BridgeSpec) (*ovsdb.Plan, error) {
	return nil, errors.New("fake: no change path")
}

func (d *fakeDB) Check(_ context.Context, spec ovsdb.BridgeSpec, _ map[string]int) (*ovsdb.Plan, []string, []*ovsdb.InterfaceError, []ovsdb.InterfaceState, error) {
	d.h.mu.Lock()
	defer d.h.mu.Unlock()
	return &ovsdb.Plan{Bridge: spec.Name}, d.h.pending, d.h.down, []ovsdb.InterfaceState{{Port: "p1", Name: "p1", Ofport: 1}}, nil
}

func (d *fakeDB) Apply(context.Context, *ovsdb.Plan) error { return nil }
func (d *fakeDB) WaitApplied(context.Context) error        { return nil }
func (d *fakeDB) WaitPorts(context.Context, string, map[string]int) ([]*ovsdb.InterfaceError, error) {
	d.h.mu.Lock()
	defer d.h.mu.Unlock()
	return d.h.down, nil
}
func (d *fakeDB) RecreatePorts(_ context.Context, _ ovsdb.BridgeSpec, names []string) ([]*ovsdb.InterfaceError, error) {
	d.h.mu.Lock()
	c, err := d.h.recreate, d.h.recErr
	d.h.mu.Unlock()
	if c != nil {
		c <- names
	}
	return nil, err
}
func (d *fakeDB) Interfaces(context.Context, string) ([]ovsdb.InterfaceState, error) {
	return []ovsdb.InterfaceState{{Port: "p1", Name: "p1", Ofport: 1}}, nil
}
func (d *fakeDB) Ping(context.Context) error {
	d.h.mu.Lock()
	defer d.h.mu.Unlock()
	return d.h.pingErr
}
func (d *fakeDB) Watch(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watch = fn
}
func (d *fakeDB) WatchRecreated(fn func(string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recreated = fn
}
func (d *fakeDB) Done() <-chan struct{} { return d.done }
func (d *fakeDB) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.closeOnce.Do(func() { close(d.done) })
}

// update is an OVSDB update on the connection, as the cache reports it.
func (d *fakeDB) update() {
	d.mu.Lock()
	fn := d.watch
	d.mu.Unlock()
	fn()
}

func (d *fakeDB) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// fakeSwitch is a fakeHost's OpenFlow listener: always right, but for its
// flow count (fakeHost.flowCount).
type fakeSwitch struct{ h *fakeHost }

func (s fakeSwitch) Dump(context.Context) (*ofctl.Observed, error) { return &ofctl.Observed{}, nil }
func (s fakeSwitch) WaitReady(context.Context) error               { return nil }
func (s fakeSwitch) Sync(context.Context, []flows.Flow, *ofctl.Known) (*ofctl.Plan, error) {
	return &ofctl.Plan{}, nil
}
func (s fakeSwitch) FlowCount(context.Context) (int, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.flowCount, nil
}

// fakeTimer is a retry the worker asked the fake clock for.
type fakeTimer struct {
	d time.Duration
	c chan time.Time
}

func (t fakeTimer) fire() { t.c <- time.Now() }

// fleet is a Reconciler on fake hosts, its statuses and its log.
type fleet struct {
	t      *testing.T
	r      *Reconciler
	hosts  map[string]*fakeHost
	timers chan fakeTimer // the retries asked for, in order
	logs   *observer.ObservedLogs
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	statuses []api.HostStatus
	changed  chan struct{} // closed at each status
}

// newFleet makes a Reconciler on fake hosts (not running yet: run). Audit
// and probe wait an hour unless cfg says otherwise; the flow monitor is
// off (it needs a real switch).
func newFleet(t *testing.T, cfg Config, hosts ...string) *fleet {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	f := &fleet{t: t, hosts: map[string]*fakeHost{}, timers: make(chan fakeTimer, 100), logs: logs,
		changed: make(chan struct{})}
	for _, h := range hosts {
		f.hosts[h] = &fakeHost{flowCount: 1}
	}
	if cfg.AuditInterval == 0 {
		cfg.AuditInterval = time.Hour
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = time.Hour
	}
	cfg.FlowMonitorOff = true
	f.r = NewReconciler(zap.New(core), cfg, f.status)
	f.r.ends = hostEnds{
		dial: func(_ context.Context, hs *flows.HostState, _ *zap.Logger) (hostDB, error) {
			h := f.hosts[hs.Host]
			h.mu.Lock()
			defer h.mu.Unlock()
			h.dials++
			if h.dialErr != nil {
				return nil, h.dialErr
			}
			d := &fakeDB{h: h, done: make(chan struct{})}
			h.conns = append(h.conns, d)
			return d, nil
		},
		openFlow: func(target string) flowSwitch { return fakeSwitch{f.hosts[target[len("fake:"):]]} },
		after: func(d time.Duration) <-chan time.Time {
			c := make(chan time.Time, 1)
			f.timers <- fakeTimer{d, c}
			return c
		},
	}
	f.ctx, f.cancel = context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("%s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return f
}

func (f *fleet) status(st api.HostStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, st)
	close(f.changed)
	f.changed = make(chan struct{})
}

// run starts the Reconciler.
func (f *fleet) run() {
	f.done = make(chan struct{})
	go func() {
		defer close(f.done)
		f.r.Run(f.ctx)
	}()
}

// stop cancels the Reconciler's context and waits for Run to return.
func (f *fleet) stop() {
	f.cancel()
	if f.done != nil {
		<-f.done
	}
}

// mark is the number of statuses so far, for wait.
func (f *fleet) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.statuses)
}

// wait returns the first status of host after mark for which ok holds,
// waiting for it.
func (f *fleet) wait(mark int, host, what string, ok func(api.HostStatus) bool) api.HostStatus {
	f.t.Helper()
	for {
		f.mu.Lock()
		for _, st := range f.statuses[mark:] {
			if st.Host == host && ok(st) {
				f.mu.Unlock()
				return st
			}
		}
		mark = len(f.statuses)
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-f.ctx.Done():
			f.t.Fatalf("%s: no status where %s", host, what)
		}
	}
}

// timer waits for the worker to ask for a retry.
func (f *fleet) timer() fakeTimer {
	f.t.Helper()
	select {
	case tm := <-f.timers:
		return tm
	case <-f.ctx.Done():
		f.t.Fatal("no retry asked for")
	}
	panic("unreachable")
}

// reconciles counts host's reconciles logged with trigger (any for "").
func (f *fleet) reconciles(host, trigger string) int {
	n := 0
	for _, e := range f.logs.All() {
		m := e.ContextMap()
		if (e.Message == "reconciled" || e.Message == "reconcile failed") && m["host"] == host && (trigger == "" || m["trigger"] == trigger) {
			n++
		}
	}
	return n
}

func atRev(rev int64) func(api.HostStatus) bool {
	return func(st api.HostStatus) bool { return st.AtRevision() && st.Revision == rev }
}

func reconciled(n int) func(api.HostStatus) bool {
	return func(st api.HostStatus) bool { return st.Reconciles >= n }
}

// block is a plan hook that holds the reconcile of revision rev until
// release is closed; entered receives rev when it begins.
func block(rev string, entered chan<- string, release <-chan struct{}) func(context.Context, string) error {
	return func(ctx context.Context, r string) error {
		if r != rev {
			return nil
		}
		entered <- r
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fleet) entered(c <-chan string) string {
	f.t.Helper()
	select {
	case rev := <-c:
		return rev
	case <-f.ctx.Done():
		f.t.Fatal("no reconcile began")
	}
	return ""
}

// A desired state set while a reconcile runs is reconciled after it: the
// host ends at the newest revision, reached in order.
func TestWorkerOrdering(t *testing.T) {
	f := newFleet(t, Config{}, "h1")
	h := f.hosts["h1"]
	entered, release := make(chan string), make(chan struct{})
	h.set(func(h *fakeHost) { h.plan = block("1", entered, release) })
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.entered(entered)
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 2)}, 2)
	close(release)
	first := f.wait(0, "h1", "reconciled once", reconciled(1))
	if first.Revision != 1 || first.Desired != 2 || first.AtRevision() {
		t.Errorf("after the first reconcile: revision %d, desired %d, at revision %v; want 1, 2, false", first.Revision, first.Desired, first.AtRevision())
	}
	f.wait(0, "h1", "at revision 2", atRev(2))
	if got := h.planned(); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("revisions reconciled: %v, want [1 2]", got)
	}
	if st := f.r.Status(); len(st) != 1 || st[0].Revision != 2 || st[0].Reconciles != 2 {
		t.Errorf("Status() = %+v", st)
	}
}

// 100 desired states set during one reconcile coalesce: one or two more
// reconciles, of the last revision only.
func TestWorkerCoalesces(t *testing.T) {
	f := newFleet(t, Config{}, "h1")
	h := f.hosts["h1"]
	entered, release := make(chan string), make(chan struct{})
	h.set(func(h *fakeHost) { h.plan = block("1", entered, release) })
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.entered(entered)
	for rev := 2; rev <= 101; rev++ {
		f.r.SetDesired([]*flows.HostState{fakeState("h1", rev)}, int64(rev))
	}
	close(release)
	f.wait(0, "h1", "at revision 101", atRev(101))
	f.stop()
	got := h.planned()
	if len(got) < 2 || len(got) > 3 || got[0] != "1" {
		t.Fatalf("revisions reconciled: %v, want 1 then one or two of 101", got)
	}
	for _, rev := range got[1:] {
		if rev != "101" {
			t.Errorf("revisions reconciled: %v, want only 101 after 1", got)
		}
	}
}

// A retryable error backs off: each retry waits twice as long as the one
// before, from BackoffMin up to BackoffMax, ±20%, on a fresh connection; a
// new revision is tried at once (the backoff goes on); success resets it.
func TestWorkerBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 400 * time.Millisecond
	f := newFleet(t, Config{BackoffMin: lo, BackoffMax: hi}, "h1")
	h := f.hosts["h1"]
	failing := true
	h.set(func(h *fakeHost) {
		h.plan = func(context.Context, string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if failing {
				return errors.New("plan: connection reset")
			}
			return nil
		}
	})
	within := func(tm fakeTimer, want time.Duration) {
		t.Helper()
		if tm.d < want*8/10 || tm.d > want*12/10 {
			t.Errorf("retry after %v, want %v ±20%%", tm.d, want)
		}
	}
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	tm := f.timer()
	within(tm, lo)
	st := f.wait(0, "h1", "a retry planned", func(st api.HostStatus) bool { return !st.NextRetry.IsZero() })
	if st.State != api.StateError || st.Terminal || st.Failures != 1 || st.LastError != "plan: connection reset" {
		t.Errorf("failing host: %+v", st)
	}
	// A new revision is tried at once, whatever the backoff (the timer
	// asked for first is left; the backoff goes on).
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 2)}, 2)
	tm = f.timer()
	within(tm, 2*lo)
	if got := h.planned(); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("revisions tried: %v, want [1 2]", got)
	}
	for _, want := range []time.Duration{4 * lo, hi, hi} {
		tm.fire()
		tm = f.timer()
		within(tm, want)
	}
	if n := f.reconciles("h1", "retry"); n != 3 {
		t.Errorf("%d reconciles on a retry, want 3", n)
	}
	// Each failure starts over on a fresh connection.
	h.mu.Lock()
	dials, conns := h.dials, slices.Clone(h.conns)
	h.mu.Unlock()
	if dials != 5 {
		t.Errorf("%d dials for 5 reconciles that failed", dials)
	}
	for i, c := range conns {
		if !c.isClosed() {
			t.Errorf("connection %d of a failed reconcile left open", i)
		}
	}

	// Success resets the backoff.
	h.set(func(*fakeHost) { failing = false })
	mark := f.mark()
	tm.fire()
	st = f.wait(mark, "h1", "at revision 2", atRev(2))
	if st.Failures != 0 || st.LastError != "" || !st.NextRetry.IsZero() {
		t.Errorf("host in sync after failures: %+v", st)
	}
	h.set(func(*fakeHost) { failing = true })
	f.r.Wake("h1")
	within(f.timer(), lo)
}

// An error that retrying cannot fix is reported as terminal (status,
// metrics; logged as a warning once), is not retried on a timer, keeps its
// connection, and is tried again when an OVSDB update wakes the worker.
func TestWorkerTerminal(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFleet(t, Config{BackoffMin: time.Millisecond, Metrics: reg}, "h1")
	h := f.hosts["h1"]
	foreign := true
	h.set(func(h *fakeHost) {
		h.plan = func(context.Context, string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if foreign {
				return fmt.Errorf("bridge lm-br: %w", ovsdb.ErrForeignBridge)
			}
			return nil
		}
	})
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	st := f.wait(0, "h1", "in error", func(st api.HostStatus) bool { return st.State == api.StateError })
	if !st.Terminal || !st.NextRetry.IsZero() || st.LastError != "bridge lm-br: "+ovsdb.ErrForeignBridge.Error() {
		t.Errorf("status = %+v, want a terminal error without a retry", st)
	}
	// An OVSDB update that does not fix it: tried again, still terminal.
	mark := f.mark()
	h.conn().update()
	st = f.wait(mark, "h1", "reconciled again", reconciled(2))
	if !st.Terminal || st.Failures != 2 {
		t.Errorf("status = %+v, want terminal, 2 failures", st)
	}
	// The update that fixes it.
	h.set(func(*fakeHost) { foreign = false })
	mark = f.mark()
	h.conn().update()
	st = f.wait(mark, "h1", "at revision 1", atRev(1))
	if st.Terminal || st.Failures != 0 {
		t.Errorf("status = %+v, want in sync, not terminal", st)
	}
	if n := f.reconciles("h1", "ovsdb"); n != 2 {
		t.Errorf("%d reconciles on an OVSDB update, want 2", n)
	}
	h.mu.Lock()
	dials := h.dials
	h.mu.Unlock()
	if dials != 1 {
		t.Errorf("%d dials: a terminal error must keep the connection", dials)
	}
	if len(f.timers) != 0 {
		t.Errorf("a terminal error was retried on a timer (%d asked for)", len(f.timers))
	}
	var warned, debug int
	for _, e := range f.logs.FilterMessage("reconcile failed").All() {
		switch e.Level {
		case zapcore.WarnLevel:
			warned++
		case zapcore.DebugLevel:
			debug++
		}
	}
	if warned != 1 || debug != 1 {
		t.Errorf("terminal error logged %d times as a warning, %d at debug; want 1 and 1", warned, debug)
	}
	for result, want := range map[string]float64{"terminal": 2, "ok": 1, "error": 0} {
		if got := testutil.ToFloat64(f.r.metrics.reconciles.WithLabelValues("h1", result)); got != want {
			t.Errorf("loom_reconciles_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// Cancelling the context stops every worker promptly, the one inside a
// reconcile and the one waiting for its turn (Parallel 1); their
// connections are closed and no goroutine of theirs is left.
func TestWorkerCancel(t *testing.T) {
	f := newFleet(t, Config{Parallel: 1}, "h1", "h2")
	entered := make(chan string, 2)
	var mu sync.Mutex
	in, most := 0, 0 // reconciles under way, and the most at once
	for _, h := range f.hosts {
		h.set(func(h *fakeHost) {
			h.plan = func(ctx context.Context, rev string) error {
				mu.Lock()
				in++
				most = max(most, in)
				mu.Unlock()
				entered <- rev
				<-ctx.Done()
				mu.Lock()
				in--
				mu.Unlock()
				return ctx.Err()
			}
		})
	}
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1), fakeState("h2", 1)}, 1)
	f.entered(entered)
	f.cancel()
	start := time.Now()
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of the cancel")
	}
	if most != 1 {
		t.Errorf("%d reconciles at once with Parallel 1", most)
	}
	for name, h := range f.hosts {
		h.mu.Lock()
		for i, c := range h.conns {
			if !c.isClosed() {
				t.Errorf("%s: connection %d left open", name, i)
			}
		}
		h.mu.Unlock()
	}
	// The workers' goroutines may still be returning from their last
	// deferred call: give them until the deadline.
	for left := workerGoroutines(); len(left) > 0; left = workerGoroutines() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("goroutines left after Run returned:\n%s", bytes.Join(left, []byte("\n\n")))
		}
		runtime.Gosched()
	}
}

// workerGoroutines are the stacks of the goroutines of workers and
// Reconcilers.
func workerGoroutines() [][]byte {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out [][]byte
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("controller.(*worker)")) || bytes.Contains(g, []byte("controller.(*Reconciler)")) {
			out = append(out, g)
		}
	}
	return out
}

// Wake reconciles the host named (every host for ""), one in sync too;
// other hosts are left alone.
func TestWorkerWake(t *testing.T) {
	f := newFleet(t, Config{}, "h1", "h2")
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1), fakeState("h2", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	f.wait(0, "h2", "in sync", atRev(1))
	mark := f.mark()
	f.r.Wake("h1")
	f.wait(mark, "h1", "reconciled twice", reconciled(2))
	f.r.Wake("nosuchhost")
	mark = f.mark()
	f.r.Wake("")
	f.wait(mark, "h1", "reconciled 3 times", reconciled(3))
	f.wait(mark, "h2", "reconciled twice", reconciled(2))
	f.stop()
	for host, want := range map[string]int{"h1": 3, "h2": 2} {
		if got := len(f.hosts[host].planned()); got != want {
			t.Errorf("%s reconciled %d times, want %d", host, got, want)
		}
	}
}

// An OVSDB update that leaves the host as desired costs no reconcile (its
// ports down, if any, are recorded); one that leaves a port without its
// OpenFlow number does.
func TestWorkerOVSDBUpdate(t *testing.T) {
	f := newFleet(t, Config{}, "h1")
	h := f.hosts["h1"]
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	if o, ok := f.r.Observed("h1"); !ok || len(o.Interfaces) != 1 || o.Interfaces[0].Name != "p1" {
		t.Errorf("Observed = %+v, %v", o, ok)
	}
	if _, ok := f.r.Observed("h9"); ok {
		t.Error("Observed of a host not in the topology")
	}
	if d := f.r.Desired("h1"); d == nil || d.Host != "h1" {
		t.Errorf("Desired = %+v", d)
	}
	// A port gone down: degraded, without a reconcile.
	h.set(func(h *fakeHost) {
		h.down = []*ovsdb.InterfaceError{{Interface: "p1", Ofport: -1, Message: "could not open network device p1 (No such device)"}}
	})
	mark := f.mark()
	h.conn().update()
	st := f.wait(mark, "h1", "degraded", func(st api.HostStatus) bool { return st.State == api.StateDegraded })
	if len(st.PortsDown) != 1 || st.PortsDown[0].Interface != "p1" || st.Reconciles != 1 {
		t.Errorf("status = %+v, want p1 down after 1 reconcile", st)
	}
	// A port not numbered: a reconcile.
	h.set(func(h *fakeHost) { h.down, h.pending = nil, []string{"p1"} })
	mark = f.mark()
	h.conn().update()
	f.wait(mark, "h1", "reconciled", reconciled(2))
	if n := f.reconciles("h1", "ovsdb"); n != 1 {
		t.Errorf("%d reconciles on OVSDB updates, want 1", n)
	}
}

// The probe reconciles a host whose switch holds a wrong count of Loom's
// flows, and one whose OVSDB server does not answer its echo (on a new
// connection).
func TestWorkerProbe(t *testing.T) {
	f := newFleet(t, Config{ProbeInterval: 5 * time.Millisecond}, "h1")
	h := f.hosts["h1"]
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	mark := f.mark()
	h.set(func(h *fakeHost) { h.flowCount = 0 })
	f.wait(mark, "h1", "reconciled", reconciled(2))
	h.set(func(h *fakeHost) { h.flowCount, h.pingErr = 1, errors.New("echo: timeout") })
	mark = f.mark()
	st := f.wait(mark, "h1", "reconciled on a new connection", func(st api.HostStatus) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return st.Reconciles >= 3 && h.dials == 2
	})
	if !st.AtRevision() {
		t.Errorf("status = %+v", st)
	}
	if n := f.reconciles("h1", "probe"); n < 2 {
		t.Errorf("%d reconciles on a probe, want 2 or more", n)
	}
	if !h.conns[0].isClosed() {
		t.Error("the connection that did not answer its echo is still open")
	}
}

// A lost OVSDB connection is dialled again at once; a host that cannot be
// dialled is unreachable (status, metrics) and retried.
func TestWorkerReconnect(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFleet(t, Config{Metrics: reg}, "h1")
	h := f.hosts["h1"]
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	h.set(func(h *fakeHost) { h.dialErr = unreachable(errors.New("ovsdb fake:h1: dial: connection refused")) })
	mark := f.mark()
	h.conn().Close() // the server went away
	st := f.wait(mark, "h1", "unreachable", func(st api.HostStatus) bool { return st.State == api.StateUnreachable })
	if st.LastError != "ovsdb fake:h1: dial: connection refused" || st.Terminal {
		t.Errorf("status = %+v", st)
	}
	if n := f.reconciles("h1", "reconnect"); n != 1 {
		t.Errorf("%d reconciles on a lost connection, want 1", n)
	}
	if up := testutil.ToFloat64(f.r.metrics.up.WithLabelValues("h1")); up != 0 {
		t.Errorf("loom_host_up = %v for an unreachable host", up)
	}
	tm := f.timer()
	h.set(func(h *fakeHost) { h.dialErr = nil })
	mark = f.mark()
	tm.fire()
	f.wait(mark, "h1", "in sync again", atRev(1))
	if got := testutil.ToFloat64(f.r.metrics.reconciles.WithLabelValues("h1", "unreachable")); got != 1 {
		t.Errorf("loom_reconciles_total{result=unreachable} = %v, want 1", got)
	}
	if up := testutil.ToFloat64(f.r.metrics.up.WithLabelValues("h1")); up != 1 {
		t.Errorf("loom_host_up = %v for a host in sync", up)
	}
}

// The states a reconcile's result and error give, and what counts as a
// repair.
func TestResultState(t *testing.T) {
	down := []api.PortProblem{{Object: "port/a", Interface: "a"}}
	for _, c := range []struct {
		name string
		res  Result
		err  error
		want string
	}{
		{"in sync", Result{}, nil, api.StateInSync},
		{"ports down", Result{PortsDown: down}, nil, api.StateDegraded},
		{"error", Result{PortsDown: down}, errors.New("boom"), api.StateError},
		{"terminal", Result{}, fmt.Errorf("x: %w", ovsdb.ErrForeignPort), api.StateError},
		{"unreachable", Result{}, unreachable(errors.New("refused")), api.StateUnreachable},
		{"unreachable wrapped", Result{}, fmt.Errorf("dial: %w", unreachable(errors.New("refused"))), api.StateUnreachable},
	} {
		if got := stateOf(c.res, c.err); got != c.want {
			t.Errorf("%s: state %q, want %q", c.name, got, c.want)
		}
	}
	if err := unreachable(errors.New("refused")); err.Error() != "refused" || Terminal(err) {
		t.Errorf("unreachable error reads %q, terminal %v", err, Terminal(err))
	}
	for _, c := range []struct {
		res  Result
		want bool
	}{
		{Result{AtRevision: true, OVSDBChanges: 1}, true},
		{Result{AtRevision: true, FlowMods: 2}, true},
		{Result{AtRevision: true}, false},
		{Result{OVSDBChanges: 1, FlowMods: 1}, false}, // a new revision, not drift
	} {
		if got := c.res.Repaired(); got != c.want {
			t.Errorf("%+v: repaired %v, want %v", c.res, got, c.want)
		}
	}
}

// The real dial marks a server that does not answer as unreachable, a
// pinned certificate that does not match and bad TLS files as errors.
func TestRealDialClassifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dial := realEnds(TLS{}).dial
	_, err := dial(ctx, &flows.HostState{Host: "h1", OVSDB: "unix:" + t.TempDir() + "/none.sock"}, zap.NewNop())
	if err == nil || !isUnreachable(err) {
		t.Errorf("dial of no server: %v, unreachable %v", err, isUnreachable(err))
	}
	if err := dialError(fmt.Errorf("dial: %w", ovsdb.ErrNotPinned)); isUnreachable(err) {
		t.Errorf("a certificate not pinned is unreachable: %v", err)
	}
	_, err = realEnds(TLS{PrivateKey: "key.pem"}).dial(ctx, &flows.HostState{Host: "h1", OVSDB: "ssl:127.0.0.1:1"}, zap.NewNop())
	if err == nil || isUnreachable(err) {
		t.Errorf("dial with half the TLS files: %v, unreachable %v", err, isUnreachable(err))
	}
}

// A new revision that leaves the host's state as it was (the compiler
// reused it) is reached without a reconcile.
func TestWorkerSameState(t *testing.T) {
	f := newFleet(t, Config{}, "h1")
	f.run()
	hs := fakeState("h1", 1)
	f.r.SetDesired([]*flows.HostState{hs}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	mark := f.mark()
	f.r.SetDesired([]*flows.HostState{hs}, 2)
	st := f.wait(mark, "h1", "at revision 2", atRev(2))
	if st.Reconciles != 1 {
		t.Errorf("revision 2 reached after %d reconciles, want 1 (none for it)", st.Reconciles)
	}
}

// An interface whose device was made anew gets its port deleted and added
// back, without a reconcile; if that fails, the host is reconciled.
// Interfaces not Loom's plain ports are left alone.
func TestWorkerRecreatedPorts(t *testing.T) {
	f := newFleet(t, Config{}, "h1")
	h := f.hosts["h1"]
	names := make(chan []string, 1)
	h.set(func(h *fakeHost) { h.recreate = names })
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	d := h.conn()
	d.mu.Lock()
	recreated := d.recreated
	d.mu.Unlock()

	recreated("p1")
	select {
	case got := <-names:
		if !slices.Equal(got, []string{"p1"}) {
			t.Errorf("ports re-added: %v, want [p1]", got)
		}
	case <-f.ctx.Done():
		t.Fatal("p1 not re-added")
	}
	h.set(func(h *fakeHost) { h.recErr = errors.New("transaction: connection reset") })
	mark := f.mark()
	recreated("not-loom")
	recreated("p1")
	<-names
	f.wait(mark, "h1", "reconciled", reconciled(2))
	if n := f.reconciles("h1", "interface recreated"); n != 1 {
		t.Errorf("%d reconciles after a failed re-add, want 1", n)
	}
	if len(names) != 0 {
		t.Errorf("re-added %v too", <-names)
	}
}

// A host whose OVSDB address changes (it moved) is dialled anew, its old
// connection closed; the audit reconciles a host in sync on its timer.
func TestWorkerHostMovedAndAudit(t *testing.T) {
	f := newFleet(t, Config{AuditInterval: 5 * time.Millisecond}, "h1")
	h := f.hosts["h1"]
	f.run()
	f.r.SetDesired([]*flows.HostState{fakeState("h1", 1)}, 1)
	f.wait(0, "h1", "in sync", atRev(1))
	f.wait(0, "h1", "audited", func(api.HostStatus) bool { return f.reconciles("h1", "audit") > 0 })
	moved := fakeState("h1", 2)
	moved.OVSDB = "fake:h1-new-address"
	mark := f.mark()
	f.r.SetDesired([]*flows.HostState{moved}, 2)
	f.wait(mark, "h1", "at revision 2", atRev(2))
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dials != 2 || !h.conns[0].isClosed() || h.conns[1].isClosed() {
		t.Errorf("after the move: %d dials, first connection closed %v, second %v; want 2, true, false",
			h.dials, h.conns[0].isClosed(), h.conns[1].isClosed())
	}
}
