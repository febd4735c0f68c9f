package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ovn-org/libovsdb/ovsdb"
	"go.uber.org/zap"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// Apply sends the plan's operations in one transaction. An empty plan sends
// nothing. Every operation result is checked; the errors of the failed
// operations are joined. When the database changed since the plan was made,
// nothing is written and the error wraps ErrStale.
func (c *Client) Apply(ctx context.Context, p *Plan) error {
	if p.Empty() {
		return nil
	}
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: apply plan for bridge %q: %w", c.addr, p.Bridge, err)
	}
	start := time.Now()
	results, err := c.ovs.Transact(ctx, p.ops...)
	if err != nil {
		return wrap(fmt.Errorf("transact: %w", err))
	}
	opErrs, err := ovsdb.CheckOperationResults(results, p.ops)
	if err != nil {
		return wrap(p.joinErrors(opErrs, err))
	}
	c.log.Debug("ovsdb plan applied",
		zap.String("bridge", p.Bridge),
		zap.Int("changes", len(p.Changes)),
		zap.Int("operations", len(p.ops)),
		zap.Duration("took", time.Since(start)))
	return nil
}

// joinErrors names the failed operations. CheckOperationResults reports
// an error that is no single operation's (the commit itself failed, e.g. an
// index or referential constraint checked at commit time, or a short result)
// as err alone.
func (p *Plan) joinErrors(opErrs []ovsdb.OperationError, err error) error {
	var errs []error
	for _, oe := range opErrs {
		i := p.opIndex(oe.Operation())
		var timedOut *ovsdb.TimedOut
		switch {
		case i < 0:
			errs = append(errs, oe)
		case i == p.guard && errors.As(oe, &timedOut):
			errs = append(errs, fmt.Errorf("%s: %w", p.descs[i], ErrStale))
		default:
			errs = append(errs, fmt.Errorf("%s: %w", p.descs[i], oe))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("commit: %w", err))
	}
	return errors.Join(errs...)
}

func (p *Plan) opIndex(op *ovsdb.Operation) int {
	for i := range p.ops {
		if op == &p.ops[i] {
			return i
		}
	}
	return -1
}

// EnsureBridge plans and applies spec, and returns the applied plan (empty
// when the host already matched).
func (c *Client) EnsureBridge(ctx context.Context, spec BridgeSpec) (*Plan, error) {
	p, err := c.Plan(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := c.Apply(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// InterfaceError is an interface that ovs-vswitchd could not set up: it
// reported ofport -1 or an error text.
type InterfaceError struct {
	Interface string
	Ofport    int    // -1 when OVS gave up on the interface
	Message   string // OVS's Interface.error column, may be empty
}

func (e *InterfaceError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error text"
	}
	return fmt.Sprintf("interface %q: ofport %d: %s", e.Interface, e.Ofport, msg)
}

// NoDevice tells whether OVS found no network device of the interface's
// name on the host (a system interface, such as a veth or a NIC, that does
// not exist there, or not yet).
func (e *InterfaceError) NoDevice() bool {
	return strings.HasSuffix(e.Message, "(No such device)")
}

// pollInterval is how often the waits on ovs-vswitchd look at the cache
// when no update came: they wake on each update of the cache (an
// Interface's ofport, Open_vSwitch's cur_cfg), this is only a fallback.
const pollInterval = 250 * time.Millisecond

// WaitOfports waits until ovs-vswitchd reports, for each named interface on
// bridge, the OpenFlow port number in want (0 = any number). It returns an
// *InterfaceError (joined, one per interface) as soon as an interface has
// ofport -1 or an error text, and an error wrapping ctx.Err() listing what
// is still missing when ctx ends.
func (c *Client) WaitOfports(ctx context.Context, bridge string, want map[string]int) error {
	down, err := c.waitPorts(ctx, bridge, want, true)
	if err == nil && len(down) > 0 {
		errs := make([]error, len(down))
		for i, e := range down {
			errs[i] = e
		}
		err = fmt.Errorf("ovsdb %s: wait ofports on bridge %q: %w", c.addr, bridge, errors.Join(errs...))
	}
	return err
}

// WaitPorts waits until ovs-vswitchd has set up, or given up on, each
// named interface on bridge: each has the OpenFlow port number in want (0
// = any number), or is returned in down (ofport -1 or an error text). An
// interface OVS gave up on is not an error of the call: the other
// interfaces work, and OVS opens it by itself once its device appears.
// When ctx ends first, the error wraps ctx.Err() and lists what is still
// missing.
func (c *Client) WaitPorts(ctx context.Context, bridge string, want map[string]int) (down []*InterfaceError, err error) {
	return c.waitPorts(ctx, bridge, want, false)
}

func (c *Client) waitPorts(ctx context.Context, bridge string, want map[string]int, failFast bool) ([]*InterfaceError, error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: wait ofports on bridge %q: %w", c.addr, bridge, err)
	}
	if len(want) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(want))
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	// A check of many ports reads every row: while ovs-vswitchd numbers a
	// bridge's hundreds of ports, updates come every few ms, and a check
	// at each would keep a core busy. Those checks are spaced.
	var gap time.Duration
	if len(names) > fewRows {
		gap = minCheckGap
	}
	for {
		changed := c.changes()
		checked := time.Now()
		pending, failed, err := c.checkOfports(ctx, bridge, names, want)
		if err != nil {
			return nil, wrap(err)
		}
		if len(pending) == 0 || (failFast && len(failed) > 0) {
			return failed, nil
		}
		select {
		case <-ctx.Done():
			return nil, wrap(fmt.Errorf("%w: still waiting for %s", ctx.Err(), strings.Join(pending, "; ")))
		case <-changed:
		case <-ticker.C:
		}
		if wait := gap - time.Since(checked); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}
}

// minCheckGap spaces the checks of waits that read every row.
const minCheckGap = 20 * time.Millisecond

// OfportsReady tells, from the cache, whether every interface of want has
// its requested OpenFlow port on bridge now (WaitOfports without waiting).
func (c *Client) OfportsReady(ctx context.Context, bridge string, want map[string]int) (bool, error) {
	pending, down, err := c.PortsNow(ctx, bridge, want)
	return err == nil && len(pending) == 0 && len(down) == 0, err
}

// PortsNow reads from the cache, without waiting, what WaitPorts waits
// for: pending describes the interfaces of want that ovs-vswitchd has not
// set up yet (nor given up on), down those it gave up on.
func (c *Client) PortsNow(ctx context.Context, bridge string, want map[string]int) (pending []string, down []*InterfaceError, err error) {
	pending, down, err = c.checkOfports(ctx, bridge, slices.Sorted(maps.Keys(want)), want)
	if err != nil {
		return nil, nil, fmt.Errorf("ovsdb %s: ofports on bridge %q: %w", c.addr, bridge, err)
	}
	return pending, down, nil
}

// checkOfports reads the cache once: pending describes interfaces not
// there yet, failed holds the interfaces OVS gave up on.
func (c *Client) checkOfports(ctx context.Context, bridge string, names []string, want map[string]int) (pending []string, failed []*InterfaceError, err error) {
	var s *snapshot
	if len(names) <= fewRows {
		s, err = c.portRows(ctx, bridge, names)
	}
	if s == nil && err == nil {
		s, err = c.snapshot(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	pending, failed = ofportsIn(s, bridge, names, want)
	return pending, failed, nil
}

// ofportsIn is checkOfports on the snapshot s.
func ofportsIn(s *snapshot, bridge string, names []string, want map[string]int) (pending []string, failed []*InterfaceError) {
	// Until ovs-vswitchd has caught up with the last transaction, the
	// ofport and error columns may still describe the previous config.
	if s.root != nil && s.root.CurCfg < s.root.NextCfg {
		return []string{fmt.Sprintf("ovs-vswitchd to apply the configuration (cur_cfg %d < next_cfg %d; is it running?)",
			s.root.CurCfg, s.root.NextCfg)}, nil
	}
	onBridge := map[string]*vswitchd.Interface{}
	if br := s.bridgeByName(bridge); br != nil {
		for _, pu := range br.Ports {
			p := s.ports[pu]
			if p == nil {
				continue
			}
			for _, iu := range p.Interfaces {
				if i := s.ifaces[iu]; i != nil {
					onBridge[i.Name] = i
				}
			}
		}
	}
	for _, name := range names {
		i := onBridge[name]
		switch {
		case i == nil:
			pending = append(pending, fmt.Sprintf("interface %q (not on the bridge)", name))
		case (i.Ofport != nil && *i.Ofport == -1) || (i.Error != nil && *i.Error != ""):
			e := &InterfaceError{Interface: name, Ofport: -1}
			if i.Ofport != nil {
				e.Ofport = *i.Ofport
			}
			if i.Error != nil {
				e.Message = *i.Error
			}
			failed = append(failed, e)
		case i.Ofport == nil || *i.Ofport == 0:
			pending = append(pending, fmt.Sprintf("interface %q (no ofport yet)", name))
		case want[name] != 0 && *i.Ofport != want[name]:
			pending = append(pending, fmt.Sprintf("interface %q (ofport %d, want %d)", name, *i.Ofport, want[name]))
		}
	}
	return pending, failed
}

// Ofports returns the OpenFlow port number ovs-vswitchd reported for each
// interface on bridge that has one (not -1), by interface name.
func (c *Client) Ofports(ctx context.Context, bridge string) (map[string]int, error) {
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: ofports of bridge %q: %w", c.addr, bridge, err)
	}
	out := map[string]int{}
	br := s.bridgeByName(bridge)
	if br == nil {
		return out, nil
	}
	for _, pu := range br.Ports {
		p := s.ports[pu]
		if p == nil {
			continue
		}
		for _, iu := range p.Interfaces {
			if i := s.ifaces[iu]; i != nil && i.Ofport != nil && *i.Ofport > 0 {
				out[i.Name] = *i.Ofport
			}
		}
	}
	return out, nil
}
