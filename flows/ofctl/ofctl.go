package ofctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/flows"
)

// Client talks OpenFlow 1.3 to one bridge's listener.
type Client struct {
	target string // tcp:ADDR:PORT or ssl:ADDR:PORT
	ssl    *SSL
}

// SSL names the PEM files ovs-ofctl uses on an ssl: target: the
// controller's private key and certificate, and the CA certificate that
// signed the switch's certificate (OVS checks the chain, not the name).
type SSL struct {
	PrivateKey, Certificate, CACert string
}

// Option configures a Client.
type Option func(*Client)

// WithSSL gives the client the files for ssl: targets (ignored for tcp:).
func WithSSL(files SSL) Option {
	return func(c *Client) { c.ssl = &files }
}

// New returns a client of the listener at target ("tcp:ADDR:PORT", or
// "ssl:ADDR:PORT" with WithSSL).
func New(target string, opts ...Option) *Client {
	c := &Client{target: target}
	for _, o := range opts {
		o(c)
	}
	return c
}

// sslArgs are the ovs-ofctl options that every command on the target needs:
// the key, certificate and CA certificate for an ssl: target, none for tcp:.
func (c *Client) sslArgs() ([]string, error) {
	if !strings.HasPrefix(c.target, "ssl:") {
		return nil, nil
	}
	if c.ssl == nil || c.ssl.PrivateKey == "" || c.ssl.Certificate == "" || c.ssl.CACert == "" {
		return nil, fmt.Errorf("openflow %s: an ssl: target needs a private key, a certificate and a CA certificate", c.target)
	}
	return []string{"--private-key=" + c.ssl.PrivateKey, "--certificate=" + c.ssl.Certificate, "--ca-cert=" + c.ssl.CACert}, nil
}

// run runs ovs-ofctl on the target: args, then the SSL options if any.
func (c *Client) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	ssl, err := c.sslArgs()
	if err != nil {
		return nil, err
	}
	return run(ctx, stdin, append(args, ssl...)...)
}

// Group is a flow group: the flows of one cookie in one table.
type Group struct {
	Table  int
	Cookie uint64
}

// Plan is what it takes to bring a switch's flows to the desired state.
type Plan struct {
	// Missing and Extra are the flows (in OVS's normalised syntax) that the
	// switch lacks and that it has but should not.
	Missing, Extra []string
	// Groups are the flow groups to replace, sorted.
	Groups []Group
	// Deletes and Adds are the flow mods of the bundle that applies it.
	Deletes []*ovs.MatchFlow
	Adds    []*ovs.Flow
}

// Empty tells whether the switch already holds the desired flows.
func (p *Plan) Empty() bool { return len(p.Groups) == 0 }

// FlowMods is the size of the bundle.
func (p *Plan) FlowMods() int { return len(p.Deletes) + len(p.Adds) }

// ofctlBin is the program run; tests swap in a fake.
var ofctlBin = "ovs-ofctl"

func run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ofctlBin, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "ovs-ofctl: ")
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			return out.Bytes(), &ExitError{Code: ee.ExitCode(), Msg: msg}
		}
		return out.Bytes(), fmt.Errorf("ovs-ofctl %s: %w", args[0], err)
	}
	return out.Bytes(), nil
}

// ExitError is ovs-ofctl's failure, with what it said.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("ovs-ofctl: exit status %d", e.Code)
	}
	return "ovs-ofctl: " + e.Msg
}

// Dump returns the flows in Loom's cookie space, in OVS's syntax, one per
// line. Other flows on the bridge are never read.
func (c *Client) Dump(ctx context.Context) ([]byte, error) {
	cookie := fmt.Sprintf("cookie=%#x/%#x", flows.CookieSpace, flows.CookieMask)
	out, err := c.run(ctx, nil, "-O", "OpenFlow13", "dump-flows", c.target, cookie, "--no-stats")
	if err != nil {
		return nil, fmt.Errorf("dump flows of %s: %w", c.target, err)
	}
	return out, nil
}

var flowCountRE = regexp.MustCompile(`flow_count=(\d+)`)

// FlowCount is how many flows in Loom's cookie space the switch holds: a
// cheap probe (no flow is transferred) for a switch that lost its flows,
// e.g. after ovs-vswitchd restarted.
func (c *Client) FlowCount(ctx context.Context) (int, error) {
	cookie := fmt.Sprintf("cookie=%#x/%#x", flows.CookieSpace, flows.CookieMask)
	out, err := c.run(ctx, nil, "-O", "OpenFlow13", "dump-aggregate", c.target, cookie)
	if err != nil {
		return 0, fmt.Errorf("count flows of %s: %w", c.target, err)
	}
	m := flowCountRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("count flows of %s: no flow_count in %q", c.target, out)
	}
	return strconv.Atoi(string(m[1]))
}

// WaitReady waits until the listener answers, for a bridge just created.
func (c *Client) WaitReady(ctx context.Context) error {
	if _, err := c.sslArgs(); err != nil {
		return err // no use retrying
	}
	for {
		_, err := c.run(ctx, nil, "-O", "OpenFlow13", "--timeout=2", "show", c.target)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("openflow listener %s: %w (last error: %v)", c.target, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var (
	tableRE  = regexp.MustCompile(`(?:^|[ ,])table=(\d+)`)
	cookieRE = regexp.MustCompile(`(?:^|[ ,])cookie=(0x[0-9a-f]+)`)
)

// Diff compares desired with observed flows, both in ovs-ofctl syntax, with
// OVS's own parser (offline: no switch is contacted). It returns the flows
// of desired that observed lacks and those of observed that desired lacks.
func Diff(ctx context.Context, desired, observed []byte) (missing, extra []string, err error) {
	dir, err := os.MkdirTemp("", "loom-ofctl")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	a, b := filepath.Join(dir, "desired"), filepath.Join(dir, "observed")
	if err := os.WriteFile(a, desired, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(b, observed, 0o600); err != nil {
		return nil, nil, err
	}
	out, err := run(ctx, nil, "-O", "OpenFlow13", "diff-flows", a, b)
	// diff-flows exits 2 when the sets differ, with nothing on stderr;
	// anything else (e.g. a flow OVS cannot parse) is an error.
	var ee *ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == 2) {
		return nil, nil, fmt.Errorf("diff flows: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "-"):
			missing = append(missing, line[1:])
		case strings.HasPrefix(line, "+"):
			extra = append(extra, line[1:])
		}
	}
	return missing, extra, nil
}

func groupOf(line string) (Group, error) {
	var g Group
	if m := tableRE.FindStringSubmatch(line); m != nil {
		g.Table, _ = strconv.Atoi(m[1])
	}
	m := cookieRE.FindStringSubmatch(line)
	if m == nil {
		return g, fmt.Errorf("no cookie in flow %q", line)
	}
	c, err := strconv.ParseUint(m[1], 0, 64)
	g.Cookie = c
	return g, err
}

// PlanFlows computes the plan that turns the observed flows (a Dump) into
// the host's desired flows. It contacts no switch.
func PlanFlows(ctx context.Context, hs *flows.HostState, observed []byte) (*Plan, error) {
	desired, err := hs.FlowText()
	if err != nil {
		return nil, err
	}
	missing, extra, err := Diff(ctx, desired, observed)
	if err != nil {
		return nil, err
	}
	p := &Plan{Missing: missing, Extra: extra}
	// A group with a stale flow on the switch is deleted whole and re-added;
	// a group that only lacks flows is added (an add of a flow the switch
	// already holds identically replaces it with itself).
	dirty := map[Group]bool{} // value: the group has stale flows
	for i, l := range append(append([]string(nil), missing...), extra...) {
		g, err := groupOf(l)
		if err != nil {
			return nil, err
		}
		if g.Cookie&flows.CookieMask != flows.CookieSpace {
			return nil, fmt.Errorf("flow outside Loom's cookie space in the comparison: %q", l)
		}
		dirty[g] = dirty[g] || i >= len(missing)
	}
	p.bundle(dirty, hs)
	return p, nil
}

// bundle fills in the plan's groups and its bundle from the groups to
// replace (true: the group has a flow to remove, so it is deleted first)
// and the desired state they take their flows from.
func (p *Plan) bundle(dirty map[Group]bool, hs *flows.HostState) {
	for g := range dirty {
		p.Groups = append(p.Groups, g)
	}
	sort.Slice(p.Groups, func(i, j int) bool {
		a, b := p.Groups[i], p.Groups[j]
		return a.Table < b.Table || a.Table == b.Table && a.Cookie < b.Cookie
	})
	for _, g := range p.Groups {
		if dirty[g] {
			p.Deletes = append(p.Deletes, &ovs.MatchFlow{Table: g.Table, Cookie: g.Cookie, CookieMask: ^uint64(0)})
		}
	}
	for _, f := range hs.Flows {
		if _, ok := dirty[Group{f.Table, f.Cookie}]; ok {
			of := f.Flow
			p.Adds = append(p.Adds, &of)
		}
	}
}

// faultHook, set only in test builds (tag faultinject), may change a plan
// just before it is sent, to make the switch refuse it.
var faultHook func(adds []*ovs.Flow) []*ovs.Flow

// Apply sends the plan to the switch as one OpenFlow bundle: the deletes of
// every dirty group, then its desired flows. OVS applies all or nothing.
func (c *Client) Apply(ctx context.Context, p *Plan) error {
	if p.Empty() {
		return nil
	}
	adds := p.Adds
	if faultHook != nil {
		adds = faultHook(adds)
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
		tx.Delete(p.Deletes...)
		tx.Add(adds...)
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("flow bundle to %s (%d flow mods): %w", c.target, p.FlowMods(), err)
	}
	return nil
}

// Known remembers, for one host, which desired state its switch was last
// brought to, and the last dump of it that OVS's own comparison found equal
// to that state. An identical dump later (a reconcile that finds nothing
// to do, the common case) needs no comparison; a new desired state is
// sent as the difference from the old one. The zero value knows nothing; a
// Known is used by one goroutine at a time.
type Known struct {
	desired *flows.HostState
	lines   []string // the dump's flow lines, sorted; nil: verified by count only
}

func (k *Known) matches(hs *flows.HostState, lines []string) bool {
	return k != nil && k.desired == hs && k.lines != nil && slices.Equal(k.lines, lines)
}

// reached records that the switch was brought to hs, checked by its flow
// count only.
func (k *Known) reached(hs *flows.HostState) {
	if k != nil {
		k.desired, k.lines = hs, nil
	}
}

func (k *Known) remember(hs *flows.HostState, lines []string) {
	if k != nil {
		k.desired, k.lines = hs, lines
	}
}

func (k *Known) forget() {
	if k != nil {
		k.desired, k.lines = nil, nil
	}
}

// flowLines are a dump's flow lines, trimmed and sorted.
func flowLines(dump []byte) []string {
	var out []string
	for _, l := range strings.Split(string(dump), "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "cookie=") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// PlanEmpty is the plan for a switch that holds none of Loom's flows: add
// them all (no comparison needed).
func PlanEmpty(hs *flows.HostState) (*Plan, error) {
	p := &Plan{}
	dirty := map[Group]bool{}
	for _, f := range hs.Flows {
		text, err := f.Text()
		if err != nil {
			return nil, err
		}
		p.Missing = append(p.Missing, text)
		dirty[Group{f.Table, f.Cookie}] = false // nothing to delete
	}
	p.bundle(dirty, hs)
	return p, nil
}

// PlanDelta is the plan from a switch that holds from's flows to to's,
// computed from the two desired states alone: flow groups whose flows
// differ are replaced (deleted first if they lose a flow), new groups are
// added, groups that go away are deleted. Missing and Extra are in the
// compiler's syntax.
func PlanDelta(from, to *flows.HostState) (*Plan, error) {
	texts := func(hs *flows.HostState) (map[Group][]string, error) {
		m := map[Group][]string{}
		for _, f := range hs.Flows {
			t, err := f.Text()
			if err != nil {
				return nil, err
			}
			g := Group{f.Table, f.Cookie}
			m[g] = append(m[g], t)
		}
		for _, l := range m {
			sort.Strings(l)
		}
		return m, nil
	}
	old, err := texts(from)
	if err != nil {
		return nil, err
	}
	next, err := texts(to)
	if err != nil {
		return nil, err
	}
	p := &Plan{}
	dirty := map[Group]bool{} // value: the group loses a flow (delete it first)
	for g, nl := range next {
		ol := old[g]
		if slices.Equal(ol, nl) {
			continue
		}
		have := map[string]bool{}
		for _, t := range ol {
			have[t] = true
		}
		want := map[string]bool{}
		for _, t := range nl {
			want[t] = true
			if !have[t] {
				p.Missing = append(p.Missing, t)
			}
		}
		stale := false
		for _, t := range ol {
			if !want[t] {
				p.Extra = append(p.Extra, t)
				stale = true
			}
		}
		dirty[g] = stale
	}
	for g, ol := range old {
		if _, ok := next[g]; !ok {
			p.Extra = append(p.Extra, ol...)
			dirty[g] = true
		}
	}
	sort.Strings(p.Missing)
	sort.Strings(p.Extra)
	p.bundle(dirty, to)
	return p, nil
}

// Sync brings the switch's flows to the host's desired state and returns
// the plan it applied (empty when the switch was already right). known
// (may be nil) is what the caller remembers of the switch:
//
//   - when the switch was last brought to another desired state, only the
//     difference is sent (PlanDelta), without reading the switch;
//   - otherwise Sync dumps the switch and plans: no comparison when it
//     holds none of Loom's flows or the dump is one known to be right,
//     else OVS's own (diff-flows).
//
// The plan goes as one bundle (OVS applies it whole or not at all); then
// the switch must hold as many of Loom's flows as it should. A difference
// sent to a switch that turns out not to have held the old state (its
// count is off) is followed at once by the full path.
func (c *Client) Sync(ctx context.Context, hs *flows.HostState, known *Known) (*Plan, error) {
	if known != nil && known.desired != nil && known.desired != hs {
		p, err := PlanDelta(known.desired, hs)
		if err != nil {
			return nil, err
		}
		if p.Empty() {
			known.desired = hs // the same flows: the dump, if known, is still right
			return p, nil
		}
		known.forget()
		if err := c.Apply(ctx, p); err != nil {
			return p, err
		}
		if n, err := c.FlowCount(ctx); err == nil && n == len(hs.Flows) {
			known.reached(hs)
			return p, nil
		}
		// The switch did not hold what Loom last left there: compare it.
	}
	observed, err := c.Dump(ctx)
	if err != nil {
		return nil, err
	}
	lines := flowLines(observed)
	if known.matches(hs, lines) {
		return &Plan{}, nil
	}
	var p *Plan
	if len(lines) == 0 {
		p, err = PlanEmpty(hs)
	} else {
		p, err = PlanFlows(ctx, hs, observed)
	}
	if err != nil {
		return p, err
	}
	if p.Empty() {
		known.remember(hs, lines)
		return p, nil
	}
	known.forget()
	if err := c.Apply(ctx, p); err != nil {
		return p, err
	}
	// The bundle was applied whole or not at all; what is left to check is
	// that nothing else changed the table meanwhile. The next reconcile
	// compares the whole table again (and remembers it if it is right).
	n, err := c.FlowCount(ctx)
	if err != nil {
		return p, fmt.Errorf("verify: %w", err)
	}
	if n != len(hs.Flows) {
		return p, fmt.Errorf("verify: the switch holds %d of Loom's flows after the bundle, not %d", n, len(hs.Flows))
	}
	known.reached(hs)
	return p, nil
}
