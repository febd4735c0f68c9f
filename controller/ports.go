package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb"
)

// A port that OVS cannot set up (its interface does not exist on the host:
// a typo, the wrong host, a container not started yet) is contained: the
// host is programmed all the same, every other port, switch and ACL of it,
// and kept in sync; the host is "degraded" and its status lists the port.
// The port stays in OVSDB, and its flows stay on the switch: they match an
// in_port that does not exist, or output to one, which OVS drops, so they
// are harmless, and when the device appears OVS opens it by itself and the
// port works at once, with nothing for Loom to send. Leaving the flows out
// instead would make the desired flows depend on what the host reports,
// and the port would wait for a reconcile to work.

// portProblems describes the interfaces OVS gave up on, and the ports
// bound by iface-id without a single interface to bind (adopted: the
// plan's), for the operator: which object of the topology, what is wrong
// and what to do. Sorted by object.
func portProblems(hs *flows.HostState, down []*ovsdb.InterfaceError, adopted []ovsdb.Adoption) []api.PortProblem {
	var out []api.PortProblem
	objects := map[string]string{}
	for _, a := range adopted {
		if a.Interface != "" {
			objects[a.Interface] = a.Object
		}
		if msg := a.Problem(hs.Host); msg != "" {
			_, name, _ := strings.Cut(a.Object, "/")
			out = append(out, api.PortProblem{Object: a.Object, Interface: a.Interface, Problem: "port " + name + ": " + msg})
		}
	}
	if len(down) == 0 && len(out) == 0 {
		return nil
	}
	for _, p := range hs.Ports {
		if p.IfaceID == "" {
			objects[p.Name] = p.ExternalIDs[flows.ExtIDObject]
		}
	}
	for _, e := range down {
		obj := objects[e.Interface]
		kind, name, _ := strings.Cut(obj, "/")
		what := "port " + e.Interface
		switch kind {
		case "port":
			what = "port " + name
		case "physnet":
			what = "uplink of physnet " + name
		case "host":
			what = "tunnel to host " + name
		case "endpoint":
			what = "tunnel to external endpoint " + name
		}
		p := api.PortProblem{Object: obj, Interface: e.Interface, OVSError: e.Message}
		switch {
		case e.NoDevice() && kind == "port":
			p.Problem = fmt.Sprintf("%s: interface %s does not exist on host %s (start the workload, or fix the port's interface or host)", what, e.Interface, hs.Host)
		case e.NoDevice() && kind == "physnet":
			p.Problem = fmt.Sprintf("%s: interface %s does not exist on host %s (bring up the NIC, or fix the host's physnets)", what, e.Interface, hs.Host)
		case e.NoDevice():
			p.Problem = fmt.Sprintf("%s: interface %s does not exist on host %s", what, e.Interface, hs.Host)
		default:
			msg := e.Message
			if msg == "" {
				msg = "no reason given (see ovs-vswitchd's log on the host)"
			}
			p.Problem = fmt.Sprintf("%s: OVS on host %s could not set up interface %s: %s", what, hs.Host, e.Interface, msg)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b api.PortProblem) int {
		return strings.Compare(a.Object+"\x00"+a.Interface, b.Object+"\x00"+b.Interface)
	})
	return out
}

// withPorts is the status of a host that is at its revision with ports
// down (none: in sync).
func withPorts(s api.HostStatus, down []api.PortProblem) api.HostStatus {
	s.PortsDown = down
	s.State = api.StateInSync
	if len(down) > 0 {
		s.State = api.StateDegraded
	}
	return s
}

// samePorts tells whether two lists of ports down are the same.
func samePorts(a, b []api.PortProblem) bool { return slices.Equal(a, b) }

// setPortsDown records, for a host found at its revision without a
// reconcile (an OVSDB update), which ports are down now. It logs each port
// that goes down or comes back, and publishes the status if it changed.
func (w *worker) setPortsDown(down []api.PortProblem) {
	w.mu.Lock()
	before := w.status.PortsDown
	if samePorts(before, down) {
		w.mu.Unlock()
		return
	}
	w.status = withPorts(w.status, down)
	s := w.status
	w.mu.Unlock()
	w.logPorts(before, down)
	w.r.onStatus(s)
}

// logPorts logs the ports that went down or came back between two lists.
func (w *worker) logPorts(before, after []api.PortProblem) {
	key := func(p api.PortProblem) string { return p.Object + "\x00" + p.Interface }
	was := map[string]bool{}
	for _, p := range before {
		was[key(p)] = true
	}
	is := map[string]bool{}
	for _, p := range after {
		is[key(p)] = true
		if !was[key(p)] {
			w.log.Warn("port down", zap.String("object", p.Object), zap.String("interface", p.Interface), zap.String("problem", p.Problem))
		}
	}
	for _, p := range before {
		if !is[key(p)] {
			w.log.Info("port up", zap.String("object", p.Object), zap.String("interface", p.Interface))
		}
	}
}

// interfaceRecreated is called (on libovsdb's event loop) when a Loom
// interface's device was made anew under a port OVS holds open.
func (w *worker) interfaceRecreated(iface string) {
	w.mu.Lock()
	if w.recreated == nil {
		w.recreated = map[string]bool{}
	}
	w.recreated[iface] = true
	w.mu.Unlock()
	select {
	case w.bounce <- struct{}{}:
	default:
	}
}

// recreatePorts deletes and adds back, in two transactions, the ports
// whose devices were made anew (ovsdb.Client.RecreatePorts), so that OVS
// opens the new devices; flows stay as they are. It reports success; on
// failure the caller reconciles the host.
func (w *worker) recreatePorts(ctx context.Context) bool {
	w.mu.Lock()
	names := make([]string, 0, len(w.recreated))
	for n := range w.recreated {
		names = append(names, n)
	}
	w.recreated = nil
	hs := w.desired
	w.mu.Unlock()
	if w.db == nil || hs == nil {
		return false // a reconcile will connect; the new device is opened with the port
	}
	spec := BridgeSpec(hs)
	names = slices.DeleteFunc(names, func(n string) bool {
		return !slices.ContainsFunc(spec.Ports, func(p ovsdb.PortSpec) bool { return p.Name == n && p.Type == "" })
	})
	if len(names) == 0 {
		return true
	}
	slices.Sort(names)
	ctx, cancel := context.WithTimeout(ctx, min(w.r.cfg.HostTimeout, 10*time.Second))
	defer cancel()
	start := time.Now()
	_, err := w.db.RecreatePorts(ctx, spec, names)
	if err != nil {
		w.log.Warn("ports of recreated interfaces not re-added", zap.Strings("interfaces", names), zap.Error(err))
		return false
	}
	w.log.Info("ports re-added for recreated interfaces", zap.Strings("interfaces", names), zap.Duration("duration", time.Since(start)))
	return true
}
