package daemon

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// Hosts removed from the topology: loomd deletes what Loom owns on them
// (controller.RemoveHost). The pending removals are stored with the
// topology (stored.Removing): each install adds the hosts its topology
// drops and drops those it has (again); a removal leaves the list once
// its host is clean. A restarted loomd reads the list and goes on.

// removedHosts lists the hosts of the topology in force that t drops.
// Before the first install (loomd starting) the topology in force is the
// stored one, read from st's predecessor, when the files changed while
// loomd was down.
func (d *Daemon) removedHosts(st stored, t *topology.Topology) []topology.Host {
	prev := d.topo
	if prev == nil && len(d.st.Files) > 0 && !sameFiles(st.Files, d.st.Files) {
		p, err := topology.LoadBytes(api.BytesOf(d.st.Files))
		if err != nil {
			return nil // not readable: it put nothing on hosts this loomd knows of
		}
		prev = p
	}
	return dropped(prev, t)
}

// dropped lists the hosts of prev (nil: none) that t does not have.
func dropped(prev, t *topology.Topology) []topology.Host {
	if prev == nil {
		return nil
	}
	var out []topology.Host
	for _, h := range prev.Hosts {
		if _, ok := t.Host(h.Name); !ok {
			out = append(out, h)
		}
	}
	return out
}

// willRemove says, for a dry run, what becomes of the hosts of cur that
// t drops.
func willRemove(cur, t *topology.Topology) []string {
	var said []string
	for _, rm := range removals(nil, dropped(cur, t), t, 0) {
		said = append(said, "host "+rm.Host+": removed from the topology; Loom's bridge "+rm.Bridge+", its ports and flows will be deleted from it")
	}
	return said
}

// removals is the list of pending removals after an install of t (at
// revision rev) that drops the hosts gone: the pending ones and the new
// ones, except a host t has (again) and a host whose OVSDB server and
// bridge a host of t has (renamed: its worker takes the bridge over).
func removals(pending []controller.Removal, gone []topology.Host, t *topology.Topology, rev int64) []controller.Removal {
	names, bridges := map[string]bool{}, map[string]bool{}
	for _, h := range t.Hosts {
		names[h.Name] = true
		bridges[h.OVSDB+" "+h.Bridge] = true
	}
	var out []controller.Removal
	add := func(rm controller.Removal) {
		if names[rm.Host] || bridges[rm.OVSDB+" "+rm.Bridge] {
			return
		}
		names[rm.Host] = true // once
		out = append(out, rm)
	}
	for _, rm := range pending {
		add(rm)
	}
	for _, h := range gone {
		add(controller.RemovalOf(h, rev))
	}
	slices.SortFunc(out, func(a, b controller.Removal) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// logRemoved says what becomes of the hosts an install dropped; the
// status file forgets those not to be cleaned. It returns the same in
// words, for the answer to the change.
func (d *Daemon) logRemoved(gone []topology.Host, pending []controller.Removal) []string {
	var said []string
	for _, h := range gone {
		i := slices.IndexFunc(pending, func(rm controller.Removal) bool { return rm.Host == h.Name })
		if i < 0 {
			d.log.Info("host removed from the topology; another host of the topology has its bridge: nothing to delete",
				zap.String("host", h.Name), zap.String("bridge", h.Bridge))
			d.status.forget(h.Name)
			said = append(said, "host "+h.Name+": removed from the topology; its bridge "+h.Bridge+" is another host's of the topology now: nothing is deleted")
			continue
		}
		said = append(said, "host "+h.Name+": removed from the topology; Loom's bridge "+h.Bridge+
			", its ports and flows are being deleted from it (loomctl status shows it as removing until then)")
		d.log.Info("host removed from the topology: Loom's bridge, its ports and flows will be deleted from it",
			zap.String("host", h.Name), zap.String("bridge", h.Bridge), zap.String("ovsdb", h.OVSDB))
	}
	return said
}

// removalDone drops a cleaned host's removal (made at revision rev) from
// the stored list. Should the store fail, the list keeps it: a restart
// cleans the host again, which finds nothing to delete.
func (d *Daemon) removalDone(host string, rev int64) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	st := d.st
	st.Removing = slices.DeleteFunc(slices.Clone(st.Removing), func(rm controller.Removal) bool {
		return rm.Host == host && rm.Revision == rev
	})
	if len(st.Removing) == len(d.st.Removing) {
		return
	}
	if err := d.store.save(st); err != nil {
		d.log.Warn("the cleaned host could not be dropped from the stored removals", zap.String("host", host), zap.Error(err))
		return
	}
	d.mu.Lock()
	d.st = st
	d.mu.Unlock()
}

// planRemovals says what removing each host would delete: those being
// removed and those of cur that t drops (but those t has), asking each
// host (in parallel, each bounded by timeout).
func (d *Daemon) planRemovals(ctx context.Context, cur, t *topology.Topology, timeout time.Duration) []api.HostRemoval {
	d.mu.Lock()
	pending := d.st.Removing
	d.mu.Unlock()
	list := removals(pending, dropped(cur, t), t, 0)
	out := make([]api.HostRemoval, len(list))
	var wg sync.WaitGroup
	for i, rm := range list {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			r, err := controller.RemoveHost(ctx, d.log.With(zap.String("call", "plan"), zap.String("host", rm.Host)), d.cfg.Reconciler.TLS, rm, true)
			if err != nil {
				r.Error = err.Error()
			}
			out[i] = r
		})
	}
	wg.Wait()
	return out
}

// ForgetRemoval stops cleaning host (one removed from the topology that
// will never be reachable again): it leaves the stored list and the
// status; what Loom made on it stays.
func (d *Daemon) ForgetRemoval(host string) (*api.RemovalForgotten, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	res := &api.RemovalForgotten{Host: host}
	st := d.st
	st.Removing = slices.DeleteFunc(slices.Clone(st.Removing), func(rm controller.Removal) bool { return rm.Host == host })
	if len(st.Removing) == len(d.st.Removing) {
		return res, nil
	}
	if err := d.store.save(st); err != nil {
		return nil, &api.Error{Message: "the removal could not be stored, nothing changed: " + err.Error(), Code: http.StatusInternalServerError}
	}
	d.mu.Lock()
	d.st = st
	d.rec.SetRemovals(st.Removing)
	d.mu.Unlock()
	res.Forgotten = true
	d.hostChanged(api.HostStatus{Host: host, State: api.StateRemoved})
	return res, nil
}
