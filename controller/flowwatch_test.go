package controller

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// A worker's flow watch on a real ovs-vswitchd (bridge lmw-br, watched
// through its management socket): Loom's own bundles wake nothing; a hand
// edit outside a reconcile, or one made right after Loom's bundle within
// the reconcile, wakes the worker; a restarted ovs-vswitchd makes it
// reconcile at once.
func TestFlowWatch(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ovs-ofctl not installed (make deps)")
	}
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	s.Vsctl(t, "add-br", "lmw-br", "--", "set", "bridge", "lmw-br", "datapath_type=netdev", "fail_mode=secure", "protocols=OpenFlow13")
	target := "unix:" + filepath.Join(s.Dir, "lmw-br.mgmt")
	sw := ofctl.New(target)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := sw.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	hand := func(args ...string) {
		t.Helper()
		cmd := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
		cmd.Env = s.Env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ovs-ofctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	hs := &flows.HostState{Host: "h1", OpenFlow: target}
	w := &worker{r: NewReconciler(zap.NewNop(), Config{}, nil), host: "h1", log: zap.NewNop(), desired: hs}
	stop := w.startFlowWatch(ctx)
	defer stop()
	f := w.fw
	waitConnected := func() {
		t.Helper()
		for !f.mon.Connected() {
			if ctx.Err() != nil {
				t.Fatal("the flow monitor did not connect")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitConnected()
	// want says whether a wake-up came on c (after a barrier, so that
	// every change made so far has been handled).
	want := func(what string, c <-chan struct{}, woken bool) {
		t.Helper()
		if err := f.mon.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c:
			if !woken {
				t.Errorf("%s: the worker was woken", what)
			}
		default:
			if woken {
				t.Errorf("%s: the worker was not woken", what)
			}
		}
	}

	// A reconcile that sends a bundle (group A replaced, group B added to).
	const a, b = 0x4c4d000000000001, 0x4c4d000000000002
	plan := &ofctl.Plan{
		Groups:  []ofctl.Group{{Table: 3, Cookie: a}, {Table: 4, Cookie: b}},
		Deletes: []ofctl.Group{{Table: 3, Cookie: a}},
		Adds: []flows.Flow{
			{Table: 3, Priority: 5, Cookie: a, Match: flows.Match{flows.Exact(flows.Reg(1), 1)}},
			{Table: 3, Priority: 5, Cookie: a, Match: flows.Match{flows.Exact(flows.Reg(1), 2)}},
			{Table: 4, Priority: 5, Cookie: b},
		},
	}
	reconcile := func(during func()) {
		t.Helper()
		f.begin(hs)
		err := sw.Apply(ctx, plan)
		if during != nil {
			during()
		}
		f.end(ctx, &HostResult{Flows: plan, Err: err})
		if err != nil {
			t.Fatal(err)
		}
	}
	reconcile(nil)
	want("Loom's own bundle", f.changedC(), false)
	reconcile(nil)
	want("Loom's own bundle again (flows replaced by themselves)", f.changedC(), false)

	hand("del-flows", target, "table=3,reg1=2")
	want("a hand deletion", f.changedC(), true)
	hand("mod-flows", target, "table=4,actions=resubmit(,5)")
	want("a hand modification", f.changedC(), true)
	hand("add-flow", target, "table=9,priority=1,cookie=0x1234,actions=drop")
	want("a flow outside Loom's cookie space", f.changedC(), false)

	reconcile(func() { hand("del-flows", target, "table=3,reg1=1") })
	want("a hand deletion right after Loom's bundle", f.changedC(), true)
	reconcile(func() { hand("add-flow", target, "table=4,priority=5,cookie=0x4c4d000000000002,actions=drop") })
	want("a hand add (of a flow the bundle just added) right after Loom's bundle", f.changedC(), true)
	reconcile(func() { hand("mod-flows", target, "table=3,reg1=1,actions=resubmit(,5)") })
	want("a hand modification right after Loom's bundle", f.changedC(), true)
	// A reconcile that sent nothing: whatever changed meanwhile is foreign.
	f.begin(hs)
	hand("del-flows", target, "table=4")
	f.end(ctx, &HostResult{Flows: &ofctl.Plan{}})
	want("a hand deletion during a reconcile that sent nothing", f.changedC(), true)

	// A bundle of 20,000 flows: right after its echo the switch pauses the
	// monitor, and deletions made until it resumes would go unreported:
	// the worker is told to compare.
	bigPlan := &ofctl.Plan{Groups: []ofctl.Group{{Table: 7, Cookie: a}}}
	for i := range 20000 {
		bigPlan.Adds = append(bigPlan.Adds, flows.Flow{Table: 7, Priority: 5, Cookie: a,
			Match: flows.Match{flows.Exact(flows.Reg(1), uint64(i))}})
	}
	f.begin(hs)
	err := sw.Apply(ctx, bigPlan)
	f.end(ctx, &HostResult{Flows: bigPlan, Err: err})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.changedC():
	case <-time.After(10 * time.Second):
		t.Error("a bundle that paused the monitor: the worker was not told to compare")
	}

	// A reconcile that failed (its bundle's check found the count off)
	// while someone else changed the switch: again at once, whatever the
	// backoff. One that failed on its own: left to its retry.
	f.begin(hs)
	if err := sw.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}
	hand("add-flow", target, "table=4,priority=9,cookie=0x4c4d000000000002,actions=drop")
	f.end(ctx, &HostResult{Flows: plan, Err: errors.New("verify: the switch holds 1 flow too many")})
	want("a failed reconcile with a hand edit in it", f.urgentC(), true)
	f.begin(hs)
	f.end(ctx, &HostResult{Flows: plan, Err: errors.New("flow bundle refused")})
	want("a failed reconcile without", f.urgentC(), false)
	want("a failed reconcile without", f.changedC(), false)

	// The probe: a barrier answers for the count.
	if !f.alive(ctx) {
		t.Error("alive: false on a connected monitor")
	}

	// ovs-vswitchd killed and started again: the worker is told to
	// reconcile at once.
	pidfile := filepath.Join(s.Dir, "ovs-vswitchd.pid")
	b2, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b2)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for f.mon.Connected() {
		time.Sleep(2 * time.Millisecond)
	}
	if f.alive(ctx) {
		t.Error("alive: true with ovs-vswitchd killed")
	}
	for {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	os.Remove(pidfile)
	vswitchd, err := exec.LookPath("ovs-vswitchd")
	if err != nil {
		vswitchd = "/usr/sbin/ovs-vswitchd"
	}
	cmd := exec.Command("unshare", "--net", "--", vswitchd, s.Addr, "--pidfile="+pidfile,
		"--unixctl="+filepath.Join(s.Dir, "ovs-vswitchd.ctl"), "--log-file="+filepath.Join(s.Dir, "ovs-vswitchd.log"),
		"-vconsole:off", "--no-chdir", "--detach")
	cmd.Env = s.Env()
	started := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start ovs-vswitchd: %v\n%s", err, out)
	}
	select {
	case <-f.urgentC():
		t.Logf("ovs-vswitchd started again: the worker was told to reconcile %v later", time.Since(started).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatal("no reconnect wake-up after ovs-vswitchd started again")
	}
}
