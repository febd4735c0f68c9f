package controller

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/topology"
)

// Config tunes a Reconciler. Zero fields take the defaults below.
type Config struct {
	HostTimeout   time.Duration // one reconcile of one host
	Parallel      int           // hosts reconciled at once
	AuditInterval time.Duration // full comparison of every host with its desired state
	ProbeInterval time.Duration // cheap check: an OVSDB echo and the count of Loom's flows
	BackoffMin    time.Duration // first retry after a failure
	BackoffMax    time.Duration // retries never wait longer
	TLS           TLS           // for hosts with ssl: addresses; read at every dial
	// FlowMonitorOff turns off the flow monitor of each switch (see
	// flowwatch.go): hand edits and restarted switches are then found only
	// by the probe and the audit.
	FlowMonitorOff bool
	// Metrics, if set, receives the Reconciler's Prometheus metrics.
	Metrics prometheus.Registerer
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HostTimeout, 60*time.Second)
	def(&c.AuditInterval, 60*time.Second)
	def(&c.ProbeInterval, 5*time.Second)
	def(&c.BackoffMin, 500*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	if c.Parallel < 1 {
		c.Parallel = 8
	}
	return c
}

// A Reconciler keeps every host of a topology equal to its desired state,
// for as long as it runs. Each host has a worker; everything that may
// matter (a new topology, a change in the host's OVSDB, a lost connection,
// a probe that finds flows missing, the audit timer) only wakes the worker,
// which then compares the whole host with its desired state and changes
// what differs (level-triggered: bursts coalesce into one reconcile). A
// failing host is retried with capped, jittered exponential backoff and
// holds back no other host.
type Reconciler struct {
	log      *zap.Logger
	cfg      Config
	sem      chan struct{}
	onStatus func(api.HostStatus)
	metrics  *metrics
	ends     hostEnds

	mu      sync.Mutex
	ctx     context.Context // set by Run
	workers map[string]*worker
	wg      sync.WaitGroup
	// removers clean the hosts removed from the topology (remove.go);
	// gone holds the exit signals of the workers stopped since.
	removers map[string]*remover
	gone     map[string]chan struct{}
}

// NewReconciler returns a Reconciler; onStatus, if not nil, is called after
// every change of a host's status (from the host's worker goroutine).
func NewReconciler(log *zap.Logger, cfg Config, onStatus func(api.HostStatus)) *Reconciler {
	cfg = cfg.withDefaults()
	if onStatus == nil {
		onStatus = func(api.HostStatus) {}
	}
	return &Reconciler{log: log, cfg: cfg, sem: make(chan struct{}, cfg.Parallel), onStatus: onStatus,
		metrics: newMetrics(cfg.Metrics), workers: map[string]*worker{}, ends: realEnds(cfg.TLS)}
}

// SetTopology compiles t and makes it the desired state of every host,
// waking them all. Hosts no longer in t stop being reconciled (what Loom
// made on them stays, unless SetRemovals names them). An error leaves the
// previous topology in force.
func (r *Reconciler) SetTopology(t *topology.Topology) error {
	states, err := flows.Compile(t)
	if err != nil {
		return err
	}
	r.SetDesired(states, 0)
	return nil
}

// SetDesired makes states (compiled from revision rev of the topology) the
// desired state of their hosts, as SetTopology does.
func (r *Reconciler) SetDesired(states []*flows.HostState, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, hs := range states {
		seen[hs.Host] = true
		w := r.workers[hs.Host]
		if w == nil {
			w = &worker{r: r, host: hs.Host, log: r.log.With(zap.String("host", hs.Host)),
				wake: make(chan struct{}, 1), dbEvent: make(chan struct{}, 1), bounce: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
				status: api.HostStatus{Host: hs.Host, State: api.StatePending}}
			r.workers[hs.Host] = w
			if r.ctx != nil {
				r.start(w)
			}
		}
		w.setDesired(hs, rev)
	}
	for name, w := range r.workers {
		if !seen[name] {
			close(w.stop)
			if r.ctx == nil {
				close(w.exited) // never started
			}
			r.stopped(name, w.exited)
			delete(r.workers, name)
			r.metrics.forget(name)
		}
	}
}

// Run reconciles until ctx ends, then waits for the workers to stop.
func (r *Reconciler) Run(ctx context.Context) {
	r.mu.Lock()
	r.ctx = ctx
	for _, w := range r.workers {
		r.start(w)
	}
	for _, rv := range r.removers {
		r.startRemover(rv)
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.wg.Wait()
}

func (r *Reconciler) start(w *worker) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(w.exited)
		w.run(r.ctx)
	}()
}

// Status returns every host's status, sorted by host.
func (r *Reconciler) Status() []api.HostStatus {
	r.mu.Lock()
	ws := make([]*worker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	out := r.removerStatus()
	r.mu.Unlock()
	for _, w := range ws {
		out = append(out, w.getStatus())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// Desired returns host's desired state (nil for a host not in the
// topology).
func (r *Reconciler) Desired(host string) *flows.HostState {
	r.mu.Lock()
	w := r.workers[host]
	r.mu.Unlock()
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.desired
}

// Observed returns what OVS last reported of host's bridge (read from the
// worker's OVSDB cache after each reconcile and each OVSDB change); false
// for a host not in the topology.
func (r *Reconciler) Observed(host string) (api.Observed, bool) {
	r.mu.Lock()
	w := r.workers[host]
	r.mu.Unlock()
	if w == nil {
		return api.Observed{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.observed, true
}

// observe records the bridge's interfaces from the cache.
func (w *worker) observe(ctx context.Context, bridge string) {
	if w.db == nil {
		return
	}
	ifs, err := w.db.Interfaces(ctx, bridge)
	if err != nil {
		return
	}
	w.mu.Lock()
	w.observed = api.Observed{At: time.Now(), Interfaces: interfacesOf(ifs)}
	w.mu.Unlock()
}

// Wake asks for a reconcile of host (all hosts when host is "").
func (r *Reconciler) Wake(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, w := range r.workers {
		if host == "" || name == host {
			w.poke()
		}
	}
}

type worker struct {
	r    *Reconciler
	host string
	log  *zap.Logger
	wake chan struct{} // capacity 1: wake-ups coalesce
	// dbEvent is poked by the host's OVSDB cache events. They include the
	// echoes of Loom's own transactions and the first copy of the database
	// after each connection, so they only lead to a reconcile when the
	// cache no longer matches the desired state (see ovsdbMatches).
	dbEvent chan struct{}
	// bounce is poked when interfaces in recreated got new devices.
	bounce chan struct{}
	stop   chan struct{}
	exited chan struct{} // closed when run returns

	mu        sync.Mutex
	desired   *flows.HostState
	tried     *flows.HostState // the desired state of the last reconcile
	status    api.HostStatus
	observed  api.Observed    // the bridge's interfaces as OVS last reported them
	recreated map[string]bool // interfaces whose device was made anew (ports.go)

	// Owned by the worker's goroutine.
	// reached is the desired state the host was last brought to (nil:
	// not known); a new one is sent as the difference (change.go).
	reached *flows.HostState
	known   ofctl.Known // the switch's flows last found right
	spare   ofctl.Spare // an ovs-ofctl waiting for the next change's bundle
	fw      *flowWatch  // the switch's flow monitor; nil when off
	db      hostDB
	dialed  endpoint // what db was dialled for
	lost    <-chan struct{}
	backoff time.Duration
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) pokeDB() {
	select {
	case w.dbEvent <- struct{}{}:
	default:
	}
}

// ovsdbMatches tells whether a host that was at its desired revision
// still is, as far as its OVSDB shows: the plan for its bridge is empty and
// every port has its OpenFlow port or was given up on by OVS (the ports
// down are recorded: a port comes up, or goes down, without a reconcile).
// It reads the cache (and sends one echo); flows are the probe's and the
// audit's business.
func (w *worker) ovsdbMatches(ctx context.Context) bool {
	w.mu.Lock()
	hs := w.desired
	ok := w.status.AtRevision()
	w.mu.Unlock()
	if !ok || w.db == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	spec := BridgeSpec(hs)
	want := map[string]int{}
	for _, p := range spec.Ports {
		want[p.Name] = p.OfportRequest
	}
	// One read of the cache for the plan, the ports and what is observed.
	plan, pending, down, ifaces, err := w.db.Check(ctx, spec, want)
	if err != nil {
		return false
	}
	// Link states and the like change without changing the plan.
	w.mu.Lock()
	w.observed = api.Observed{At: time.Now(), Interfaces: interfacesOf(ifaces)}
	w.mu.Unlock()
	if !plan.Empty() || len(pending) > 0 {
		return false
	}
	w.setPortsDown(portProblems(hs, down, plan.Adopted))
	return true
}

// setDesired gives the worker a new desired state. The same state again
// (a new revision that does not change this host: the compiler reused it)
// on a host in sync needs no reconcile: the host reached the revision.
func (w *worker) setDesired(hs *flows.HostState, rev int64) {
	w.mu.Lock()
	same := w.desired == hs && w.status.AtRevision()
	w.desired = hs
	w.status.Flows = hs.NumFlows()
	w.status.Desired = rev
	if same {
		w.status.Revision = rev
		s := w.status
		w.mu.Unlock()
		w.r.onStatus(s)
		return
	}
	w.mu.Unlock()
	w.poke()
}

func (w *worker) getStatus() api.HostStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *worker) run(ctx context.Context) {
	audit := time.NewTicker(w.r.cfg.AuditInterval)
	probe := time.NewTicker(w.r.cfg.ProbeInterval)
	defer audit.Stop()
	defer probe.Stop()
	defer w.closeDB()
	defer w.spare.Stop()
	defer w.startFlowWatch(ctx)()
	var retry <-chan time.Time
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-w.wake:
			why = "change"
		case <-w.dbEvent:
			if retry != nil || w.ovsdbMatches(ctx) {
				continue
			}
			why = "ovsdb"
		case <-w.bounce:
			if w.recreatePorts(ctx) {
				continue
			}
			why = "interface recreated"
		case <-audit.C:
			why = "audit"
		case <-retry:
			why = "retry"
		case <-w.lost:
			w.log.Info("ovsdb connection lost")
			w.closeDB()
			why = "reconnect"
		case <-probe.C:
			if retry != nil || w.probe(ctx) {
				continue
			}
			why = "probe"
		case <-w.fw.changedC():
			why = "flow change"
		case <-w.fw.urgentC():
			retry = nil // ovs-vswitchd restarted, or a failure caused by a hand edit: at once, whatever the backoff
			why = w.fw.now(ctx)
		}
		if retry != nil && why != "retry" && !(why == "change" && w.newDesired()) {
			continue // failing: wait for the retry, don't hammer the host
		}
		res, err := w.reconcile(ctx, why)
		if !res.Start.IsZero() {
			w.record(res, err)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			w.backoff, retry = 0, nil
		case Terminal(err):
			// No timer: an OVSDB update (someone hands the bridge over),
			// a new desired state or the audit tries again.
			w.backoff, retry = 0, nil
		default:
			retry = w.r.ends.after(w.nextBackoff())
		}
	}
}

// newDesired tells whether the host was given a desired state since its
// last reconcile: a failing host tries a new revision at once, whatever
// its backoff.
func (w *worker) newDesired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.desired != w.tried
}

// nextBackoff doubles the wait up to BackoffMax, with ±20% jitter so that
// hosts that failed together do not retry together.
func (w *worker) nextBackoff() time.Duration {
	c := w.r.cfg
	w.backoff = min(max(w.backoff*2, c.BackoffMin), c.BackoffMax)
	d := time.Duration(float64(w.backoff) * (0.8 + 0.4*rand.Float64()))
	w.mu.Lock()
	w.status.NextRetry = time.Now().Add(d)
	s := w.status
	w.mu.Unlock()
	w.r.onStatus(s)
	return d
}

func (w *worker) closeDB() {
	if w.db != nil {
		w.db.Close()
		w.db, w.lost = nil, nil
	}
	w.reached = nil
}

// probe tells whether the host still looks right without reading it all:
// the OVSDB connection answers and the switch holds as many of Loom's
// flows as it should (a restarted ovs-vswitchd holds none).
func (w *worker) probe(ctx context.Context) bool {
	if w.db == nil {
		return false
	}
	w.mu.Lock()
	hs := w.desired
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.db.Ping(ctx); err != nil {
		w.log.Info("ovsdb probe failed", zap.Error(err))
		w.closeDB()
		return false
	}
	if w.fw.alive(ctx) {
		return true // the flow monitor reports every change: no need to count
	}
	n, err := w.r.ends.openFlow(hs.OpenFlow).FlowCount(ctx)
	if err != nil || n != hs.NumFlows() {
		w.log.Info("flow probe: switch differs", zap.Int("flows", n), zap.Int("want", hs.NumFlows()), zap.Error(err))
		return false
	}
	return true
}

// reconcile compares the host with its desired state and changes what
// differs: by the change path for a new desired state when it can
// (change.go), otherwise whole. It returns what it did, and an error that
// is terminal (see Terminal), marked unreachable (the host did not
// answer) or to be retried. A Result with a zero Start means it did not
// begin (ctx ended while it waited for its turn). The worker's loop
// records the result (record) and decides the next try.
func (w *worker) reconcile(ctx context.Context, why string) (res Result, err error) {
	select {
	case w.r.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-w.r.sem }()
	w.mu.Lock()
	hs := w.desired
	w.tried = hs
	wasInSync := w.status.State == api.StateInSync || w.status.State == api.StateDegraded
	rev := w.status.Desired
	res = Result{Trigger: why, Revision: rev, DesiredFlows: hs.NumFlows(), Start: time.Now(),
		// Changes made to reach a new revision are not repairs of drift.
		AtRevision: wasInSync && w.status.Revision == rev}
	var applying *api.HostStatus
	if w.status.Revision != rev && w.status.State != api.StateApplying {
		// Say so: a large host may take a while.
		w.status.State = api.StateApplying
		s := w.status
		applying = &s
	}
	w.mu.Unlock()
	if applying != nil {
		w.r.onStatus(*applying)
	}
	defer func() { res.Took = time.Since(res.Start) }()

	ctx, cancel := context.WithTimeout(ctx, w.r.cfg.HostTimeout)
	defer cancel()
	if err = w.connect(ctx, hs); err != nil {
		return res, err
	}
	var hr HostResult
	changed := false
	if why == "change" {
		hr, changed = w.change(ctx, hs)
	}
	if changed {
		res.Path, res.Trigger = PathChange, "change (delta)"
	} else {
		res.Path = PathWhole
		listening := w.fw != nil && w.fw.mon.Connected()
		w.fw.begin(hs)
		hr = reconcileHost(ctx, w.db, w.r.ends.openFlow(hs.OpenFlow), hs, false, &w.known, listening)
		w.fw.end(ctx, &hr)
		w.observe(ctx, hs.Bridge)
	}
	res.count(hr)
	w.reached = nil
	switch {
	case hr.Err == nil:
		w.reached = hs
	case Terminal(hr.Err):
		// Keep the connection: its updates tell when someone changed
		// the host (e.g. handed the bridge over to Loom).
	default:
		// Start over from a fresh connection (and a full copy of the
		// database) next time.
		w.closeDB()
	}
	return res, hr.Err
}

// connect makes sure the worker holds an OVSDB connection to hs's host
// and that its OpenFlow listener presents the pinned certificate.
func (w *worker) connect(ctx context.Context, hs *flows.HostState) error {
	if w.db != nil && w.dialed != endpointOf(hs) {
		w.closeDB() // the host moved, or its certificate pin changed
	}
	if w.db != nil {
		// A pinned host's OpenFlow certificate is checked at every
		// reconcile, not only when loomd connects: the flows go through
		// ovs-ofctl, whose fresh connections check only the CA, so a host
		// that swaps to another certificate of the CA behind a connection
		// loomd keeps would otherwise still get them.
		if err := w.r.cfg.TLS.VerifyOpenFlow(ctx, hs); err != nil {
			w.closeDB()
			return err
		}
		return nil
	}
	db, err := w.r.ends.dial(ctx, hs, w.log)
	if err != nil {
		return err
	}
	if err := w.r.cfg.TLS.VerifyOpenFlow(ctx, hs); err != nil {
		db.Close()
		return err
	}
	w.db, w.lost, w.dialed = db, db.Done(), endpointOf(hs)
	db.Watch(w.pokeDB)
	db.WatchRecreated(w.interfaceRecreated)
	return nil
}

// record publishes what a reconcile did: the host's status, its metrics
// and one log line. A terminal error is logged as a warning once; while
// it stays the same, the reconciles that find it again (an OVSDB update,
// the audit) log it at debug level.
func (w *worker) record(res Result, err error) {
	state := stateOf(res, err)
	terminal := err != nil && Terminal(err)
	changes := res.Changes()
	fields := []zap.Field{zap.String("trigger", res.Trigger), zap.String("state", state),
		zap.Int("ovsdb_changes", res.OVSDBChanges), zap.Duration("duration", res.Took)}
	if len(res.PortsDown) > 0 {
		fields = append(fields, zap.Int("ports_down", len(res.PortsDown)))
	}
	if res.FlowsPlanned {
		fields = append(fields, zap.Int("flows_missing", res.FlowsMissing),
			zap.Int("flows_stale", res.FlowsStale), zap.Int("flow_mods", res.FlowMods))
	}

	w.mu.Lock()
	again := terminal && w.status.Terminal && w.status.LastError == err.Error()
	w.status.State = state
	w.status.LastReconcile, w.status.LastDuration = res.Start, res.Took
	w.status.Reconciles++
	w.status.LastChanges = changes
	w.status.NextRetry = time.Time{}
	repaired := false
	portsBefore := w.status.PortsDown
	w.status.Terminal = terminal
	if err != nil {
		w.status.Failures++
		w.status.LastError = err.Error()
	} else {
		w.status.Failures, w.status.LastError = 0, ""
		w.status.Revision = res.Revision
		w.status.PortsDown = res.PortsDown
		repaired = res.Repaired()
		if repaired {
			w.status.Repairs++
		}
	}
	s := w.status
	w.mu.Unlock()
	if err == nil {
		w.logPorts(portsBefore, res.PortsDown)
	}
	// The log and the metrics first: whoever sees the status finds them.
	w.r.metrics.observe(w.host, state, terminal, res.Took, res.DesiredFlows, repaired)
	switch {
	case again:
		w.log.Debug("reconcile failed", append(fields, zap.Error(err), zap.Bool("terminal", true))...)
	case terminal:
		w.log.Warn("reconcile failed", append(fields, zap.Error(err), zap.Bool("terminal", true))...)
	case err != nil:
		w.log.Warn("reconcile failed", append(fields, zap.Error(err))...)
	case changes > 0:
		w.log.Info("reconciled", fields...)
	default:
		w.log.Debug("reconciled", fields...)
	}
	w.r.onStatus(s)
}
