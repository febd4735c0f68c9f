//go:build bench

// Benchmarks on real Open vSwitch (make bench; never part of make test):
//
//   - TestBenchPush: Loom's flow push (ofctl.Client.Sync: dump, compare,
//     bundle, verify) against the switch's own floor (one `ovs-ofctl
//     --bundle add-flows` of the same flows) on one lab host, for 10,000
//     and 50,000 flows from empty, a no-op reconcile and a one-port change.
//   - TestBenchConverge: loomd on a 3-host lab, S switches × P ports: from
//     its start to every host in sync and to the first ping across hosts,
//     then from adding one port to that port pinging; loomd's CPU and
//     peak memory, and its idle CPU with the largest topology applied.
//   - TestBenchRepair: loomd with its defaults on a 2-host lab, flow
//     monitor on and off: a Loom flow deleted, added and modified by hand,
//     each from the edit to the flow right again, and ovs-vswitchd killed
//     and restarted, from its start to Loom's flows back.
//
// Every figure is printed as a line "BENCH {json}" that e2e/benchtable
// collates into the table of docs/performance.md. They need root and OVS
// like every e2e test; with LOOM_BENCH_STRICT=1 (make bench) a missing
// prerequisite fails instead of skipping. Labs use the prefixes lmb1-,
// lmb2- and lmb3- and are torn down at the end of each test or run.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// benchResult is one figure of the table.
type benchResult struct {
	Section string  `json:"section"`
	Figure  string  `json:"figure"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Floor   float64 `json:"floor,omitempty"` // the switch's own limit, same unit
	Note    string  `json:"note,omitempty"`
}

func benchReport(t *testing.T, r benchResult) {
	b, _ := json.Marshal(r)
	fmt.Printf("BENCH %s\n", b)
	if r.Floor > 0 {
		t.Logf("%s: %s: %.3f %s (floor %.3f %s, %.2fx) %s", r.Section, r.Figure, r.Value, r.Unit, r.Floor, r.Unit, r.Value/r.Floor, r.Note)
	} else {
		t.Logf("%s: %s: %.3f %s %s", r.Section, r.Figure, r.Value, r.Unit, r.Note)
	}
}

// requireBench is requireLab that fails, not skips, under make bench.
func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv("LOOM_BENCH_STRICT") == "1" {
		if os.Geteuid() != 0 {
			t.Fatal("make bench needs root (network namespaces, OVS daemons)")
		}
		for _, tool := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ip", "ethtool", "ping"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("make bench needs %s (make deps installs it)", tool)
			}
		}
	}
	requireLab(t)
}

func benchEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// benchBinaries builds loomctl and loomd as released (no test build tags)
// into a folder removed when the test ends.
func benchBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/loomctl", "./cmd/loomd")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// sysSetns is setns(2)'s number, which package syscall does not export.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268}

// inNetns runs fn on a thread that has entered network namespace ns, so
// that the programs fn starts (ovs-ofctl) run there, as they would under
// loomd in that namespace. The thread goes back to its own namespace
// afterwards (lab.sh down kills what it finds in the lab's namespaces, and
// the thread may be the process's main one); if it cannot, it stays
// locked and ends with fn's goroutine.
func inNetns(ns string, fn func() error) error {
	trap, ok := sysSetns[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: system call number unknown on %s", runtime.GOARCH)
	}
	setns := func(f *os.File) error {
		if _, _, e := syscall.RawSyscall(trap, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			return fmt.Errorf("setns %s: %v", f.Name(), e)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := setns(f); err != nil {
			errc <- err
			return
		}
		err = fn()
		if setns(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// cpuTimes is the first line of /proc/stat: the machine's CPU time by
// kind (user, nice, system, idle, iowait, irq, softirq, steal, ...).
func cpuTimes() []float64 {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	var v []float64
	for _, f := range strings.Fields(line)[1:] {
		x, _ := strconv.ParseFloat(f, 64)
		v = append(v, x)
	}
	return v
}

// machineUse says how busy the machine was between two cpuTimes, and how
// much CPU its hypervisor took away (steal).
func machineUse(a, b []float64) string {
	var total, idle float64
	for i := range b {
		total += b[i] - a[i]
		if i == 3 || i == 4 {
			idle += b[i] - a[i]
		}
	}
	if total == 0 || len(b) < 8 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f%% busy, %.1f%% stolen by the hypervisor", (total-idle)/total*100, (b[7]-a[7])/total*100)
}

// cpuBusy is the share of the machine's CPU time that was not idle over
// d, from /proc/stat.
func cpuBusy(d time.Duration) float64 {
	read := func() (busy, total float64) {
		b, _ := os.ReadFile("/proc/stat")
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			v, _ := strconv.ParseFloat(f[i], 64)
			total += v
			if i != 4 && i != 5 { // idle, iowait
				busy += v
			}
		}
		return busy, total
	}
	b0, t0 := read()
	time.Sleep(d)
	b1, t1 := read()
	if t1 == t0 {
		return 0
	}
	return (b1 - b0) / (t1 - t0)
}

// quiesce waits (up to 60 s) until the machine is nearly idle: the kernel
// tears a lab's namespaces and veths down in the background after
// lab.sh down returns, which would slow the next run. It logs what it
// found, which also shows other work on the machine.
func quiesce(t *testing.T) {
	start := time.Now()
	busy := cpuBusy(500 * time.Millisecond)
	for busy > 0.10 && time.Since(start) < 60*time.Second {
		busy = cpuBusy(500 * time.Millisecond)
	}
	t.Logf("machine %.0f%% busy after waiting %v for it to settle", busy*100, time.Since(start).Round(100*time.Millisecond))
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianF(xs []float64) float64 {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x * 1e9)
	}
	return median(ds).Seconds()
}

func secs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.3f", d.Seconds()))
	}
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------
// 2. Push: Loom against the floor on one host.

// benchBridge is a one-host topology without ports: loomctl apply makes
// Loom's integration bridge (fail_mode=secure, OpenFlow 1.3, a passive
// listener on 198.18.0.11:6653) on the lab's h1.
const benchBridge = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11, datapathType: netdev}
`

const benchTarget = "tcp:198.18.0.11:6653"

var benchCookies = fmt.Sprintf("cookie=%#x/%#x", flows.CookieSpace, flows.CookieMask)

// benchOnePort is the port the one-port change adds to host h0 of a
// generated topology (switch s7 spans every host).
const benchOnePort = `  - name: pnew
    switch: s7
    host: h0
    mac: "02:ff:00:00:00:01"
    ips: [10.191.255.1]
    interface: vifnew
`

// cpuUse is CPU time used: by this process (Loom's Go code), by its
// finished children (ovs-ofctl) and by the host's ovs-vswitchd.
type cpuUse struct{ self, children, vswitchd time.Duration }

func (a cpuUse) sub(b cpuUse) cpuUse {
	return cpuUse{a.self - b.self, a.children - b.children, a.vswitchd - b.vswitchd}
}

type pusher struct {
	t        *testing.T
	ctx      context.Context
	c        *ofctl.Client
	vswitchd int // pid of h1's ovs-vswitchd
}

func (p *pusher) cpu() cpuUse {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(r *syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	st, _ := procCPU(p.vswitchd)
	return cpuUse{tv(&self), tv(&kids), st.self}
}

func (p *pusher) ofctl(stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(p.ctx, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("ovs-ofctl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out, nil
}

// clear deletes every flow in Loom's cookie space.
func (p *pusher) clear() error {
	_, err := p.ofctl(nil, "del-flows", benchTarget, benchCookies)
	return err
}

// equal checks that the switch holds exactly hs's flows.
func (p *pusher) equal(hs *flows.HostState) error {
	obs, err := p.c.Dump(p.ctx)
	if err != nil {
		return err
	}
	plan, err := ofctl.PlanFlows(hs.Flows(), obs)
	if err != nil {
		return err
	}
	if !plan.Empty() {
		return fmt.Errorf("switch differs from %s's flows: %d missing, %d extra", hs.Host, len(plan.Missing), len(plan.Extra))
	}
	return nil
}

// floorBundle is the floor: one ovs-ofctl --bundle add-flows of a file.
func (p *pusher) floorBundle(file string) (time.Duration, error) {
	start := time.Now()
	_, err := p.ofctl(nil, "--bundle", "add-flows", benchTarget, file)
	return time.Since(start), err
}

// sync is Loom's path, as loomd takes it: Client.Sync, with what loomd's
// worker remembers of the switch (known; nil: nothing).
func (p *pusher) sync(hs *flows.HostState, known *ofctl.Known) (time.Duration, *ofctl.Plan, error) {
	start := time.Now()
	plan, err := p.c.Sync(p.ctx, hs.Flows(), known)
	return time.Since(start), plan, err
}

func TestBenchPush(t *testing.T) {
	requireBench(t)
	bin := benchBinaries(t)
	quiesce(t)
	use0 := cpuTimes()
	t.Cleanup(func() { t.Logf("machine during the push benchmarks: %s", machineUse(use0, cpuTimes())) })
	prefix := os.Getenv("LOOM_BENCH_PUSH_PREFIX") // another lab's prefix, to run beside one
	if prefix == "" {
		prefix = "lmb1-"
	}
	l := NewLab(t, prefix, 1)
	dir := t.TempDir()
	mini := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(mini, []byte(benchBridge), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", l.Prefix+"ctl", filepath.Join(bin, "loomctl"), "apply", "--direct", "-f", mini).CombinedOutput(); err != nil {
		t.Fatalf("loomctl apply: %v\n%s", err, out)
	}
	labDir := os.Getenv("LOOM_LAB_DIR")
	if labDir == "" {
		labDir = "/run/loom-lab/" + l.Prefix
	}
	pidb, err := os.ReadFile(filepath.Join(labDir, "h1", "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	vpid, _ := strconv.Atoi(strings.TrimSpace(string(pidb)))
	runs := benchEnvInt(t, "LOOM_BENCH_RUNS", 5)
	p := &pusher{t: t, ctx: context.Background(), c: ofctl.New(benchTarget), vswitchd: vpid}
	err = inNetns(l.Prefix+"ctl", func() error { return p.run(dir, runs) })
	if err != nil {
		t.Fatal(err)
	}
}

// compileH0 compiles host h0 of a generated topology of 20 hosts × ports,
// 20 ports a switch: every switch spans all 20 hosts, and h0 holds about
// 125 flows per port.
func compileH0(ports int, extra string) (*flows.HostState, error) {
	src := append(topotest.Generate(20, ports, 20), extra...)
	topo, err := topology.LoadBytes(map[string][]byte{"generated.yaml": src})
	if err != nil {
		return nil, err
	}
	return flows.CompileHost(topo, "h0")
}

func (p *pusher) run(dir string, runs int) error {
	t := p.t
	for _, sz := range []struct {
		name  string
		ports int
	}{{"10k", 80}, {"50k", 400}} {
		hs, err := compileH0(sz.ports, "")
		if err != nil {
			return err
		}
		n := hs.NumFlows()
		text := hs.FlowText()
		file := filepath.Join(dir, "flows-"+sz.name)
		if err := os.WriteFile(file, text, 0o644); err != nil {
			return err
		}
		shape := fmt.Sprintf("host h0 of topotest.Generate(20, %d, 20): %d ports", sz.ports, sz.ports)

		// Warm up (not timed): one of each.
		if err := p.clear(); err != nil {
			return err
		}
		if _, _, err := p.sync(hs, nil); err != nil {
			return err
		}
		if err := p.clear(); err != nil {
			return err
		}
		if _, err := p.floorBundle(file); err != nil {
			return err
		}

		// From empty, alternating Loom and the floor.
		var loom, floor []time.Duration
		var loomCPU, floorCPU []cpuUse
		for i := 0; i < runs; i++ {
			if err := p.clear(); err != nil {
				return err
			}
			c0 := p.cpu()
			d, plan, err := p.sync(hs, nil)
			if err != nil {
				return err
			}
			loomCPU = append(loomCPU, p.cpu().sub(c0))
			if plan.FlowMods() != n {
				return fmt.Errorf("sync from empty sent %d flow mods, want %d", plan.FlowMods(), n)
			}
			loom = append(loom, d)
			if err := p.clear(); err != nil {
				return err
			}
			c0 = p.cpu()
			d, err = p.floorBundle(file)
			if err != nil {
				return err
			}
			floorCPU = append(floorCPU, p.cpu().sub(c0))
			floor = append(floor, d)
			if err := p.equal(hs); err != nil {
				return fmt.Errorf("after the floor's bundle: %w", err)
			}
		}
		t.Logf("push %s from empty: loom %s; floor %s", sz.name, secs(loom), secs(floor))
		benchReport(t, benchResult{Section: "push", Figure: fmt.Sprintf("install %d flows from empty", n),
			Value: median(loom).Seconds(), Unit: "s", Floor: median(floor).Seconds(),
			Note: fmt.Sprintf("Sync vs ovs-ofctl --bundle add-flows; median of %d; %s", runs, shape)})
		if sz.name == "50k" {
			p.reportCPU(loomCPU, floorCPU, n)
		}

		// No-op reconcile: the switch already holds the flows.
		loom, floor = nil, nil
		for i := 0; i < runs; i++ {
			d, plan, err := p.sync(hs, nil)
			if err != nil {
				return err
			}
			if !plan.Empty() {
				return fmt.Errorf("no-op sync planned %d flow mods", plan.FlowMods())
			}
			loom = append(loom, d)
			start := time.Now()
			out, err := p.ofctl(nil, "dump-flows", benchTarget, benchCookies, "--no-stats")
			if err != nil {
				return err
			}
			floor = append(floor, time.Since(start))
			if got := bytes.Count(out, []byte("\n")); got != n {
				return fmt.Errorf("dump-flows: %d flows, want %d", got, n)
			}
		}
		t.Logf("no-op %s: loom %s; floor %s", sz.name, secs(loom), secs(floor))
		benchReport(t, benchResult{Section: "push", Figure: fmt.Sprintf("no-op reconcile, %d flows, full comparison", n),
			Value: median(loom).Seconds(), Unit: "s", Floor: median(floor).Seconds(),
			Note: fmt.Sprintf("Sync (dump, parsed as it arrives, compared by value) vs ovs-ofctl dump-flows; median of %d", runs)})

		// The same when the worker remembers the dump last found right
		// (loomd's steady state: audits and probes of a host in sync).
		var known ofctl.Known
		if _, _, err := p.sync(hs, &known); err != nil { // compares once, remembers
			return err
		}
		loom, floor = nil, nil
		for i := 0; i < runs; i++ {
			d, plan, err := p.sync(hs, &known)
			if err != nil {
				return err
			}
			if !plan.Empty() {
				return fmt.Errorf("no-op sync planned %d flow mods", plan.FlowMods())
			}
			loom = append(loom, d)
			start := time.Now()
			if _, err := p.ofctl(nil, "dump-flows", benchTarget, benchCookies, "--no-stats"); err != nil {
				return err
			}
			floor = append(floor, time.Since(start))
		}
		t.Logf("no-op %s, known dump: loom %s; floor %s", sz.name, secs(loom), secs(floor))
		benchReport(t, benchResult{Section: "push", Figure: fmt.Sprintf("no-op reconcile, %d flows, dump known right", n),
			Value: median(loom).Seconds(), Unit: "s", Floor: median(floor).Seconds(),
			Note: fmt.Sprintf("Sync with what loomd's worker remembers (ofctl.Known: the same path, a dump compared by value) vs ovs-ofctl dump-flows; median of %d", runs)})

		if sz.name == "50k" {
			if err := p.phases(hs); err != nil {
				return err
			}
			if err := p.onePort(dir, sz.ports, hs, runs); err != nil {
				return err
			}
		}
	}
	return p.clear()
}

// reportCPU splits the CPU time of a push from empty between Loom's Go
// code, its ovs-ofctl children and ovs-vswitchd, for Loom and the floor.
func (p *pusher) reportCPU(loom, floor []cpuUse, n int) {
	med := func(us []cpuUse, f func(cpuUse) time.Duration) float64 {
		var ds []time.Duration
		for _, u := range us {
			ds = append(ds, f(u))
		}
		return median(ds).Seconds()
	}
	for _, part := range []struct {
		name  string
		f     func(cpuUse) time.Duration
		floor bool // compare with the floor (the floor's Go process only starts ovs-ofctl)
	}{
		{"CPU of Loom's Go code", func(u cpuUse) time.Duration { return u.self }, false},
		{"CPU of ovs-ofctl children", func(u cpuUse) time.Duration { return u.children }, true},
		{"CPU of ovs-vswitchd", func(u cpuUse) time.Duration { return u.vswitchd }, true},
	} {
		r := benchResult{Section: "push", Figure: fmt.Sprintf("install %d flows: %s", n, part.name),
			Value: med(loom, part.f), Unit: "s", Note: "median; getrusage, /proc/PID/stat"}
		if part.floor {
			r.Floor = med(floor, part.f)
		}
		benchReport(p.t, r)
	}
}

// phases times the steps of Sync one by one (the same calls in the same
// order), from empty, to show where a push's time goes.
func (p *pusher) phases(hs *flows.HostState) error {
	const runs = 3
	names := []string{"dump (empty)", "plan (all flows, no comparison)", "bundle (render + ovs-ofctl --bundle)",
		"verify: flow count (dump-aggregate)", "for reference: parse a dump of every flow and compare it by value, in Go"}
	full := hs.FlowText() // as a dump of a switch holding them all
	got := make([][]time.Duration, len(names))
	var render []time.Duration
	for i := 0; i < runs; i++ {
		if err := p.clear(); err != nil {
			return err
		}
		var marks []time.Time
		mark := func() { marks = append(marks, time.Now()) }
		mark()
		if _, err := p.c.Dump(p.ctx); err != nil {
			return err
		}
		mark()
		plan := ofctl.PlanEmpty(hs.Flows())
		mark()
		if err := p.c.Apply(p.ctx, plan); err != nil {
			return err
		}
		mark()
		n, err := p.c.FlowCount(p.ctx)
		if err != nil {
			return err
		}
		if n != hs.NumFlows() {
			return fmt.Errorf("phases: %d flows after the bundle, want %d", n, hs.NumFlows())
		}
		mark()
		obs, err := ofctl.ParseDump(full)
		if err != nil {
			return err
		}
		if pl, err := ofctl.PlanFlows(hs.Flows(), obs); err != nil || !pl.Empty() {
			return fmt.Errorf("phases: the desired flows differ from themselves: %v", err)
		}
		mark()
		for j := range names {
			got[j] = append(got[j], marks[j+1].Sub(marks[j]))
		}
		// Loom's rendering of every flow (the bundle's text comes from it).
		start := time.Now()
		flows.AppendFlows(nil, plan.Adds)
		render = append(render, time.Since(start))
	}
	for j, name := range names {
		benchReport(p.t, benchResult{Section: "push phases", Figure: fmt.Sprintf("install %d flows: %s", hs.NumFlows(), name),
			Value: median(got[j]).Seconds(), Unit: "s", Note: fmt.Sprintf("median of %d", runs)})
	}
	benchReport(p.t, benchResult{Section: "push phases", Figure: fmt.Sprintf("install %d flows: of the bundle, Go rendering", hs.NumFlows()),
		Value: median(render).Seconds(), Unit: "s", Note: "flows.AppendFlows of every add (go-openvswitch then joins each into its line)"})
	return nil
}

// onePort adds one port to a host that holds about 50,000 flows. Loom:
// Sync to the new desired state. Floor: one bundle of just the flows that
// differ (adds, and delete_strict for flows that go away).
func (p *pusher) onePort(dir string, ports int, before *flows.HostState, runs int) error {
	after, err := compileH0(ports, benchOnePort)
	if err != nil {
		return err
	}
	// The floor's bundle: the flows that differ, by value. A flow that
	// goes away and whose identity (table, priority, match) no new flow
	// takes is deleted strictly; every new or changed flow is added.
	onlyAfter, onlyBefore := flows.Diff(after.Flows(), before.Flows())
	kept := map[flows.Identity]bool{}
	for i := range after.Flows() {
		kept[after.Flows()[i].Identity()] = true
	}
	var changes bytes.Buffer
	mods := 0
	for _, i := range onlyBefore {
		f := &before.Flows()[i]
		if !kept[f.Identity()] {
			m := f.AppendMatch([]byte{','})
			if len(m) == 1 {
				m = nil
			}
			fmt.Fprintf(&changes, "delete_strict table=%d,priority=%d%s\n", f.Table, f.Priority, m)
			mods++
		}
	}
	for _, i := range onlyAfter {
		fmt.Fprintf(&changes, "add %s\n", &after.Flows()[i])
		mods++
	}
	file := filepath.Join(dir, "one-port")
	if err := os.WriteFile(file, changes.Bytes(), 0o644); err != nil {
		return err
	}
	reset := func() error {
		_, plan, err := p.sync(before, nil)
		if err == nil && plan.Empty() {
			err = fmt.Errorf("reset: nothing to undo")
		}
		return err
	}
	if err := p.clear(); err != nil {
		return err
	}
	if _, _, err := p.sync(before, nil); err != nil {
		return err
	}
	var loom, delta, floor []time.Duration
	loomMods, deltaMods := 0, 0
	for i := 0; i < runs; i++ {
		d, plan, err := p.sync(after, nil)
		if err != nil {
			return err
		}
		loom, loomMods = append(loom, d), plan.FlowMods()
		if err := reset(); err != nil {
			return err
		}
		// As loomd's worker: it knows the switch holds before's flows.
		var known ofctl.Known
		if _, _, err := p.sync(before, &known); err != nil {
			return err
		}
		d, plan, err = p.sync(after, &known)
		if err != nil {
			return err
		}
		delta, deltaMods = append(delta, d), plan.FlowMods()
		if err := p.equal(after); err != nil {
			return fmt.Errorf("after the difference: %w", err)
		}
		if err := reset(); err != nil {
			return err
		}
		d, err = p.floorBundle(file)
		if err != nil {
			return err
		}
		floor = append(floor, d)
		if err := p.equal(after); err != nil {
			return fmt.Errorf("after the floor's one-port bundle: %w", err)
		}
		if err := reset(); err != nil {
			return err
		}
	}
	p.t.Logf("one port on %d flows: loom %s; difference %s; floor %s", len(before.Flows()), secs(loom), secs(delta), secs(floor))
	benchReport(p.t, benchResult{Section: "push", Figure: fmt.Sprintf("one port added to a host of %d flows, switch compared", len(before.Flows())),
		Value: median(loom).Seconds(), Unit: "s", Floor: median(floor).Seconds(),
		Note: fmt.Sprintf("Sync with nothing known (dump + comparison by value; %d flow mods) vs a bundle of the %d changed flows; median of %d", loomMods, mods, runs)})
	benchReport(p.t, benchResult{Section: "push", Figure: fmt.Sprintf("one port added to a host of %d flows, as loomd", len(before.Flows())),
		Value: median(delta).Seconds(), Unit: "s", Floor: median(floor).Seconds(),
		Note: fmt.Sprintf("Sync knowing the switch holds the previous state (PlanDelta + count; %d flow mods) vs the same floor; median of %d", deltaMods, runs)})
	return nil
}

// ---------------------------------------------------------------------------
// 3, 4. Convergence of loomd on a 3-host lab, and its resources.

// procStat is what /proc says of a process: its CPU time (utime+stime),
// that of its waited-for children (cutime+cstime), and its peak RSS.
// liveChildrenCPU is the CPU time of pid's children that still run
// (loomd's flow monitors: one ovs-ofctl per host, for as long as it runs),
// which cutime and cstime count only once they have ended.
func liveChildrenCPU(pid int) time.Duration {
	var sum time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 15 || f[1] != strconv.Itoa(pid) { // field 4: ppid
			continue
		}
		u, _ := strconv.ParseInt(f[14-3], 10, 64)
		k, _ := strconv.ParseInt(f[15-3], 10, 64)
		sum += time.Duration(u+k) * 10 * time.Millisecond
	}
	return sum
}

type procStat struct {
	self, children time.Duration
	hwm            int64 // bytes
}

func procCPU(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command (which may hold spaces), from field 3.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	tick := func(i int) time.Duration { // USER_HZ is 100 on Linux
		v, _ := strconv.ParseInt(f[i-3], 10, 64)
		return time.Duration(v) * 10 * time.Millisecond
	}
	st.self = tick(14) + tick(15)
	st.children = tick(16) + tick(17) + liveChildrenCPU(pid)
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				st.hwm = kb * 1024
			}
		}
	}
	return st, nil
}

// benchPort is port j of switch s of the bench topology (topotest.LabPort).
var benchPort = topotest.LabPort

// The workloads whose pings are measured: ports 0 and 1 of switch s0 (on
// h1 and h2), and the port added later (port P of s0, on h3).
var benchWorkloads = map[[2]int]string{{0, 0}: "wa", {0, 1}: "wb"}

// convergeTopology is 3 lab hosts and S overlay switches of P ports each,
// plus the new port when withNew (topotest.Lab). Ports with a workload use
// its interface (lm-wa, ...); the others a veth lm-xS-J.
func convergeTopology(S, P int, withNew bool) []byte {
	return topotest.Lab(S, P, withNew, func(s, j int) string {
		if w, ok := benchWorkloads[[2]int{s, j}]; ok {
			return "lm-" + w
		}
		return fmt.Sprintf("lm-x%d-%d", s, j)
	})
}

// writeAtomic replaces a file at once, so loomd never reads half of it.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// benchPing is a ping every 20 ms from a workload; it records when the
// first reply arrived (ping -D prints the time of each reply).
type benchPing struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	first time.Time
	done  chan struct{}
}

func startBenchPing(t *testing.T, l *Lab, ns, ip string) *benchPing {
	t.Helper()
	p := &benchPing{done: make(chan struct{})}
	p.cmd = exec.Command("ip", "netns", "exec", l.Prefix+ns, "ping", "-D", "-n", "-i", "0.02", ip)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if !strings.Contains(line, "bytes from") || !strings.HasPrefix(line, "[") {
				continue
			}
			ts, _, _ := strings.Cut(line[1:], "]")
			f, err := strconv.ParseFloat(ts, 64)
			if err != nil {
				continue
			}
			p.mu.Lock()
			if p.first.IsZero() {
				p.first = time.Unix(0, int64(f*1e9))
				close(p.done)
			}
			p.mu.Unlock()
		}
		io.Copy(io.Discard, out)
	}()
	return p
}

// wait returns the time of the first reply, or zero after timeout.
func (p *benchPing) wait(timeout time.Duration) time.Time {
	select {
	case <-p.done:
	case <-time.After(timeout):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// convergeRun is what one run measured.
type convergeRun struct {
	ifaces, workload             time.Duration // lab setup: all veths, one workload
	inSync, ping, portAdd, added time.Duration
	reload                       time.Duration // topology file written to loaded
	cpu, children                time.Duration // loomd, to the end of the run
	hwm                          int64
	flows                        int // of the largest host
	idle, idleChildren           time.Duration
	idleMeasured                 bool
}

func TestBenchConverge(t *testing.T) {
	requireBench(t)
	bin := benchBinaries(t)
	type size struct{ S, P int }
	var sizes []size
	spec := os.Getenv("LOOM_BENCH_SIZES")
	if spec == "" {
		spec = "1x4,10x20,50x40"
	}
	for _, s := range strings.Split(spec, ",") {
		var z size
		if _, err := fmt.Sscanf(s, "%dx%d", &z.S, &z.P); err != nil || z.S < 1 || z.P < 2 || z.S > 250 || z.P > 250 {
			t.Fatalf("LOOM_BENCH_SIZES: bad size %q (want SxP, e.g. 10x20)", s)
		}
		sizes = append(sizes, z)
	}
	runs := benchEnvInt(t, "LOOM_BENCH_CONVERGE_RUNS", 5)
	idle := 60 * time.Second
	if v := os.Getenv("LOOM_BENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOOM_BENCH_IDLE=%q: %v", v, err)
		}
		idle = d
	}
	for si, z := range sizes {
		var res []convergeRun
		for r := 0; r < runs; r++ {
			measureIdle := time.Duration(0)
			if si == len(sizes)-1 && r == runs-1 {
				measureIdle = idle
			}
			ok := t.Run(fmt.Sprintf("%dx%d/run%d", z.S, z.P, r+1), func(t *testing.T) {
				res = append(res, convergeOnce(t, bin, z.S, z.P, measureIdle))
			})
			if !ok {
				return
			}
		}
		collect := func(f func(convergeRun) time.Duration) (time.Duration, string) {
			var ds []time.Duration
			for _, r := range res {
				ds = append(ds, f(r))
			}
			return median(ds), secs(ds)
		}
		shape := fmt.Sprintf("%d switches × %d ports (%d ports), 3 hosts", z.S, z.P, z.S*z.P)
		flowsNote := fmt.Sprintf("%s; %d flows on the largest host", shape, res[0].flows)
		for _, f := range []struct {
			section, figure string
			get             func(convergeRun) time.Duration
			note            string
		}{
			{"converge", "loomd start to every host in sync", func(r convergeRun) time.Duration { return r.inSync }, flowsNote},
			{"converge", "loomd start to first ping across hosts", func(r convergeRun) time.Duration { return r.ping }, shape},
			{"converge", "one port added to it pinging", func(r convergeRun) time.Duration { return r.portAdd }, shape + "; from the topology file's change"},
			{"converge", "one port added to every host in sync", func(r convergeRun) time.Duration { return r.added }, shape},
			{"converge", "of which: file change to topology loaded", func(r convergeRun) time.Duration { return r.reload }, shape + "; 100 ms reload poll, parse, compile"},
			{"resources", "loomd CPU (own), start to end of run", func(r convergeRun) time.Duration { return r.cpu }, shape + "; utime+stime"},
			{"resources", "loomd's ovs-ofctl children CPU, same span", func(r convergeRun) time.Duration { return r.children }, shape + "; cutime+cstime"},
			{"lab setup", "veths for the ports without a workload", func(r convergeRun) time.Duration { return r.ifaces }, shape + "; ip -batch (not Loom)"},
			{"lab setup", "one lab.sh workload add", func(r convergeRun) time.Duration { return r.workload }, "namespace + veth (not Loom)"},
		} {
			m, all := collect(f.get)
			benchReport(t, benchResult{Section: f.section, Figure: fmt.Sprintf("%dx%d: %s", z.S, z.P, f.figure),
				Value: m.Seconds(), Unit: "s", Note: fmt.Sprintf("%s; median of %d: %s", f.note, len(res), all)})
		}
		var hwm []float64
		for _, r := range res {
			hwm = append(hwm, float64(r.hwm)/(1<<20))
		}
		benchReport(t, benchResult{Section: "resources", Figure: fmt.Sprintf("%dx%d: loomd peak RSS (VmHWM)", z.S, z.P),
			Value: medianF(hwm), Unit: "MiB", Note: shape})
		for _, r := range res {
			if r.idleMeasured {
				span := idle.Seconds()
				benchReport(t, benchResult{Section: "resources", Figure: fmt.Sprintf("%dx%d: loomd idle CPU (own) over %v", z.S, z.P, idle),
					Value: r.idle.Seconds() / span * 100, Unit: "% of a core", Note: fmt.Sprintf("%.2f s; default probe 5 s and audit 60 s", r.idle.Seconds())})
				benchReport(t, benchResult{Section: "resources", Figure: fmt.Sprintf("%dx%d: loomd's ovs-ofctl children, idle, over %v", z.S, z.P, idle),
					Value: r.idleChildren.Seconds() / span * 100, Unit: "% of a core", Note: fmt.Sprintf("%.2f s", r.idleChildren.Seconds())})
			}
		}
	}
}

// convergeOnce runs loomd from its start on a fresh 3-host lab with S×P
// ports and measures; with idle > 0 it then measures loomd at rest.
func convergeOnce(t *testing.T, bin string, S, P int, idle time.Duration) convergeRun {
	var r convergeRun
	quiesce(t)
	use0 := cpuTimes()
	t.Cleanup(func() { t.Logf("machine during the run: %s", machineUse(use0, cpuTimes())) })
	l := NewLab(t, "lmb2-", 3)
	dir := t.TempDir()

	// Ports without a workload get a veth in their host's namespace (the
	// other end up, in no namespace of its own): Loom programs them as any
	// port; only lab.sh workload add is skipped, which takes a namespace,
	// ethtool and several ip calls per port.
	start := time.Now()
	benchVeths(t, l, S, P)
	r.ifaces = time.Since(start)

	start = time.Now()
	_, _, _, ipA := benchPort(0, 0)
	for sj, w := range benchWorkloads {
		_, host, mac, ip := benchPort(sj[0], sj[1])
		l.Workload(host, w, mac, ip+"/24")
	}
	_, _, macN, ipN := benchPort(0, P)
	l.Workload("h3", "wn", macN, ipN+"/24")
	r.workload = time.Since(start) / 3
	_, _, _, ipB := benchPort(0, 1)
	// The workloads retry ARP every 20 ms instead of every second, so
	// that the first ping is seen within about 20 ms of working.
	for _, ns := range []string{"h1-wa", "h2-wb", "h3-wn"} {
		l.MustExec(ns, "sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=20")
	}

	topo := filepath.Join(dir, "topology.yaml")
	if err := writeAtomic(topo, convergeTopology(S, P, false)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
	status := filepath.Join(dir, "status.json")
	ping := startBenchPing(t, l, "h1-wa", ipB)

	var log syncBuffer
	cmd := exec.Command("ip", "netns", "exec", l.Prefix+"ctl", filepath.Join(bin, "loomd"),
		"--config", filepath.Join(dir, "none.yaml"), "--topology", topo, "--state-dir", filepath.Join(dir, "state"), "--status-file", status,
		"--reload-interval", "100ms", "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = &log, &log
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("loomd did not stop on SIGINT within 20s")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("loomd log:\n%s", log.String())
		}
	})
	hosts := func() map[string]api.HostStatus {
		m := map[string]api.HostStatus{}
		if b, err := os.ReadFile(status); err == nil {
			json.Unmarshal(b, &m)
		}
		return m
	}
	// synced returns when every host was last in sync (the end of its
	// last reconcile), once all are and each host's last reconcile started
	// after since.
	synced := func(since time.Time, timeout time.Duration) time.Time {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			m := hosts()
			var last time.Time
			ok := len(m) == 3
			for _, h := range m {
				end := h.LastReconcile.Add(h.LastDuration)
				if h.State != api.StateInSync || h.LastReconcile.Before(since) {
					ok = false
				}
				if end.After(last) {
					last = end
				}
			}
			if ok {
				return last
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("hosts not in sync within %v: %+v", timeout, hosts())
		return time.Time{}
	}
	// loaded returns when loomd logged its n-th "topology in force" (after
	// the new desired state went to every worker).
	loaded := func(n int, timeout time.Duration) time.Time {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			var ts []time.Time
			for _, line := range strings.Split(log.String(), "\n") {
				var e struct {
					Msg string  `json:"msg"`
					TS  float64 `json:"ts"`
				}
				if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "topology in force" {
					ts = append(ts, time.Unix(0, int64(e.TS*1e9)))
				}
			}
			if len(ts) >= n {
				return ts[n-1]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("loomd did not load topology #%d within %v", n, timeout)
		return time.Time{}
	}
	r.inSync = synced(t0, 10*time.Minute).Sub(t0)
	first := ping.wait(60 * time.Second)
	if first.IsZero() {
		t.Fatalf("wa -> wb: no ping within 60 s of every host in sync")
	}
	r.ping = first.Sub(t0)
	for _, h := range hosts() {
		r.flows = max(r.flows, h.Flows)
	}
	t.Logf("%dx%d: in sync after %v, first ping after %v (veths %v, workload %v)", S, P,
		r.inSync.Round(time.Millisecond), r.ping.Round(time.Millisecond), r.ifaces.Round(time.Millisecond), r.workload.Round(time.Millisecond))

	// One port more: its workload exists; the topology file changes.
	pingN := startBenchPing(t, l, "h3-wn", ipA)
	time.Sleep(300 * time.Millisecond)
	t1 := time.Now()
	if err := writeAtomic(topo, convergeTopology(S, P, true)); err != nil {
		t.Fatal(err)
	}
	first = pingN.wait(60 * time.Second)
	if first.IsZero() {
		t.Fatalf("wn -> wa: no ping within 60 s of the port's addition")
	}
	r.portAdd = first.Sub(t1)
	lt := loaded(2, time.Minute)
	r.reload = lt.Sub(t1)
	// loomd hands the new state to the workers just before it logs; a
	// worker may start on it a moment before the log line's time. (A
	// reconcile that started before the hand-over is followed by one
	// more, since the hand-over wakes the worker.)
	r.added = synced(lt.Add(-50*time.Millisecond), 2*time.Minute).Sub(t1)
	st, err := procCPU(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	r.cpu, r.children, r.hwm = st.self, st.children, st.hwm
	t.Logf("%dx%d: port added: loaded after %v, pings after %v, all in sync after %v; loomd CPU %v (+%v children), VmHWM %d MiB", S, P,
		r.reload.Round(time.Millisecond), r.portAdd.Round(time.Millisecond), r.added.Round(time.Millisecond), r.cpu, r.children, r.hwm>>20)

	if idle > 0 {
		time.Sleep(5 * time.Second) // let the last wake-ups pass
		a, _ := procCPU(cmd.Process.Pid)
		time.Sleep(idle)
		b, err := procCPU(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		r.idle, r.idleChildren, r.idleMeasured = b.self-a.self, b.children-a.children, true
		t.Logf("%dx%d: idle over %v: loomd %v, children %v", S, P, idle, r.idle, r.idleChildren)
	}
	stop()
	// loomd's reconciles that changed something or failed (info and
	// warn), for the record; LOOM_BENCH_LOG=1 shows the whole log.
	var lines []string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, `"msg":"reconciled"`) && strings.Contains(line, `"level":"info"`) ||
			strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
			lines = append(lines, line)
		}
	}
	if os.Getenv("LOOM_BENCH_LOG") == "1" {
		t.Logf("loomd log:\n%s", log.String())
	} else {
		t.Logf("loomd's reconciles that changed something, and failures:\n%s", strings.Join(lines, "\n"))
	}
	return r
}

// ---------------------------------------------------------------------------
// 4. Repairs: hand edits and a restarted ovs-vswitchd, loomd with its
// default settings, with the flow monitor (the default) and without.

// repairObserver is a flow monitor of a switch of the bench's own (an
// ovs-ofctl monitor on the bridge's management socket): every change
// arrives with the time it was read, so an edit and its repair are timed
// on one clock, with the same delay on both ends.
type repairObserver struct {
	mon    *ofctl.Monitor
	events chan observed
	stop   func()
}

type observed struct {
	at time.Time
	e  ofctl.MonitorEvent
}

func newRepairObserver(t *testing.T, target string) *repairObserver {
	o := &repairObserver{events: make(chan observed, 1<<16)}
	o.mon = ofctl.NewMonitor(ofctl.MonitorConfig{
		Client: func() *ofctl.Client { return ofctl.New(target) },
		Handle: func(e ofctl.MonitorEvent) {
			select {
			case o.events <- observed{time.Now(), e}:
			default:
				t.Errorf("observer of %s: events dropped", target)
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.mon.Run(ctx) }()
	o.stop = func() { cancel(); <-done }
	t.Cleanup(o.stop)
	return o
}

// change waits for a change that pred accepts and returns it with the
// time it arrived.
func (o *repairObserver) change(timeout time.Duration, pred func(ofctl.FlowChange) bool) (ofctl.FlowChange, time.Time, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-o.events:
			for _, c := range ev.e.Changes {
				if pred(c) {
					return c, ev.at, true
				}
			}
		case <-deadline:
			return ofctl.FlowChange{}, time.Time{}, false
		}
	}
}

// drain forgets what arrived so far.
func (o *repairObserver) drain() {
	for {
		select {
		case <-o.events:
		default:
			return
		}
	}
}

var flowCountRE = regexp.MustCompile(`flow_count=(\d+)`)

// startTime is when process pid started (within about 10 ms: the kernel
// counts in clock ticks since boot, and the boot time is taken from
// /proc/uptime, not from btime, which is rounded to the second).
func startTime(pid int) (time.Time, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ticks, err := strconv.ParseInt(f[22-3], 10, 64) // field 22: starttime, in clock ticks after boot
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, err
	}
	secs, err := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	if err != nil {
		return time.Time{}, err
	}
	boot := now.Add(-time.Duration(secs * float64(time.Second)))
	return boot.Add(time.Duration(ticks) * 10 * time.Millisecond), nil // USER_HZ 100
}

// listenerUp is when ovs-vswitchd last opened a bridge's listener
// ("added service controller "ptcp:..." in its log; UTC, milliseconds).
func listenerUp(logFile string) (time.Time, error) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `added service controller "ptcp:`) {
			ts, _, _ := strings.Cut(line, "|")
			if t, err := time.Parse("2006-01-02T15:04:05.000Z", ts); err == nil {
				at = t
			}
		}
	}
	if at.IsZero() {
		return at, fmt.Errorf("%s: no listener opened", logFile)
	}
	return at, nil
}

type repairRuns struct {
	deleted, added, modified, restart []time.Duration
	fromListener                      []time.Duration // the restart, from the bridge's listener opening
	lost                              []int           // pings (20 ms apart) lost across the restart
}

// TestBenchRepair: on a 2-host lab, loomd with its default settings (probe
// 5 s, audit 60 s) with the flow monitor on (the default) and off (the
// baseline), one after the other: a Loom flow deleted by hand, one added
// by hand in Loom's cookie space, one modified by hand (mod-flows: same
// count), each from the edit to the flow right again, as seen by a flow
// monitor of the bench's own; and ovs-vswitchd killed (-9) and started
// again, from the new process's start to all of Loom's flows back (dump-
// aggregate polled every 10 ms), with the pings lost meanwhile.
func TestBenchRepair(t *testing.T) {
	requireBench(t)
	bin := benchBinaries(t)
	runs := benchEnvInt(t, "LOOM_BENCH_REPAIR_RUNS", 5)
	quiesce(t)
	l := NewLab(t, "lmb3-", 2)
	w := ws{
		"a1": {"h1", "a1", "02:00:00:00:0a:01", "192.0.2.1", "24"},
		"b1": {"h2", "b1", "02:00:00:00:0b:01", "192.0.2.3", "24"},
	}
	w.add(l, "a1", "b1")
	labDir := "/run/loom-lab/" + l.Prefix
	if v := os.Getenv("LOOM_LAB_DIR"); v != "" {
		labDir = strings.TrimSuffix(v, "/")
	}
	mgmt := func(host string) string { return "unix:" + filepath.Join(labDir, host, "br-int.mgmt") }
	ofctlRun := func(args ...string) (string, error) {
		out, err := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...).CombinedOutput()
		return string(out), err
	}
	topo := filepath.Join(repoRoot(), "e2e/testdata/two-ports.yaml")

	modes := []struct {
		name string
		args []string
	}{{"flow monitor on (default)", nil}, {"flow-monitor: false (baseline)", []string{"--flow-monitor", "false"}}}
	res := make([]repairRuns, len(modes))
	for mi, mode := range modes {
		dir := t.TempDir()
		status := filepath.Join(dir, "status.json")
		os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
		var log syncBuffer
		cmd := exec.Command("ip", append([]string{"netns", "exec", l.Prefix + "ctl", filepath.Join(bin, "loomd"),
			"--config", filepath.Join(dir, "none.yaml"), "--topology", topo, "--state-dir", filepath.Join(dir, "state"),
			"--status-file", status, "--log-level", "debug"}, mode.args...)...)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cmd.Process.Signal(os.Interrupt)
				cmd.Wait()
			}
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("loomd log (%s):\n%s", mode.name, log.String())
			}
		})
		hosts := func() map[string]api.HostStatus {
			m := map[string]api.HostStatus{}
			if b, err := os.ReadFile(status); err == nil {
				json.Unmarshal(b, &m)
			}
			return m
		}
		right := func(timeout time.Duration) bool {
			deadline := time.Now().Add(timeout)
			for time.Now().Before(deadline) {
				m := hosts()
				if m["h1"].State == api.StateInSync && m["h2"].State == api.StateInSync {
					if out, err := l.Loomctl("plan", "--direct", "-f", topo); err == nil && strings.Contains(out, "nothing changed on any switch") {
						return true
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			return false
		}
		if !right(60 * time.Second) {
			t.Fatalf("%s: hosts not in sync", mode.name)
		}
		want := hosts()["h2"].Flows
		obs := newRepairObserver(t, mgmt("h1"))
		for !obs.mon.Connected() {
			time.Sleep(10 * time.Millisecond)
		}
		// An output flow of a1 (table 60).
		dump, err := ofctlRun("dump-flows", mgmt("h1"), "table=60", "--no-stats")
		m := regexp.MustCompile(`cookie=(0x4c4d[0-9a-f]+).*reg7=(0x[0-9a-f]+) actions=`).FindStringSubmatch(dump)
		if err != nil || m == nil {
			t.Fatalf("no output flow on h1: %v\n%s", err, dump)
		}
		cookie, _ := strconv.ParseUint(m[1], 0, 64)
		flow := fmt.Sprintf("table=60,cookie=%s/-1,reg7=%s", m[1], m[2])
		timeout := 5 * time.Second
		if mi > 0 {
			timeout = 75 * time.Second // the audit (60 s) repairs a modified flow
		}
		r := &res[mi]
		// Without the monitor, a repair waits for the next probe (every 5
		// s) or audit (every 60 s), and the bench's own rhythm would put
		// every edit at the same moment of those cycles: each edit waits a
		// random part of the cycle first, so that the baseline is a fair
		// sample.
		cycle := func(d time.Duration) {
			if mi > 0 {
				time.Sleep(rand.N(d))
			}
		}
		for run := 0; run < runs; run++ {
			// Deleted: from its DELETED to its ADDED, the same flow again.
			cycle(5 * time.Second)
			obs.drain()
			if out, err := ofctlRun("del-flows", mgmt("h1"), flow); err != nil {
				t.Fatalf("del-flows: %v\n%s", err, out)
			}
			del, t0, ok := obs.change(5*time.Second, func(c ofctl.FlowChange) bool { return c.Event == "DELETED" && c.Cookie == cookie })
			if !ok {
				t.Fatal("the deletion was not seen")
			}
			_, t1, ok := obs.change(timeout, func(c ofctl.FlowChange) bool { return c.Event == "ADDED" && c.Flow.EqualUpdate(&del.Flow) })
			if !ok {
				t.Fatalf("%s: a deleted flow not repaired within %v", mode.name, timeout)
			}
			r.deleted = append(r.deleted, t1.Sub(t0))
			if !right(timeout) {
				t.Fatalf("%s: not right after the deletion's repair", mode.name)
			}

			// Added: from its ADDED to its DELETED.
			cycle(5 * time.Second)
			obs.drain()
			if out, err := ofctlRun("add-flow", mgmt("h1"), "table=60,priority=7,cookie=0x4c4d0307000000ff,reg7=0x123,actions=drop"); err != nil {
				t.Fatalf("add-flow: %v\n%s", err, out)
			}
			extra := func(ev string) func(ofctl.FlowChange) bool {
				return func(c ofctl.FlowChange) bool { return c.Event == ev && c.Cookie == 0x4c4d0307000000ff }
			}
			_, t0, ok = obs.change(5*time.Second, extra("ADDED"))
			if !ok {
				t.Fatal("the addition was not seen")
			}
			_, t1, ok = obs.change(timeout, extra("DELETED"))
			if !ok {
				t.Fatalf("%s: a flow added by hand not removed within %v", mode.name, timeout)
			}
			r.added = append(r.added, t1.Sub(t0))
			if !right(timeout) {
				t.Fatalf("%s: not right after the addition's repair", mode.name)
			}

			// Modified: from its MODIFIED to the flow as it was (ADDED).
			cycle(60 * time.Second)
			obs.drain()
			if out, err := ofctlRun("mod-flows", mgmt("h1"), flow+",actions=drop"); err != nil {
				t.Fatalf("mod-flows: %v\n%s", err, out)
			}
			_, t0, ok = obs.change(5*time.Second, func(c ofctl.FlowChange) bool { return c.Event == "MODIFIED" && c.Cookie == cookie })
			if !ok {
				t.Fatal("the modification was not seen")
			}
			_, t1, ok = obs.change(timeout, func(c ofctl.FlowChange) bool { return c.Event == "ADDED" && c.Flow.EqualUpdate(&del.Flow) })
			if !ok {
				t.Fatalf("%s: a modified flow not repaired within %v", mode.name, timeout)
			}
			r.modified = append(r.modified, t1.Sub(t0))
			if !right(timeout) {
				t.Fatalf("%s: not right after the modification's repair", mode.name)
			}

			// ovs-vswitchd on h2 killed and started again.
			if err := l.Ping("h2-b1", w["a1"].ip, 10); err != nil {
				t.Fatal(err)
			}
			ping := exec.Command("ip", "netns", "exec", l.Prefix+"h2-b1", "ping", "-n", "-i", "0.02", w["a1"].ip)
			var pout syncBuffer
			ping.Stdout = &pout
			if err := ping.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			cycle(5 * time.Second)
			l.Daemon("h2", "kill", "vswitchd")
			back := make(chan time.Time, 1)
			pollStop := make(chan struct{})
			go func() {
				for {
					select {
					case <-pollStop:
						back <- time.Time{}
						return
					default:
					}
					out, err := ofctlRun("dump-aggregate", mgmt("h2"), "cookie=0x4c4d000000000000/0xffff000000000000")
					if m := flowCountRE.FindStringSubmatch(out); err == nil && m != nil && m[1] == strconv.Itoa(want) {
						back <- time.Now()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
			l.Daemon("h2", "start", "vswitchd")
			pid, err := os.ReadFile(filepath.Join(labDir, "h2", "ovs-vswitchd.pid"))
			if err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
			started, err := startTime(n)
			if err != nil {
				t.Fatal(err)
			}
			var at time.Time
			select {
			case at = <-back:
			case <-time.After(timeout):
				close(pollStop)
				<-back
				t.Fatalf("%s: flows not back within %v of ovs-vswitchd's start", mode.name, timeout)
			}
			r.restart = append(r.restart, at.Sub(started))
			listening, err := listenerUp(filepath.Join(labDir, "h2", "ovs-vswitchd.log"))
			if err != nil {
				t.Fatal(err)
			}
			r.fromListener = append(r.fromListener, at.Sub(listening))
			if !right(timeout) {
				t.Fatalf("%s: not right after the restart", mode.name)
			}
			if err := l.Ping("h2-b1", w["a1"].ip, 10); err != nil {
				t.Error(err)
			}
			ping.Process.Signal(os.Interrupt)
			ping.Wait()
			lost := -1
			if mm := pingStats.FindStringSubmatch(pout.String()); mm != nil {
				sent, _ := strconv.Atoi(mm[1])
				recv, _ := strconv.Atoi(mm[2])
				lost = sent - recv
			}
			r.lost = append(r.lost, lost)
			t.Logf("%s, run %d: deleted %v, added %v, modified %v, vswitchd start to flows back %v (from its listener %v), %d pings lost", mode.name, run+1,
				r.deleted[run].Round(time.Millisecond), r.added[run].Round(time.Millisecond), r.modified[run].Round(time.Millisecond),
				r.restart[run].Round(time.Millisecond), r.fromListener[run].Round(time.Millisecond), lost)
		}
		obs.stop()
		stop()
		var lines []string
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, `"msg":"reconciled"`) && strings.Contains(line, `"level":"info"`) || strings.Contains(line, "flows changed") {
				lines = append(lines, line)
			}
		}
		t.Logf("%s: loomd's repairs:\n%s", mode.name, strings.Join(lines, "\n"))
	}

	spread := func(ds []time.Duration) string {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return fmt.Sprintf("median of %d, min %.3f, max %.3f: %s", len(s), s[0].Seconds(), s[len(s)-1].Seconds(), secs(ds))
	}
	for mi, mode := range modes {
		r := res[mi]
		for _, f := range []struct {
			figure string
			ds     []time.Duration
			note   string
		}{
			{"a Loom flow deleted by hand: edit to repaired", r.deleted, "del-flows; from its DELETED to its ADDED, as a flow monitor sees them"},
			{"a flow added by hand in Loom's cookie space: edit to removed", r.added, "add-flow; from its ADDED to its DELETED"},
			{"a Loom flow modified by hand (same count): edit to repaired", r.modified, "mod-flows actions=drop; from its MODIFIED to the flow as it was"},
			{"ovs-vswitchd killed and started again: start to Loom's flows back", r.restart, "from the new process's start (/proc, 10 ms) to dump-aggregate (polled every 10 ms) showing every flow"},
			{"of which: its listener opening to Loom's flows back", r.fromListener, "from `added service controller \"ptcp:` in ovs-vswitchd's log (ms) to the same"},
		} {
			benchReport(t, benchResult{Section: "repair", Figure: f.figure + ", " + mode.name, Value: median(f.ds).Seconds(), Unit: "s",
				Note: f.note + "; loomd defaults (probe 5 s, audit 60 s); " + spread(f.ds)})
		}
		lost := make([]float64, len(r.lost))
		for i, n := range r.lost {
			lost[i] = float64(n)
		}
		benchReport(t, benchResult{Section: "repair", Figure: "pings lost across that restart (20 ms apart), " + mode.name,
			Value: medianF(lost), Unit: "pings", Note: fmt.Sprintf("b1 (h2) to a1 (h1), including the time ovs-vswitchd was down; runs: %v", r.lost)})
	}
}

// benchVeths gives every port of the S×P bench topology without a
// workload a veth in its host's namespace (lm-xS-J, its peer lq-xS-J,
// both up), with one ip -batch per host.
func benchVeths(t *testing.T, l *Lab, S, P int) {
	t.Helper()
	batches := map[string]*strings.Builder{}
	for s := 0; s < S; s++ {
		for j := 0; j < P; j++ {
			if _, ok := benchWorkloads[[2]int{s, j}]; ok {
				continue
			}
			_, host, _, _ := benchPort(s, j)
			b := batches[host]
			if b == nil {
				b = &strings.Builder{}
				batches[host] = b
			}
			fmt.Fprintf(b, "link add lm-x%d-%d type veth peer name lq-x%d-%d\nlink set lm-x%d-%d up\nlink set lq-x%d-%d up\n", s, j, s, j, s, j, s, j)
		}
	}
	for host, b := range batches {
		cmd := exec.Command("ip", "-n", l.Prefix+host, "-batch", "-")
		cmd.Stdin = strings.NewReader(b.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("veths on %s: %v\n%s", host, err, out)
		}
	}
}
