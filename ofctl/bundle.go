package ofctl

import (
	"context"
	"fmt"
	"io"
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
func (c *Client) Apply(ctx context.Context, p *Plan) error {
	if p.Empty() {
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
		return run(ctx, stdin, args...)
	}
	opts := []ovs.OptionFunc{ovs.Protocols([]string{ovs.ProtocolOpenFlow13}), ovs.Pipe(pipe)}
	if strings.HasPrefix(c.target, "ssl:") {
		if _, err := c.sslArgs(); err != nil {
			return err
		}
		// ovs-ofctl --private-key=... --certificate=... --ca-cert=...
		opts = append(opts, ovs.SetSSLParam(c.ssl.PrivateKey, c.ssl.Certificate, c.ssl.CACert))
	}
	client := ovs.New(opts...)
	err := client.OpenFlow.AddFlowBundle(c.target, func(tx *ovs.FlowTransaction) error {
		tx.Delete(deletes...)
		tx.Add(adds...)
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("flow bundle to %s (%d flow mods): %w", c.target, p.FlowMods(), err)
	}
	return nil
}

// text is a piece of flow text that go-openvswitch writes as it is: a
// match or actions rendered by Loom.
type text string

func (t text) MarshalText() ([]byte, error) { return []byte(t), nil }
func (t text) GoString() string             { return fmt.Sprintf("ofctl.text(%q)", string(t)) }

// ovsFlows are fs as go-openvswitch flows. go-openvswitch writes a flow
// as "priority=P,MATCH,table=T,idle_timeout=N,cookie=C,actions=A", the
// syntax Loom renders, so the match and the actions are Loom's text. A
// hard timeout or importance, which it does not know, goes with the
// match.
func ovsFlows(fs []flows.Flow) []*ovs.Flow {
	out := make([]*ovs.Flow, len(fs))
	structs := make([]ovs.Flow, len(fs))
	// One buffer for all texts, cut into strings a flow at a time.
	var b []byte
	for i := range fs {
		f := &fs[i]
		b = f.AppendMatch(b[:0])
		if f.HardTimeout != 0 {
			b = fmt.Appendf(b, ",hard_timeout=%d", f.HardTimeout)
		}
		if f.Importance != 0 {
			b = fmt.Appendf(b, ",importance=%d", f.Importance)
		}
		match := strings.TrimPrefix(string(b), ",")
		b = f.AppendActions(b[:0])
		o := &structs[i]
		o.Priority, o.Table, o.IdleTimeout, o.Cookie = int(f.Priority), int(f.Table), int(f.IdleTimeout), f.Cookie
		if match != "" {
			o.Matches = []ovs.Match{text(match)}
		}
		o.Actions = []ovs.Action{text(b)}
		out[i] = o
	}
	return out
}
