package ofctl

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// monitorRig is a private ovsdb-server and ovs-vswitchd with one bridge,
// watched by a Monitor through the bridge's management socket.
type monitorRig struct {
	t      *testing.T
	s      *ovsdbtest.Server
	target string
	events chan MonitorEvent
	mon    *Monitor
	cancel context.CancelFunc
	done   chan struct{}
}

func newMonitorRig(t *testing.T) *monitorRig {
	needOfctl(t)
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	s.Vsctl(t, "add-br", "lmm-br", "--", "set", "bridge", "lmm-br", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow13")
	r := &monitorRig{t: t, s: s, target: "unix:" + filepath.Join(s.Dir, "lmm-br.mgmt"), events: make(chan MonitorEvent, 100)}
	r.waitListener()
	return r
}

// waitListener waits until the bridge answers OpenFlow.
func (r *monitorRig) waitListener() {
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Second)
	defer cancel()
	if err := New(r.target).WaitReady(ctx); err != nil {
		r.t.Fatal(err)
	}
}

func (r *monitorRig) start() {
	r.mon = NewMonitor(MonitorConfig{
		Client: func() *Client { return New(r.target) },
		Handle: func(e MonitorEvent) { r.events <- e },
	})
	ctx, cancel := context.WithCancel(r.t.Context())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() { defer close(r.done); r.mon.Run(ctx) }()
	r.t.Cleanup(r.stop)
}

func (r *monitorRig) stop() {
	r.cancel()
	<-r.done
}

func (r *monitorRig) ofctl(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
	cmd.Env = r.s.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("ovs-ofctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// next returns the next event, failing after timeout.
func (r *monitorRig) next(timeout time.Duration) MonitorEvent {
	r.t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(timeout):
		r.t.Fatalf("no monitor event within %v", timeout)
		return MonitorEvent{}
	}
}

// changes collects changed events until Sync says every change made so
// far has been reported.
func (r *monitorRig) changes() []FlowChange {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 5*time.Second)
	defer cancel()
	if err := r.mon.Sync(ctx); err != nil {
		r.t.Fatalf("sync: %v", err)
	}
	var out []FlowChange
	for {
		select {
		case e := <-r.events:
			if e.Kind != MonitorChanged {
				r.t.Fatalf("unexpected %s event: %+v", e.Kind, e)
			}
			out = append(out, e.Changes...)
		default:
			return out
		}
	}
}

func (r *monitorRig) vswitchdPid() int {
	b, err := os.ReadFile(filepath.Join(r.s.Dir, "ovs-vswitchd.pid"))
	if err != nil {
		r.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	return pid
}

// killVswitchd kills ovs-vswitchd (-9, as a crash); gone waits until it
// is gone.
func (r *monitorRig) killVswitchd() (gone func()) {
	pid := r.vswitchdPid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	return func() {
		for i := 0; i < 1000; i++ {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if errors.Is(err, os.ErrNotExist) || err == nil && strings.Contains(string(b), ") Z ") {
				break // a zombie until its new parent reaps it
			}
			time.Sleep(5 * time.Millisecond)
		}
		os.Remove(filepath.Join(r.s.Dir, "ovs-vswitchd.pid"))
	}
}

// startVswitchd starts ovs-vswitchd again as ovsdbtest does (same pidfile
// and control socket, so that its cleanup stops the new one).
func (r *monitorRig) startVswitchd() time.Time {
	vswitchd, err := exec.LookPath("ovs-vswitchd")
	if err != nil {
		vswitchd = "/usr/sbin/ovs-vswitchd"
	}
	start := time.Now()
	cmd := exec.Command("unshare", "--net", "--", vswitchd, r.s.Addr,
		"--pidfile="+filepath.Join(r.s.Dir, "ovs-vswitchd.pid"),
		"--unixctl="+filepath.Join(r.s.Dir, "ovs-vswitchd.ctl"),
		"--log-file="+filepath.Join(r.s.Dir, "ovs-vswitchd.log"),
		"-vconsole:off", "--no-chdir", "--detach")
	cmd.Env = r.s.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("start ovs-vswitchd: %v\n%s", err, out)
	}
	return start
}

// The monitor on a real ovs-vswitchd: the flows present when it connects,
// every kind of change in Loom's cookie space and none outside it, a
// bundle's echo as Plan.Echo explains it, Sync as a point of order, and a
// killed and restarted ovs-vswitchd.
func TestMonitorOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	tmp := t.TempDir() // where the monitor puts ovs-ofctl's control socket
	t.Setenv("TMPDIR", tmp)
	const loom1, loom2 = "0x4c4d000000000001", "0x4c4d000000000002"
	r.ofctl("add-flow", r.target, "table=3,priority=50,cookie="+loom1+",dl_dst=02:00:00:00:00:01,actions=output:1")
	r.ofctl("add-flow", r.target, "table=60,priority=10,cookie=0x1234,reg7=0x5,actions=drop")
	r.start()

	e := r.next(10 * time.Second)
	if e.Kind != MonitorConnected || len(e.Flows) != 1 || e.Flows[0].Event != "INITIAL" ||
		!e.Flows[0].Flow.EqualUpdate(mustFlow(t, "table=3,priority=50,cookie="+loom1+",dl_dst=02:00:00:00:00:01,actions=output:1")) {
		t.Fatalf("first event %+v, want connected with the one Loom flow", e)
	}
	if !r.mon.Connected() || r.mon.Target() != r.target {
		t.Errorf("Connected %v Target %q", r.mon.Connected(), r.mon.Target())
	}
	// The control socket was unlinked once connected to: a loomd killed
	// -9 leaves nothing behind.
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR while connected: %v", left)
	}

	// Hand edits of every kind, and one outside Loom's cookie space.
	r.ofctl("add-flow", r.target, "table=3,priority=50,cookie="+loom1+",dl_dst=02:00:00:00:00:02,actions=output:2")
	r.ofctl("mod-flows", r.target, "table=3,dl_dst=02:00:00:00:00:01,actions=output:3")
	r.ofctl("mod-flows", r.target, "table=60,cookie=0x1234/-1,actions=output:4")
	r.ofctl("del-flows", r.target, "table=3,dl_dst=02:00:00:00:00:02")
	got := r.changes()
	want := []FlowChange{
		{Event: "ADDED", Table: 3, Cookie: 0x4c4d000000000001, Flow: *mustFlow(t, "table=3,cookie="+loom1+",dl_dst=02:00:00:00:00:02,actions=output:2")},
		{Event: "MODIFIED", Table: 3, Cookie: 0x4c4d000000000001, Flow: *mustFlow(t, "table=3,cookie="+loom1+",dl_dst=02:00:00:00:00:01,actions=output:3")},
		{Event: "DELETED", Reason: "delete", Table: 3, Cookie: 0x4c4d000000000001, Flow: *mustFlow(t, "table=3,cookie="+loom1+",dl_dst=02:00:00:00:00:02,actions=output:2")},
	}
	if !slices.EqualFunc(got, want, func(g, w FlowChange) bool {
		return g.Event == w.Event && g.Reason == w.Reason && g.Table == w.Table && g.Cookie == w.Cookie && g.Err == nil && g.Flow.EqualUpdate(&w.Flow)
	}) {
		t.Errorf("changes:\n got %+v\nwant %+v", got, want)
	}

	// Loom's own bundle (group loom1 replaced, group loom2 new): its echo is
	// exactly what its plan explains.
	plan := &Plan{
		Groups:  []Group{{3, 0x4c4d000000000001}, {5, 0x4c4d000000000002}},
		Deletes: []Group{{3, 0x4c4d000000000001}},
		Adds: []flows.Flow{
			*mustFlow(t, "table=3,priority=50,cookie=0x4c4d000000000001,dl_dst=02:00:00:00:00:01,actions=output:1"),
			*mustFlow(t, "table=5,priority=1,cookie=0x4c4d000000000002,actions=drop"),
			*mustFlow(t, "table=5,priority=2,cookie=0x4c4d000000000002,actions=drop"),
		},
	}
	if err := New(r.target).Apply(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	got = r.changes()
	if foreign, complete := plan.Echo(got); len(foreign) != 0 || !complete {
		t.Errorf("echo of Loom's bundle: foreign %+v complete %v; changes %+v", foreign, complete, got)
	}
	// The same again: identical flows, reported as ADDED (replaced by
	// themselves), DELETED first where the group is replaced.
	if err := New(r.target).Apply(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	got = r.changes()
	if foreign, complete := plan.Echo(got); len(foreign) != 0 || !complete || len(got) != 4 {
		t.Errorf("echo of the same bundle again: foreign %+v complete %v; changes %+v", foreign, complete, got)
	}
	// A hand edit right after Loom's bundle, before the comparison, is
	// foreign.
	if err := New(r.target).Apply(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	r.ofctl("del-flows", r.target, "table=3,cookie="+loom1+"/-1")
	got = r.changes()
	if foreign, complete := plan.Echo(got); len(foreign) != 1 || foreign[0].Event != "DELETED" || !complete {
		t.Errorf("a hand deletion after the bundle: foreign %+v complete %v; changes %+v", foreign, complete, got)
	}
	if n := r.ofctl("dump-aggregate", r.target, "cookie=0x4c4d000000000000/0xffff000000000000"); !strings.Contains(n, "flow_count=2") {
		t.Fatalf("switch: %s", n)
	}

	// A bundle of 20,000 flows (over a megabyte of updates queued at once):
	// all its changes are reported, then the switch pauses the monitor and
	// resumes it once the queue has drained.
	big := &Plan{Groups: []Group{{7, 0x4c4d000000000007}}}
	for i := range 20000 {
		big.Adds = append(big.Adds, flows.Flow{Table: 7, Priority: 10, Cookie: 0x4c4d000000000007,
			Match: flows.Match{flows.Exact(flows.Reg(1), uint64(i))}, Actions: flows.Actions{flows.Output(uint32(i%5 + 1))}})
	}
	if err := New(r.target).Apply(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	got = nil
	for len(kinds) == 0 || kinds[len(kinds)-1] != MonitorResumed {
		e := r.next(10 * time.Second)
		if e.Kind != MonitorChanged {
			kinds = append(kinds, e.Kind)
		}
		got = append(got, e.Changes...)
	}
	if foreign, complete := big.Echo(got); len(foreign) != 0 || !complete || !slices.Equal(kinds, []string{MonitorPaused, MonitorResumed}) {
		t.Errorf("a bundle of 20,000 flows: %d changes, foreign %d, complete %v, events %v", len(got), len(foreign), complete, kinds)
	}
	if !r.mon.Connected() {
		t.Error("not connected after it resumed")
	}
	// Deleting them is as large (and pauses the monitor too).
	r.ofctl("del-flows", r.target, "table=7")
	paused := false
	for n := 0; n < 20000; {
		e := r.next(10 * time.Second)
		n += len(e.Changes)
		paused = e.Kind == MonitorPaused || paused && e.Kind != MonitorResumed
	}
	if err := r.mon.Sync(t.Context()); err != nil { // the pause, if any, is before the barrier
		t.Fatal(err)
	}
	for len(r.events) > 0 || paused {
		e := r.next(10 * time.Second)
		paused = e.Kind == MonitorPaused || paused && e.Kind != MonitorResumed
	}

	// Restart: ended, then connected with the flows as they are.
	r.mon.Restart()
	if e := r.next(5 * time.Second); e.Kind != MonitorEnded {
		t.Fatalf("after Restart: %+v", e)
	}
	if e := r.next(5 * time.Second); e.Kind != MonitorConnected || len(e.Flows) != 2 {
		t.Fatalf("after Restart: %+v, want connected with 2 flows", e)
	}

	// ovs-vswitchd killed: the monitor ends at once; started again, it
	// connects to the empty switch.
	killed := time.Now()
	gone := r.killVswitchd()
	e = r.next(5 * time.Second)
	if e.Kind != MonitorEnded {
		t.Fatalf("after kill -9 of ovs-vswitchd: %+v", e)
	}
	t.Logf("ovs-vswitchd killed: monitor ended after %v (%v)", time.Since(killed).Round(time.Millisecond), e.Err)
	if err := r.mon.Sync(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Sync while ovs-vswitchd is down: %v", err)
	}
	gone()
	time.Sleep(300 * time.Millisecond) // a few refused attempts
	started := r.startVswitchd()
	e = r.next(10 * time.Second)
	if e.Kind != MonitorConnected || len(e.Flows) != 0 {
		t.Fatalf("after ovs-vswitchd started again: %+v, want connected with no flows", e)
	}
	t.Logf("ovs-vswitchd started again: monitor connected after %v", time.Since(started).Round(time.Millisecond))
	r.ofctl("add-flow", r.target, "table=3,priority=50,cookie="+loom2+",actions=drop")
	if got := r.changes(); len(got) != 1 || got[0].Event != "ADDED" {
		t.Errorf("changes after the restart: %+v", got)
	}

	// Stopped with its context: no process is left.
	mon := r.mon
	r.stop()
	if mon.Connected() {
		t.Error("connected after Run returned")
	}
	if err := mon.Sync(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Sync after Run returned: %v", err)
	}
}

func mustFlow(t *testing.T, s string) *flows.Flow {
	t.Helper()
	f, err := flows.ParseFlow(s)
	if err != nil {
		t.Fatal(err)
	}
	return &f
}
