package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/topology"
)

// A host removed from the topology is cleaned, not forgotten: what Loom
// owns on it (its bridge, that bridge's ports and controller, its flows)
// is deleted while the host can be reached, and until then the host shows
// in the status as removing. Only what Loom owns goes (ovsdb.PlanRemove):
// a bridge with someone else's port on it stays, with that port.

// Removal is a host that left the topology and what is needed to reach it
// and find Loom's things on it. loomd keeps the pending ones beside the
// stored topology, so that a restart still cleans them.
type Removal struct {
	Host     string           `json:"host"`
	OVSDB    string           `json:"ovsdb"`
	OpenFlow string           `json:"openflow"`
	Bridge   string           `json:"bridge"`
	TLS      topology.CertPin `json:"tls,omitzero"`
	// Revision is the topology revision that removed the host.
	Revision int64 `json:"revision"`
}

// RemovalOf is the removal of h, which revision rev of the topology drops.
func RemovalOf(h topology.Host, rev int64) Removal {
	return Removal{Host: h.Name, OVSDB: h.OVSDB, OpenFlow: h.OpenFlow, Bridge: h.Bridge, TLS: h.TLS, Revision: rev}
}

// hostState is what dialling the host needs, as a HostState.
func (rm Removal) hostState() *flows.HostState {
	return &flows.HostState{Host: rm.Host, OVSDB: rm.OVSDB, OpenFlow: rm.OpenFlow, Bridge: rm.Bridge, TLS: rm.TLS}
}

// RemoveHost reads what Loom owns on rm's host and, unless dry, deletes
// it: Loom's flows first when the bridge stays (Loom's controller, the
// OpenFlow listener, goes with the OVSDB transaction), then one guarded
// transaction. The answer says what was (or would be) deleted.
func RemoveHost(ctx context.Context, log *zap.Logger, tlsFiles TLS, rm Removal, dry bool) (api.HostRemoval, error) {
	out := api.HostRemoval{Host: rm.Host, Bridge: rm.Bridge, Flows: -1}
	hs := rm.hostState()
	opts, err := tlsFiles.dialOptions(hs)
	if err != nil {
		return out, err
	}
	db, err := ovsdb.Dial(ctx, rm.OVSDB, log, opts...)
	if err != nil {
		return out, err
	}
	defer db.Close()
	rp, err := db.PlanRemove(ctx, rm.Bridge)
	if err != nil {
		return out, err
	}
	out.Found, out.DeletesBridge, out.Ports = rp.Exists, rp.DeletesBridge, rp.Ports
	out.OVSDB, out.Foreign = rp.Changes, rp.Foreign
	if !rp.Exists {
		return out, nil
	}
	// Loom's flows: counted for the plan, deleted when the bridge stays.
	var obs *ofctl.Observed
	of := tlsFiles.OpenFlow(rm.OpenFlow)
	if err = tlsFiles.VerifyOpenFlow(ctx, hs); err == nil {
		obs, err = of.Dump(ctx)
	}
	if err == nil {
		out.Flows = obs.Len()
	}
	mustDelete := !rp.DeletesBridge && !rp.Empty()
	if err != nil && mustDelete {
		return out, fmt.Errorf("read Loom's flows on bridge %s: %w", rm.Bridge, err)
	}
	if dry {
		return out, nil
	}
	if mustDelete && obs.Len() > 0 {
		fp, err := ofctl.PlanFlows(nil, obs)
		if err == nil {
			err = of.Apply(ctx, fp)
		}
		if err != nil {
			return out, fmt.Errorf("delete Loom's flows on bridge %s: %w", rm.Bridge, err)
		}
	}
	if err := db.Apply(ctx, rp.Plan); err != nil {
		return out, err
	}
	return out, nil
}

// SetRemovals makes list the hosts to clean (every pending one: a host
// not in it stops being cleaned). Each is worked on, with the
// reconciler's backoff, until it is clean; then its last status says
// StateRemoved (with the removal's revision) and it leaves the status.
// A host of the same name in the desired state is not cleaned.
func (r *Reconciler) SetRemovals(list []Removal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gone := r.gone
	r.gone = nil
	want := map[string]Removal{}
	for _, rm := range list {
		if r.workers[rm.Host] == nil {
			want[rm.Host] = rm
		}
	}
	for name, rv := range r.removers {
		if rm, ok := want[name]; !ok || rm != rv.rm {
			close(rv.stop)
			delete(r.removers, name)
		}
	}
	for name, rm := range want {
		if r.removers[name] != nil {
			continue
		}
		rv := &remover{r: r, rm: rm, log: r.log.With(zap.String("host", name), zap.Int64("removed_at", rm.Revision)),
			stop: make(chan struct{}), after: gone[name],
			status: api.HostStatus{Host: name, State: api.StateRemoving, Revision: rm.Revision, Desired: rm.Revision}}
		if r.removers == nil {
			r.removers = map[string]*remover{}
		}
		r.removers[name] = rv
		if r.ctx != nil {
			r.startRemover(rv)
		}
	}
}

// stopped records that host's worker was told to stop; exited is closed
// once it has. A removal of the host waits for it: the worker's last
// transaction must not land after the removal's.
func (r *Reconciler) stopped(host string, exited chan struct{}) {
	if r.gone == nil {
		r.gone = map[string]chan struct{}{}
	}
	r.gone[host] = exited
}

func (r *Reconciler) startRemover(rv *remover) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		rv.run(r.ctx)
	}()
}

// removerStatus lists the statuses of the hosts being removed.
func (r *Reconciler) removerStatus() []api.HostStatus {
	out := make([]api.HostStatus, 0, len(r.removers))
	for _, rv := range r.removers {
		rv.mu.Lock()
		out = append(out, rv.status)
		rv.mu.Unlock()
	}
	return out
}

// remover cleans one removed host.
type remover struct {
	r     *Reconciler
	rm    Removal
	log   *zap.Logger
	stop  chan struct{}
	after chan struct{} // the host's worker has exited (nil: none)

	mu     sync.Mutex
	status api.HostStatus
}

func (rv *remover) run(ctx context.Context) {
	if rv.after != nil {
		select {
		case <-rv.after:
		case <-ctx.Done():
			return
		case <-rv.stop:
			return
		}
	}
	var backoff time.Duration
	for {
		res, err := rv.attempt(ctx)
		select {
		case <-rv.stop:
			return // put back in the topology meanwhile: its worker owns it
		case <-ctx.Done():
			return
		default:
		}
		if err == nil {
			rv.done(res)
			return
		}
		c := rv.r.cfg
		backoff = min(max(backoff*2, c.BackoffMin), c.BackoffMax)
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		rv.mu.Lock()
		rv.status.LastError = err.Error()
		rv.status.Failures++
		rv.status.NextRetry = time.Now().Add(wait)
		s := rv.status
		rv.mu.Unlock()
		rv.r.onStatus(s)
		rv.log.Warn("removed host not cleaned yet", zap.Error(err), zap.Duration("retry_in", wait))
		select {
		case <-time.After(wait):
		case <-rv.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (rv *remover) attempt(ctx context.Context) (api.HostRemoval, error) {
	select {
	case rv.r.sem <- struct{}{}:
	case <-ctx.Done():
		return api.HostRemoval{}, ctx.Err()
	case <-rv.stop:
		return api.HostRemoval{}, context.Canceled
	}
	defer func() { <-rv.r.sem }()
	ctx, cancel := context.WithTimeout(ctx, rv.r.cfg.HostTimeout)
	defer cancel()
	start := time.Now()
	res, err := RemoveHost(ctx, rv.log, rv.r.cfg.TLS, rv.rm, false)
	rv.mu.Lock()
	rv.status.LastReconcile, rv.status.LastDuration = start, time.Since(start)
	rv.status.Reconciles++
	rv.mu.Unlock()
	return res, err
}

// done reports the host cleaned and drops it.
func (rv *remover) done(res api.HostRemoval) {
	r := rv.r
	r.mu.Lock()
	if r.removers[rv.rm.Host] == rv {
		delete(r.removers, rv.rm.Host)
	}
	r.mu.Unlock()
	rv.mu.Lock()
	rv.status.State, rv.status.LastError, rv.status.NextRetry = api.StateRemoved, "", time.Time{}
	s := rv.status
	rv.mu.Unlock()
	rv.log.Info("removed host cleaned", zap.Bool("found", res.Found), zap.Bool("bridge_deleted", res.DeletesBridge),
		zap.Strings("ports_deleted", res.Ports), zap.Int("flows", res.Flows), zap.Strings("left_alone", res.Foreign))
	r.onStatus(s)
}
