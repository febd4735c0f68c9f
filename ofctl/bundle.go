package ofctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/flows"
)

// faultHook, set only in test builds (tag faultinject), may change a plan
// just before it is sent, to make the switch refuse it.
var faultHook func(adds []*ovs.Flow) []*ovs.Flow

// Apply sends the plan to the switch as one OpenFlow bundle: the deletes of
// every dirty group, then its desired flows. OVS applies all or nothing.
//
// go-openvswitch runs the bundle (ovs-ofctl --bundle add-flow), fed with
// Loom's own rendering of each flow (flows.Flow.AppendMatch and
// AppendActions), which it only joins into its line.
func (c *Client) Apply(ctx context.Context, p *Plan) error { return c.ApplySpare(ctx, p, nil) }

// ApplySpare is Apply through spare's process if it has one waiting for
// this switch (see Spare), or a new ovs-ofctl otherwise.
func (c *Client) ApplySpare(ctx context.Context, p *Plan, spare *Spare) error {
	if p.Empty() {
		return nil
	}
	// Loom's own connection, when the spare has one for this switch and
	// encode.go writes every flow; ovs-ofctl otherwise.
	if err := spare.sendWire(ctx, c.target, p); !errors.Is(err, errWireUnused) {
		if err != nil {
			return fmt.Errorf("flow bundle to %s (%d flow mods): %w", c.target, p.FlowMods(), err)
		}
		return nil
	}
	adds := ovsFlows(p.Adds)
	if faultHook != nil {
		adds = faultHook(adds)
	}
	deletes := make([]*ovs.MatchFlow, len(p.Deletes))
	for i, g := range p.Deletes {
		deletes[i] = &ovs.MatchFlow{Table: int(g.Table), Cookie: g.Cookie, CookieMask: ^uint64(0)}
	}
	pipe := func(stdin io.Reader, cmd string, args ...string) ([]byte, error) {
		if cmd != "ovs-ofctl" {
			return nil, fmt.Errorf("unexpected command %q", cmd)
		}
		args = noNames(args)
		if sp := spare.take(args); sp != nil {
			// The flows are read in full before the process sends
			// anything: keep them for a new process should this one turn
			// out to have lost its connection.
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, err
			}
			out, err := sp.run(ctx, bytes.NewReader(b))
			if !errors.Is(err, errSpareUnused) {
				return out, err
			}
			stdin = bytes.NewReader(b)
		}
		return run(ctx, stdin, args...)
	}
	client, err := c.ovsClient(pipe)
	if err != nil {
		return err
	}
	err = client.OpenFlow.AddFlowBundle(c.target, func(tx *ovs.FlowTransaction) error {
		tx.Delete(deletes...)
		tx.Add(adds...)
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("flow bundle to %s (%d flow mods): %w", c.target, p.FlowMods(), err)
	}
	return nil
}

// ovsClient is go-openvswitch's client for c's target, running ovs-ofctl
// through pipe.
func (c *Client) ovsClient(pipe func(stdin io.Reader, cmd string, args ...string) ([]byte, error)) (*ovs.Client, error) {
	opts := []ovs.OptionFunc{ovs.Protocols([]string{ovs.ProtocolOpenFlow13}), ovs.Pipe(pipe)}
	if strings.HasPrefix(c.target, "ssl:") {
		if _, err := c.sslArgs(); err != nil {
			return nil, err
		}
		// ovs-ofctl --private-key=... --certificate=... --ca-cert=...
		opts = append(opts, ovs.SetSSLParam(c.ssl.PrivateKey, c.ssl.Certificate, c.ssl.CACert))
	}
	return ovs.New(opts...), nil
}

// bundleArgs are the arguments go-openvswitch gives ovs-ofctl for a
// bundle to c's target.
func (c *Client) bundleArgs() ([]string, error) {
	var got []string
	client, err := c.ovsClient(func(_ io.Reader, _ string, args ...string) ([]byte, error) {
		got = noNames(args)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if err := client.OpenFlow.AddFlowBundle(c.target, func(tx *ovs.FlowTransaction) error { return tx.Commit() }); err != nil {
		return nil, err
	}
	return got, nil
}

// noNames puts --no-names first in ovs-ofctl's arguments. Without it,
// ovs-ofctl opens two more connections to the switch before it reads its
// flows, for the names of the tables (OFPST_TABLE_FEATURES: a dozen
// replies) and of the ports (OFPST_PORT_DESC), and then a third for the
// bundle; Loom's flows name tables and ports by number.
func noNames(args []string) []string {
	return append([]string{"--no-names"}, args...)
}

// piece is a piece of flow text that go-openvswitch writes as it is: a
// match or actions rendered by Loom. (A pointer in the interface: no
// allocation per piece.)
type piece struct{ s string }

func (t *piece) MarshalText() ([]byte, error) { return []byte(t.s), nil }
func (t *piece) GoString() string             { return fmt.Sprintf("ofctl.piece(%q)", t.s) }

// ovsFlows are fs as go-openvswitch flows. go-openvswitch writes a flow
// as "priority=P,MATCH,table=T,idle_timeout=N[,cookie=C],actions=A"; Loom
// gives it the match with the cookie and any hard timeout or importance
// (which it does not know) appended, and the actions, each as one piece
// of Loom's text: what is left to it is joining them into its line
// (BenchmarkBundle measures what that costs).
func ovsFlows(fs []flows.Flow) []*ovs.Flow {
	n := len(fs)
	out := make([]*ovs.Flow, n)
	structs := make([]ovs.Flow, n)
	pieces := make([]piece, 2*n)
	matches := make([]ovs.Match, n)
	actions := make([]ovs.Action, n)
	var b []byte
	for i := range fs {
		f := &fs[i]
		b = f.AppendMatch(b[:0])
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, "cookie=0x"...)
		b = strconv.AppendUint(b, f.Cookie, 16)
		if f.HardTimeout != 0 {
			b = append(b, ",hard_timeout="...)
			b = strconv.AppendUint(b, uint64(f.HardTimeout), 10)
		}
		if f.Importance != 0 {
			b = append(b, ",importance="...)
			b = strconv.AppendUint(b, uint64(f.Importance), 10)
		}
		m := len(b)
		b = f.AppendActions(b)
		both := string(b) // one allocation for both pieces
		pieces[2*i].s, pieces[2*i+1].s = both[:m], both[m:]
		matches[i], actions[i] = &pieces[2*i], &pieces[2*i+1]
		o := &structs[i]
		o.Priority, o.Table, o.IdleTimeout = int(f.Priority), int(f.Table), int(f.IdleTimeout)
		o.Matches, o.Actions = matches[i:i+1:i+1], actions[i:i+1:i+1]
		out[i] = o
	}
	return out
}
