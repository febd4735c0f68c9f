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

// pollInterval is how often WaitOfports looks at the cache.
const pollInterval = 20 * time.Millisecond

// WaitOfports waits until ovs-vswitchd reports, for each named interface on
// bridge, the OpenFlow port number in want (0 = any number). It returns an
// *InterfaceError (joined, one per interface) as soon as an interface has
// ofport -1 or an error text, and an error wrapping ctx.Err() listing what
// is still missing when ctx ends.
func (c *Client) WaitOfports(ctx context.Context, bridge string, want map[string]int) error {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: wait ofports on bridge %q: %w", c.addr, bridge, err)
	}
	if len(want) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(want))
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		pending, failed, err := c.checkOfports(ctx, bridge, names, want)
		if err != nil {
			return wrap(err)
		}
		if len(failed) > 0 {
			return wrap(errors.Join(failed...))
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return wrap(fmt.Errorf("%w: still waiting for %s", ctx.Err(), strings.Join(pending, "; ")))
		case <-ticker.C:
		}
	}
}

// OfportsReady tells, from the cache, whether every interface of want has
// its requested OpenFlow port on bridge now (WaitOfports without waiting).
func (c *Client) OfportsReady(ctx context.Context, bridge string, want map[string]int) (bool, error) {
	pending, failed, err := c.checkOfports(ctx, bridge, slices.Sorted(maps.Keys(want)), want)
	if err != nil {
		return false, fmt.Errorf("ovsdb %s: ofports on bridge %q: %w", c.addr, bridge, err)
	}
	return len(pending) == 0 && len(failed) == 0, nil
}

// checkOfports reads the cache once: pending describes interfaces not
// there yet, failed holds the interfaces OVS gave up on.
func (c *Client) checkOfports(ctx context.Context, bridge string, names []string, want map[string]int) (pending []string, failed []error, err error) {
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Until ovs-vswitchd has caught up with the last transaction, the
	// ofport and error columns may still describe the previous config.
	if s.root != nil && s.root.CurCfg < s.root.NextCfg {
		return []string{fmt.Sprintf("ovs-vswitchd to apply the configuration (cur_cfg %d < next_cfg %d; is it running?)",
			s.root.CurCfg, s.root.NextCfg)}, nil, nil
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
	return pending, failed, nil
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
