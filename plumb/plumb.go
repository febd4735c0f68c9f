package plumb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/loom-sdn/loom/controller/api"
)

// Request says which workload interface joins which switch, and where.
type Request struct {
	// Switch and Host are the Loom switch and the Loom host (as the
	// topology names them) the workload runs on.
	Switch, Host string
	// Runtime is api.RuntimeCNI, api.RuntimeDocker or api.RuntimeAttach.
	Runtime string
	// ContainerID and IfName (the interface inside the workload) name
	// the port for loomd; an Add repeated for them gets the same port.
	ContainerID, IfName string
	// Netns is the path of the workload's network namespace.
	Netns string
	// HostNetns is the path of the network namespace where the host end
	// of the veth goes (where the host's ovs-vswitchd runs); "" is the
	// caller's own.
	HostNetns string
	// IPs and MAC, if set, are the addresses (without prefix length) and
	// MAC the workload asks for; left out, loomd hands them out.
	IPs []string
	MAC string
	// Name, if set, is the port's name at loomd.
	Name string
	// ReadyTimeout bounds the wait for loomd to report the port working
	// on the host; 0 does not wait.
	ReadyTimeout time.Duration
	// HandOff, if set, is for a runtime that moves the workload's end
	// into the workload and addresses it itself (Docker): Add makes that
	// end in the caller's own netns under this name (Netns is not used),
	// gives it only the port's MAC and MTU (and tx checksum offload off),
	// and sends no gratuitous ARP.
	HandOff string
	// OVSDB, if set, is the host's OVSDB server (unix:PATH, tcp:IP:PORT):
	// Add puts the veth's host end on Bridge itself, with
	// external_ids:iface-id (IfaceIDFor), and asks loomd for a port
	// bound by that iface-id; Del removes that OVS port (ifaceid.go).
	// Empty: loomd puts the host end on the bridge by its name.
	OVSDB string
	// Bridge is the host's integration bridge (with OVSDB); default
	// br-int.
	Bridge string
}

// Attachment is what Add made.
type Attachment struct {
	Port api.RuntimePort
	// Created: loomd made the port now (false: it was there, a retry).
	Created bool
	// HostVeth is the veth's host end, HostMAC its MAC; ContainerMAC is
	// the workload end's (the port's MAC).
	HostVeth, HostMAC, ContainerMAC string
	// Ready: loomd reported the port working on the host within
	// ReadyTimeout.
	Ready bool
}

// HostVethName is the name of the host end of the veth for a workload's
// interface: "lm" and 12 hex digits of a hash of the container and the
// interface (14 characters; Linux allows 15). The same inputs give the
// same name, so a retried Add and a Del find it without asking anyone.
func HostVethName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "\x00" + ifName))
	return "lm" + hex.EncodeToString(sum[:6])
}

// check checks the fields Add needs.
func (r *Request) check() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"switch", r.Switch}, {"host", r.Host}, {"runtime", r.Runtime},
		{"container id", r.ContainerID}, {"interface name", r.IfName}, {"netns", r.Netns + r.HandOff}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return &InputError{Msg: "missing " + strings.Join(missing, ", ")}
	}
	if len(r.IfName) > 15 || strings.ContainsAny(r.IfName, "/ \t\n:") || r.IfName == "." || r.IfName == ".." {
		return &InputError{Msg: fmt.Sprintf("interface name %q: at most 15 characters, no '/', ':' or spaces", r.IfName)}
	}
	for _, s := range r.IPs {
		if _, err := netip.ParseAddr(s); err != nil {
			return &InputError{Msg: fmt.Sprintf("ip %q: an address such as 192.0.2.10, without prefix length", s)}
		}
	}
	if r.MAC != "" {
		if m, err := net.ParseMAC(r.MAC); err != nil || len(m) != 6 {
			return &InputError{Msg: fmt.Sprintf("mac %q: six hex bytes, e.g. 02:00:00:00:00:01", r.MAC)}
		}
	}
	return nil
}

// InputError is a request that cannot be made as given (a missing field,
// a bad address): retrying it changes nothing.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// NetnsError is a network namespace that cannot be opened.
type NetnsError struct {
	Path string
	Err  error
}

func (e *NetnsError) Error() string { return fmt.Sprintf("netns %s: %v", e.Path, e.Err) }
func (e *NetnsError) Unwrap() error { return e.Err }

// openNS opens the namespace at path, or the caller's own for "".
func openNS(path string) (ns.NetNS, error) {
	if path == "" {
		n, err := ns.GetCurrentNS()
		if err != nil {
			return nil, &NetnsError{Path: "(own)", Err: err}
		}
		return n, nil
	}
	n, err := ns.GetNS(path)
	if err != nil {
		return nil, &NetnsError{Path: path, Err: err}
	}
	return n, nil
}

// Add joins the workload to the switch (see the package's comment). On
// error nothing it made is left: the veth is removed and the port given
// back to loomd (which frees its addresses).
func Add(ctx context.Context, c *api.Client, r Request) (*Attachment, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	hostNS, err := openNS(r.HostNetns)
	if err != nil {
		return nil, err
	}
	defer hostNS.Close()
	contPath, link := r.Netns, r.IfName
	if r.HandOff != "" {
		contPath, link = "", r.HandOff
	}
	contNS, err := openNS(contPath)
	if err != nil {
		return nil, err
	}
	defer contNS.Close()

	hv := HostVethName(r.ContainerID, r.IfName)
	if !linkIn(hostNS, hv) {
		// A veth made again under a name the host's bridge still has a
		// port for (a container restarted: DEL, then ADD with the same
		// id, before the host dropped the old port) would stay dead on
		// the netdev datapath (OVS-NOTES.md): wait until it is gone.
		if err := waitGone(ctx, c, r.Host, hv, max(r.ReadyTimeout, 5*time.Second)); err != nil {
			return nil, err
		}
	}
	made, err := ensureVeth(contNS, hostNS, link, hv)
	if err != nil {
		return nil, err
	}
	undoVeth := func() {
		if made {
			deleteLink(hostNS, hv) //nolint:errcheck // best effort on the way out; the error returned says why
		}
	}
	preq := api.RuntimePortRequest{Switch: r.Switch, Host: r.Host, Runtime: r.Runtime,
		ContainerID: r.ContainerID, IfName: r.IfName, Interface: hv, MAC: r.MAC, IPs: r.IPs, Name: r.Name}
	if r.OVSDB != "" {
		preq.Interface, preq.IfaceID = "", IfaceIDFor(r.ContainerID, r.IfName)
		undoLink := undoVeth
		undoVeth = func() {
			// The OVS port first: a veth gone under a port OVS holds is
			// what a retried Add must not find.
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r.unplug(dctx, hv) //nolint:errcheck // best effort on the way out; the error returned says why
			cancel()
			undoLink()
		}
	}
	res, err := c.AddRuntimePort(ctx, preq)
	if err != nil {
		undoVeth()
		var ae *api.Error
		if !errors.As(err, &ae) {
			// No answer (a timeout, a connection cut): loomd may have made
			// the port all the same. Give it back if loomd can be reached.
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.DeleteContainerPort(dctx, r.ContainerID, r.IfName) //nolint:errcheck // best effort; the add's error says what went wrong
			cancel()
		}
		return nil, fmt.Errorf("loomd: add port for %s %s: %w", r.ContainerID, r.IfName, err)
	}
	undo := func(cause error) error {
		undoVeth()
		// A fresh context: ctx may be what ended.
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, derr := c.DeleteContainerPort(dctx, r.ContainerID, r.IfName); derr != nil {
			return errors.Join(cause, fmt.Errorf("give the port back to loomd: %w", derr))
		}
		return cause
	}
	at := &Attachment{Port: res.RuntimePort, Created: res.Created, HostVeth: hv}
	if at.HostMAC, at.ContainerMAC, err = configure(contNS, hostNS, link, hv, res.RuntimePort, r.HandOff == ""); err != nil {
		return nil, undo(err)
	}
	if r.OVSDB != "" {
		if err := r.plug(ctx, hv); err != nil {
			return nil, undo(fmt.Errorf("put %s on bridge %s: %w", hv, r.bridge(), err))
		}
	}
	if r.ReadyTimeout > 0 {
		at.Ready, err = waitReady(ctx, c, r.Host, res.Name, res.Revision, r.ReadyTimeout)
		if err != nil {
			return nil, undo(err)
		}
	}
	// Once the switch carries the port: a gratuitous ARP, so that peers
	// that knew its address under another MAC learn the new one. Best
	// effort (the workload's own traffic teaches them too, later).
	if r.HandOff == "" {
		announceIn(contNS, r.IfName, at.Port) //nolint:errcheck // best effort
	}
	return at, nil
}

// Del takes the workload's interface off its switch: it removes the
// veth (from the host's end, so a workload namespace already gone does
// not matter) and the port at loomd. Both being gone already is no
// error; Deleted in the answer says whether loomd had the port.
func Del(ctx context.Context, c *api.Client, r Request) (*api.RuntimePortDeleted, error) {
	if r.ContainerID == "" || r.IfName == "" {
		return nil, &InputError{Msg: "missing container id or interface name"}
	}
	hostNS, err := openNS(r.HostNetns)
	if err != nil {
		return nil, err
	}
	defer hostNS.Close()
	if r.OVSDB != "" {
		if err := r.unplug(ctx, HostVethName(r.ContainerID, r.IfName)); err != nil {
			return nil, err
		}
	}
	if err := deleteLink(hostNS, HostVethName(r.ContainerID, r.IfName)); err != nil {
		return nil, err
	}
	res, err := c.DeleteContainerPort(ctx, r.ContainerID, r.IfName)
	if err != nil {
		return nil, fmt.Errorf("loomd: delete port of %s %s: %w", r.ContainerID, r.IfName, err)
	}
	return res, nil
}

// Find returns loomd's port for the workload's interface.
func Find(ctx context.Context, c *api.Client, containerID, ifName string) (*api.RuntimePort, error) {
	ps, err := c.RuntimePorts(ctx)
	if err != nil {
		return nil, fmt.Errorf("loomd: list runtime ports: %w", err)
	}
	for _, p := range ps.Ports {
		if p.ContainerID == containerID && p.IfName == ifName {
			return &p, nil
		}
	}
	return nil, &NotFoundError{ContainerID: containerID, IfName: ifName}
}

// NotFoundError is Find's error when loomd has no port for the
// workload's interface.
type NotFoundError struct{ ContainerID, IfName string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("loomd has no port for container %s interface %s", e.ContainerID, e.IfName)
}

// Check tells whether the workload's interface is as Add left it: loomd
// has its port on the request's switch and host, the veth is there with
// the port's MAC, MTU, addresses and default routes, and loomd reports
// the port working on the host.
func Check(ctx context.Context, c *api.Client, r Request) (*api.RuntimePort, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	p, err := Find(ctx, c, r.ContainerID, r.IfName)
	if err != nil {
		return nil, err
	}
	hv := HostVethName(r.ContainerID, r.IfName)
	if p.Switch != r.Switch || p.Host != r.Host || p.Interface != hv {
		return p, fmt.Errorf("loomd's port %s is on switch %q, host %q, interface %q; want %q, %q, %q", p.Name, p.Switch, p.Host, p.Interface, r.Switch, r.Host, hv)
	}
	hostNS, err := openNS(r.HostNetns)
	if err != nil {
		return p, err
	}
	defer hostNS.Close()
	contNS, err := openNS(r.Netns)
	if err != nil {
		return p, err
	}
	defer contNS.Close()
	if err := verify(contNS, hostNS, r.IfName, hv, *p); err != nil {
		return p, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return p, fmt.Errorf("loomd: status: %w", err)
	}
	for _, h := range st.Hosts {
		if h.Host == r.Host {
			if why := notReady(h, p.Name, 0); why != "" {
				return p, fmt.Errorf("port %s on host %s: %s", p.Name, r.Host, why)
			}
			return p, nil
		}
	}
	return p, fmt.Errorf("loomd does not report host %s", r.Host)
}

// notReady says why port is not yet working on the host h ("" if it is):
// the host has not reached revision rev, or OVS could not set the port up.
func notReady(h api.HostStatus, port string, rev int64) string {
	if h.Revision < rev {
		return fmt.Sprintf("host at revision %d, the port came with %d", h.Revision, rev)
	}
	if h.State != api.StateInSync && h.State != api.StateDegraded {
		return "host " + h.State
	}
	if i := slices.IndexFunc(h.PortsDown, func(p api.PortProblem) bool { return p.Object == "port/"+port }); i >= 0 {
		return "down: " + h.PortsDown[i].Problem
	}
	return ""
}

// waitGone waits, for at most d, until loomd no longer reports an
// interface named iface on host's bridge. Still there after d is no
// error (loomd may keep it for a port it still has); loomd's errors are.
func waitGone(ctx context.Context, c *api.Client, host, iface string, d time.Duration) error {
	there := func() (bool, error) {
		hi, err := c.Interfaces(ctx, host)
		if err != nil {
			return false, fmt.Errorf("loomd: interfaces of host %s: %w", host, err)
		}
		return slices.ContainsFunc(hi.Interfaces, func(i api.Interface) bool { return i.Name == iface }), nil
	}
	if ok, err := there(); !ok || err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := c.Watch(wctx, func(ev api.Event) error {
		if ev.Host != nil && ev.Host.Host != host {
			return nil
		}
		ok, err := there()
		if err != nil {
			return err
		}
		if !ok {
			return api.ErrStop
		}
		return nil
	})
	if err == nil || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil || errors.Is(err, api.ErrStreamClosed) {
		return nil
	}
	return err
}

// waitReady waits, for at most d, until loomd reports the host at
// revision rev or later with the port up and its flows on the switch, and
// the other hosts it reaches at revision rev or later. Not ready in time is no error
// (the port may still come up; loomd keeps at it): it answers false.
// An error is loomd's answer to the watch itself.
func waitReady(ctx context.Context, c *api.Client, host, port string, rev int64, d time.Duration) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ready := false
	hosts := map[string]api.HostStatus{}
	err := c.Watch(wctx, func(ev api.Event) error {
		switch {
		case ev.Status != nil:
			for _, h := range ev.Status.Hosts {
				hosts[h.Host] = h
			}
		case ev.Host != nil:
			hosts[ev.Host.Host] = *ev.Host
		default:
			return nil
		}
		// The host at the port's revision, in sync, with the port up is a
		// host whose switch has the port's flows: loomd reports a
		// revision only once its bundle is committed and the port
		// numbered (at the OpenFlow number the flows name, fixed through
		// ofport_request). No dump of the switch's flows is needed (each
		// cost loomd an ovs-ofctl, and a burst of ADDs as many at once).
		h, ok := hosts[host]
		if !ok || notReady(h, port, rev) != "" {
			return nil
		}
		// ... and the other hosts have the revision too (their flows
		// send the port's peers' answers to it), those loomd reaches.
		for _, o := range hosts {
			if o.Revision < rev && (o.State == api.StateApplying || o.State == api.StateInSync ||
				o.State == api.StateDegraded || o.State == api.StatePending) {
				return nil
			}
		}
		ready = true
		return api.ErrStop
	})
	if ready || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return ready, nil
	}
	if err == nil || errors.Is(err, api.ErrStreamClosed) {
		return false, nil
	}
	return false, fmt.Errorf("loomd: wait for port %s on host %s: %w", port, host, err)
}
