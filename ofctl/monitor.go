package ofctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loom-sdn/loom/flows"
)

// FlowChange is one change of a flow in Loom's cookie space, as the switch
// reported it to a Monitor.
type FlowChange struct {
	// Event is "ADDED" (a new flow, or one that replaced a flow of the same
	// table, priority and match, itself included), "MODIFIED" (new actions
	// of a flow kept in place, e.g. by mod-flows), "DELETED", or
	// "INITIAL" (a flow the switch held when the monitor connected).
	Event string
	// Reason says why a flow was deleted: "delete" (a flow mod), "idle",
	// "hard", "eviction", "group_delete", "meter_delete".
	Reason string
	Table  uint8
	Cookie uint64
	// Flow is the flow the update shows (flows.ParseUpdate). OVS 3.1 leaves
	// the priority out of flow updates: Flow.Priority is 0, and flows
	// compare with flows.Flow.EqualUpdate.
	Flow flows.Flow
	// Err is why the update's flow could not be parsed (a flow with
	// fields or actions Loom does not know): then Flow holds only its
	// table and cookie, and Text is all there is of it.
	Err error
	// Text is the update as OVS printed it, after the event and reason.
	Text string
}

func (c FlowChange) String() string {
	if c.Err == nil {
		return c.Event + " " + c.Flow.String()
	}
	return c.Event + " " + c.Text
}

// Monitor event kinds.
const (
	// MonitorConnected: the monitor is connected; Flows are the switch's
	// flows in Loom's cookie space at that moment. Every change after it is
	// reported.
	MonitorConnected = "connected"
	// MonitorChanged: Changes are flow changes in Loom's cookie space, in
	// the order the switch made them (changes to other flows are dropped).
	MonitorChanged = "changed"
	// MonitorEnded: the connection ended (Err says how): ovs-vswitchd
	// stopped or restarted, the bridge or its listener went away, or the
	// monitor was restarted. Changes from then until the next
	// MonitorConnected are not seen.
	MonitorEnded = "ended"
	// MonitorPaused: the switch stopped sending changes, because too many
	// were queued on the connection (it does so right after a bundle of a
	// thousand flows or more). When it resumes, it reports the flows added
	// or modified meanwhile (as ADDED), then MonitorResumed; flows deleted
	// meanwhile are never reported.
	MonitorPaused  = "paused"
	MonitorResumed = "resumed"
)

// MonitorEvent is what a Monitor tells its user.
type MonitorEvent struct {
	Kind    string
	Flows   []FlowChange // MonitorConnected: the switch's flows, as INITIAL events
	Changes []FlowChange // MonitorChanged
	Err     error        // MonitorEnded
}

// MonitorConfig sets up a Monitor.
type MonitorConfig struct {
	// Client returns the switch to watch; it is asked again before every
	// connection attempt (so a new address or new TLS files are picked
	// up). nil means there is none yet: the monitor waits and asks again.
	Client func() *Client
	// Handle receives the events, in order, on the monitor's goroutine. It
	// must not block for long, and must not call Sync.
	Handle func(MonitorEvent)
	// Retry is the wait between attempts while the switch refuses the
	// connection (default 20 ms: an attempt is a connect(2), no process).
	// After SlowAfter (default 30 s) without a connection the wait grows,
	// doubling up to MaxRetry (default 2 s), as it does at once for
	// attempts that reach the listener and fail. Kick and Restart retry at
	// once.
	Retry, SlowAfter, MaxRetry time.Duration
	// ConnectTimeout bounds an attempt that has not connected (default
	// 10 s): a host that drops packets would otherwise hold ovs-ofctl in
	// TCP's own retries for minutes, long after it is back.
	ConnectTimeout time.Duration
}

// A Monitor keeps an `ovs-ofctl monitor` process connected to one switch's
// OpenFlow listener and reports its flow changes (OpenFlow 1.3 with the ONF
// flow monitor extension, which OVS implements): the switch's flows when it
// connects, then every change, whoever makes it (a bundle sent by another
// ovs-ofctl, a hand edit, a timeout), and when the connection ends. It
// connects again until its context ends.
//
// Sync gives a point of order in the stream: once it returns, every change
// the switch made before Sync was called has been handed to Handle. It is
// an OpenFlow barrier sent on the monitor's own connection (through
// ovs-ofctl's control socket, no process started), and so also tells that
// the connection is alive.
type Monitor struct {
	cfg  MonitorConfig
	kick chan struct{}

	syncMu sync.Mutex // one barrier at a time (ovs-ofctl allows no more)

	mu        sync.Mutex
	cond      *sync.Cond
	proc      *monitorProc // the running process; nil between attempts
	gen       int          // attempts so far
	target    string       // the target of the current process
	barriers  int          // barrier replies handled by the current process
	connected bool
	paused    bool
}

type monitorProc struct {
	gen  int
	cmd  *exec.Cmd
	ctl  *unixctlConn // to ovs-ofctl's control socket; nil until it is up
	sent int          // barriers requested and acknowledged
}

// NewMonitor returns a monitor; Run starts it.
func NewMonitor(cfg MonitorConfig) *Monitor {
	if cfg.Retry <= 0 {
		cfg.Retry = 20 * time.Millisecond
	}
	if cfg.SlowAfter <= 0 {
		cfg.SlowAfter = 30 * time.Second
	}
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = 2 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.Handle == nil {
		cfg.Handle = func(MonitorEvent) {}
	}
	m := &Monitor{cfg: cfg, kick: make(chan struct{}, 1)}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// Kick makes a monitor that waits to connect again try at once (e.g. on a
// sign that the switch is back).
func (m *Monitor) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Restart ends the current connection (MonitorEnded follows) and connects
// again at once: the switch's flows are listed anew, and a new Client
// (address, TLS files) is used.
func (m *Monitor) Restart() {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill() //nolint:errcheck // it may have ended already
	}
	m.Kick()
}

// Connected tells whether the monitor is connected and reports every
// change: it has reported MonitorConnected and not MonitorEnded since, and
// is not paused.
func (m *Monitor) Connected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connected && !m.paused
}

// Target is the address the monitor watches (or last tried), "" before the
// first attempt.
func (m *Monitor) Target() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.target
}

// ErrNotConnected is Sync's error when the monitor has no connection.
var ErrNotConnected = errors.New("flow monitor not connected")

// Sync returns once every change the switch made before the call has been
// handed to Handle. It fails with ErrNotConnected when the monitor is not
// connected or the connection ends first, and with ctx's error when ctx
// expires first. A barrier that gets no answer in time (a dead or stalled
// connection) restarts the connection.
func (m *Monitor) Sync(ctx context.Context) error {
	m.mu.Lock()
	p := m.proc
	ok := m.connected // a paused monitor still answers barriers
	m.mu.Unlock()
	if !ok || p == nil {
		return ErrNotConnected
	}
	want, err := m.barrier(ctx, p)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		switch {
		case m.proc != p:
			return ErrNotConnected
		case m.barriers >= want:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("flow monitor barrier: %w", ctx.Err())
		}
		m.cond.Wait()
	}
}

// barrier sends a barrier on p's connection and returns the count of
// barrier replies that includes its own. Barriers go one at a time: the
// replies of all earlier ones are already in the pipe. When the control
// socket fails, a barrier may be on its way without being counted: the
// process is restarted, so that no later count is off.
func (m *Monitor) barrier(ctx context.Context, p *monitorProc) (int, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	m.mu.Lock()
	ctl := p.ctl
	m.mu.Unlock()
	if ctl == nil {
		return 0, ErrNotConnected
	}
	if err := ctl.call(ctx, "ofctl/barrier"); err != nil {
		p.cmd.Process.Kill() //nolint:errcheck // it may have ended already
		return 0, fmt.Errorf("flow monitor barrier: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p.sent++
	return p.sent, nil
}

// Run connects and reports until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	lastUp := time.Now() // the last connection, or the start
	wait := time.Duration(0)
	failed := 0 // attempts in a row that got through to the listener but did not connect
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-m.kick:
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		var c *Client
		if m.cfg.Client != nil {
			c = m.cfg.Client()
		}
		if c == nil {
			wait = m.cfg.Retry
			continue
		}
		// Knock first: a refused connection costs a system call here, where
		// ovs-ofctl would cost a process. A listener that accepts but where
		// ovs-ofctl then fails (TLS files, OpenFlow version) is tried less
		// and less often.
		if err := knock(ctx, c.target, m.cfg.ConnectTimeout); err != nil {
			if time.Since(lastUp) < m.cfg.SlowAfter {
				wait = m.cfg.Retry
			} else {
				wait = min(max(wait*2, m.cfg.Retry), m.cfg.MaxRetry)
			}
			continue
		}
		if m.attempt(ctx, c) {
			lastUp, wait, failed = time.Now(), 0, 0 // a restarted switch is likely back soon: at once
			continue
		}
		failed++
		wait = min(m.cfg.Retry<<min(failed, 16), m.cfg.MaxRetry)
	}
}

// knock tells whether target ("tcp:IP:PORT", "ssl:IP:PORT", "unix:PATH")
// accepts a connection, which it closes at once. Other kinds of target are
// left to ovs-ofctl.
func knock(ctx context.Context, target string, timeout time.Duration) error {
	network, addr := "", ""
	switch kind, rest, _ := strings.Cut(target, ":"); kind {
	case "tcp", "ssl":
		network, addr = "tcp", rest
	case "unix":
		network, addr = "unix", rest
	default:
		return nil
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// attempt runs one ovs-ofctl monitor process until it ends, and tells
// whether it connected.
func (m *Monitor) attempt(ctx context.Context, c *Client) bool {
	ssl, err := c.sslArgs()
	if err != nil {
		return false // a configuration error; the reconciles report it
	}
	// The control socket lives in a folder of its own, removed as soon as
	// the monitor holds a connection to it: nothing is left behind, even
	// if loomd is killed.
	dir, err := os.MkdirTemp("", "loom-monitor")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	ctl := filepath.Join(dir, "ctl")
	args := append([]string{"-O", "OpenFlow13", "--no-names", "--unixctl=" + ctl, "monitor", c.target, "watch:"}, ssl...)
	cmd := exec.CommandContext(ctx, ofctlBin, args...)
	dieWithParent(cmd)
	r, w, err := os.Pipe()
	if err != nil {
		return false
	}
	// One pipe for both: ovs-ofctl prints the flows it finds on stdout, and
	// everything it receives afterwards on stderr.
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return false
	}
	m.mu.Lock()
	m.gen++
	p := &monitorProc{gen: m.gen, cmd: cmd}
	m.proc, m.target, m.barriers, m.connected, m.paused = p, c.target, 0, false, false
	m.mu.Unlock()

	// The control socket appears once the flows have been listed; a barrier
	// through it then marks the end of the listing in the stream.
	done := make(chan struct{})
	first := make(chan struct{})
	go func() {
		defer close(first)
		for {
			if _, err := os.Stat(ctl); err == nil {
				conn, err := dialUnixctl(ctx, ctl)
				os.RemoveAll(dir)
				if err != nil {
					cmd.Process.Kill() //nolint:errcheck // no barrier without it
					return
				}
				m.mu.Lock()
				p.ctl = conn
				m.mu.Unlock()
				m.barrier(ctx, p) //nolint:errcheck // no reply: the process is restarted
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	slow := time.AfterFunc(m.cfg.ConnectTimeout, func() {
		m.mu.Lock()
		up := m.connected
		m.mu.Unlock()
		if !up {
			cmd.Process.Kill() //nolint:errcheck // it may have ended already
		}
	})
	connected := m.read(r)
	slow.Stop()
	close(done)
	r.Close()
	err = cmd.Wait()
	<-first
	m.mu.Lock()
	m.proc, m.connected = nil, false
	m.cond.Broadcast()
	m.mu.Unlock()
	m.syncMu.Lock() // no barrier uses it any more
	if p.ctl != nil {
		p.ctl.conn.Close()
	}
	m.syncMu.Unlock()
	if connected {
		m.cfg.Handle(MonitorEvent{Kind: MonitorEnded, Err: fmt.Errorf("ovs-ofctl monitor %s ended: %v", c.target, err)})
	}
	return connected
}

// read parses the process's output until it ends; it tells whether the
// monitor got connected.
func (m *Monitor) read(r io.Reader) (connected bool) {
	br := bufio.NewReaderSize(r, 256<<10)
	var (
		initial []FlowChange
		listing bool // inside the flow listing (a reply to the request, xid != 0)
		pending []FlowChange
	)
	setPaused := func(v bool) {
		m.mu.Lock()
		m.paused = v
		m.mu.Unlock()
	}
	flush := func() {
		if len(pending) > 0 && connected {
			m.cfg.Handle(MonitorEvent{Kind: MonitorChanged, Changes: pending})
			pending = nil
		}
	}
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			l := parseMonitorLine(line)
			switch l.kind {
			case lineHeader:
				listing = l.xid != 0
			case lineEvent:
				if l.change.Cookie&flows.CookieMask != flows.CookieSpace {
					break
				}
				if listing {
					l.change.Event = "INITIAL"
					initial = append(initial, l.change)
				} else {
					pending = append(pending, l.change)
				}
			case lineBarrier:
				listing = false
				if !connected {
					connected = true
					m.mu.Lock()
					m.connected = true
					m.mu.Unlock()
					m.cfg.Handle(MonitorEvent{Kind: MonitorConnected, Flows: initial})
					initial = nil
				}
				flush()
				m.mu.Lock()
				m.barriers++
				m.cond.Broadcast()
				m.mu.Unlock()
			case linePaused:
				flush()
				setPaused(true)
				if connected {
					m.cfg.Handle(MonitorEvent{Kind: MonitorPaused})
				}
			case lineResumed:
				flush() // the flows added or modified while paused
				setPaused(false)
				if connected {
					m.cfg.Handle(MonitorEvent{Kind: MonitorResumed})
				}
			}
		}
		if err != nil {
			flush()
			return connected
		}
		if br.Buffered() == 0 {
			flush() // all that has arrived so far
		}
	}
}

type lineKind int

const (
	lineOther   lineKind = iota
	lineHeader           // a flow monitor reply: events follow
	lineEvent            // " event=..."
	lineBarrier          // a barrier reply
	linePaused           // the switch paused the monitor
	lineResumed          // and resumed it
)

type monitorLine struct {
	kind   lineKind
	xid    uint64
	change FlowChange
}

// parseMonitorLine reads one line of `ovs-ofctl monitor` output. Lines
// it does not know (echo requests, ovs-ofctl's own log messages) are
// lineOther.
func parseMonitorLine(line string) monitorLine {
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, " event="):
		c, ok := parseChange(strings.TrimSpace(line))
		if !ok {
			return monitorLine{}
		}
		return monitorLine{kind: lineEvent, change: c}
	case strings.Contains(line, "_FLOW_MONITOR reply"):
		l := monitorLine{kind: lineHeader}
		if i := strings.Index(line, "(xid="); i >= 0 {
			s := line[i+len("(xid="):]
			if j := strings.IndexByte(s, ')'); j >= 0 {
				l.xid, _ = strconv.ParseUint(s[:j], 0, 32)
			}
		}
		return l
	case strings.HasPrefix(line, "OFPT_BARRIER_REPLY"):
		return monitorLine{kind: lineBarrier}
	case strings.Contains(line, "FLOW_MONITOR_PAUSED"):
		return monitorLine{kind: linePaused}
	case strings.Contains(line, "FLOW_MONITOR_RESUMED"):
		return monitorLine{kind: lineResumed}
	}
	return monitorLine{}
}

// parseChange reads "event=KIND [reason=R] table=T [idle_timeout=N]
// [hard_timeout=N] cookie=C [MATCH] [actions=A]".
func parseChange(s string) (FlowChange, bool) {
	var c FlowChange
	ev, rest, _ := strings.Cut(s, " ")
	c.Event = strings.TrimPrefix(ev, "event=")
	switch c.Event {
	case "ADDED", "MODIFIED", "INITIAL":
	case "DELETED":
		r, after, _ := strings.Cut(rest, " ")
		if !strings.HasPrefix(r, "reason=") {
			return c, false
		}
		c.Reason, rest = strings.TrimPrefix(r, "reason="), after
	default:
		return c, false // ABBREV: only for the monitoring connection's own flow mods
	}
	c.Text = strings.TrimSpace(rest)
	if !strings.HasPrefix(c.Text, "table=") {
		return c, false
	}
	table, cookie, ok := flows.GroupOf(c.Text)
	if !ok {
		return c, false
	}
	c.Table, c.Cookie = table, cookie
	c.Flow, c.Err = flows.ParseUpdate(c.Text)
	if c.Err != nil {
		c.Flow = flows.Flow{Table: table, Cookie: cookie}
	}
	return c, true
}

// unixctlConn is a connection to an OVS control socket (JSON-RPC), used
// for one call at a time.
type unixctlConn struct {
	conn net.Conn
	enc  *json.Encoder
	dec  *json.Decoder
	id   int
}

func dialUnixctl(ctx context.Context, path string) (*unixctlConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	return &unixctlConn{conn: conn, enc: json.NewEncoder(conn), dec: json.NewDecoder(conn)}, nil
}

// call sends a command without arguments and waits for its answer. After
// an error the connection is unusable (an answer may still be on its way).
func (u *unixctlConn) call(ctx context.Context, method string) error {
	stop := context.AfterFunc(ctx, func() { u.conn.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck
	defer stop()
	u.id++
	if err := u.enc.Encode(map[string]any{"id": u.id, "method": method, "params": []string{}}); err != nil {
		return err
	}
	var resp struct {
		ID    int `json:"id"`
		Error any `json:"error"`
	}
	if err := u.dec.Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if resp.ID != u.id {
		return fmt.Errorf("%s: answer to request %d, not %d", method, resp.ID, u.id)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %v", method, resp.Error)
	}
	return nil
}

// Echo splits changes seen while p was applied into those its bundle
// explains and the others (foreign: made by someone else), and tells
// whether the bundle's echo is complete. A bundle deletes its dirty groups
// by (table, cookie) and then adds the groups' flows, so its echo is, per
// group, DELETED events (reason delete, any number, only in groups it
// deletes) followed by one ADDED event for each flow it adds there, that
// flow as the update shows it (equal but for the priority, which updates
// leave out). Anything else is foreign: a MODIFIED, a change in another
// group, an ADDED of a flow the bundle does not add (or twice), a DELETED
// after the group's adds began (a deletion of a flow the bundle just
// added). A deletion that came before the bundle in a group it deletes
// whole is taken as explained: the bundle left that group as desired
// either way.
func (p *Plan) Echo(changes []FlowChange) (foreign []FlowChange, complete bool) {
	type group struct {
		deletes      bool
		adds         []int // indexes in p.Adds
		seen         []bool
		addsReported bool
	}
	exp := map[Group]*group{}
	get := func(g Group) *group {
		e := exp[g]
		if e == nil {
			e = &group{}
			exp[g] = e
		}
		return e
	}
	for _, d := range p.Deletes {
		get(d).deletes = true
	}
	for i := range p.Adds {
		e := get(groupOf(&p.Adds[i]))
		e.adds = append(e.adds, i)
	}
	// added finds an unseen add of the group that c shows.
	added := func(e *group, c *FlowChange) bool {
		if c.Err != nil {
			return false
		}
		if e.seen == nil {
			e.seen = make([]bool, len(e.adds))
		}
		for k, i := range e.adds {
			if !e.seen[k] && p.Adds[i].EqualUpdate(&c.Flow) {
				e.seen[k] = true
				return true
			}
		}
		return false
	}
	for _, c := range changes {
		e := exp[Group{c.Table, c.Cookie}]
		switch {
		case e == nil:
			foreign = append(foreign, c)
		case c.Event == "DELETED" && c.Reason == "delete" && e.deletes && !e.addsReported:
		case c.Event == "ADDED" && added(e, &c):
			e.addsReported = true
		default:
			foreign = append(foreign, c)
		}
	}
	complete = true
	for _, e := range exp {
		if len(e.adds) == 0 {
			continue
		}
		if e.seen == nil {
			complete = false
			continue
		}
		for _, ok := range e.seen {
			if !ok {
				complete = false
			}
		}
	}
	return foreign, complete
}
