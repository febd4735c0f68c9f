//go:build bench

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// TestBenchChange: a change on a lab, this loomd against an earlier one
// (LOOM_BENCH_OLD_REV, default c181b19: built from git into a folder of
// its own; or LOOM_BENCH_OLD_BIN, a folder holding its loomd and
// loomctl), alternating, LOOM_BENCH_CHANGE_RUNS times (5) each, on one
// 3-host lab (prefix lmb8-) with S×P ports (LOOM_BENCH_CHANGE_SIZES,
// default 50x40: the topology of TestBenchConverge).
//
// Each run of a version starts from empty bridges, twice:
//
//   - files: loomd --topology FILE (--reload-interval 100ms for both);
//     start to every host in sync, and loomd's peak RSS at the end; then
//     the file gets one port more (its workload wn on h3 exists already,
//     pinging wa every 20 ms): to the first reply, and to every host in
//     sync; the port removed: to every host in sync (its flows gone: the
//     bundle is sent before the host's status says so); and the same
//     addition with the machine busy (one CPU burner per core, started
//     and stopped by pid), to the first reply.
//   - API: loomd without files; `loomctl apply -f` of the topology: to
//     its return, and to every host in sync after it; `loomctl port add`
//     and `port del` of the same port, as above.
//
// "Every host in sync" is read from loomd's status file: once every host
// is at the new revision and in sync, the latest end of the hosts' last
// reconciles. The flow mods a change took are the status's lastChanges
// (OVSDB changes + flow mods) of the hosts it reached.
func TestBenchChange(t *testing.T) {
	requireBench(t)
	bins := map[string]string{"new": benchBinaries(t), "old": benchOldBinaries(t)}
	runs := benchEnvInt(t, "LOOM_BENCH_CHANGE_RUNS", 5)
	spec := os.Getenv("LOOM_BENCH_CHANGE_SIZES")
	if spec == "" {
		spec = "50x40"
	}
	for _, s := range strings.Split(spec, ",") {
		var S, P int
		if _, err := fmt.Sscanf(s, "%dx%d", &S, &P); err != nil || S < 1 || P < 2 {
			t.Fatalf("LOOM_BENCH_CHANGE_SIZES: bad size %q", s)
		}
		t.Run(s, func(t *testing.T) { benchChangeSize(t, bins, S, P, runs) })
	}
}

// benchOldBinaries builds loomd and loomctl of the earlier version.
func benchOldBinaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("LOOM_BENCH_OLD_BIN"); dir != "" {
		return dir
	}
	rev := benchOldRev()
	src := t.TempDir()
	cmd := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive %q | tar -x -C %q", repoRoot(), rev, src))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	dir := t.TempDir()
	cmd = exec.Command("go", "build", "-o", dir+"/", "./cmd/loomctl", "./cmd/loomd")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of %s: %v\n%s", rev, err, out)
	}
	return dir
}

// benchOldRev is the git revision of the earlier version.
func benchOldRev() string {
	if dir := os.Getenv("LOOM_BENCH_OLD_BIN"); dir != "" {
		return dir
	}
	if rev := os.Getenv("LOOM_BENCH_OLD_REV"); rev != "" {
		return rev
	}
	return "c181b19"
}

// changeRun is what one run of one version measured (zero: not measured).
type changeRun struct {
	start, rss                    float64 // s; MiB
	fileAdd, fileAddSync, fileDel float64
	fileBusy                      float64
	apply, applySync              float64
	apiAdd, apiAddSync, apiDel    float64
	apiBusy                       float64
	fileLoad, compile             float64 // the file's change to "topology in force"; its compile
	fileBegun, fileSent           float64 // the file's change to the first host's change begun, to the last host's "change sent"
	apiFront, apiBegun, apiSent   float64 // loomctl port add's start to "topology in force", to the first host's change begun, to the last "change sent"
	burst, burstSync              float64 // 100 ports added at once on h3: to all pinging, to every host in sync
	addChanges, delChanges        int     // most OVSDB changes + flow mods on one host
	steps                         map[string][]float64
}

// benchLab is the lab of a size: veths for every port, workloads wa, wb
// and wn.
type benchLab struct {
	l          *Lab
	S, P       int
	burst      int // workloads wb0... on h3 for the burst (ports P+1... of s0)
	ipA, ipN   string
	macN, name string
}

func newBenchLab(t *testing.T, S, P int) *benchLab {
	l := NewLab(t, "lmb8-", 3)
	benchVeths(t, l, S, P)
	for sj, w := range benchWorkloads {
		_, host, mac, ip := benchPort(sj[0], sj[1])
		l.Workload(host, w, mac, ip+"/24")
	}
	bl := &benchLab{l: l, S: S, P: P}
	bl.name, _, bl.macN, bl.ipN = benchPort(0, P)
	_, _, _, bl.ipA = benchPort(0, 0)
	l.Workload("h3", "wn", bl.macN, bl.ipN+"/24")
	for _, ns := range []string{"h1-wa", "h2-wb", "h3-wn"} {
		l.MustExec(ns, "sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=20")
	}
	bl.burst = benchEnvInt(t, "LOOM_BENCH_BURST", 100)
	if bl.burst > 200 {
		t.Fatalf("LOOM_BENCH_BURST=%d: at most 200 (addresses of s0's /24)", bl.burst)
	}
	for k := 0; k < bl.burst; k++ {
		_, _, mac, ip := benchPort(0, P+1+k)
		l.Workload("h3", fmt.Sprintf("wb%d", k), mac, ip+"/24")
		l.MustExec(fmt.Sprintf("h3-wb%d", k), "sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=20")
	}
	return bl
}

// burstTopology is the topology with the burst's ports (and without wn's).
func (b *benchLab) burstTopology() []byte {
	var sb strings.Builder
	sb.Write(convergeTopology(b.S, b.P, false))
	for k := 0; k < b.burst; k++ {
		name, _, mac, ip := benchPort(0, b.P+1+k)
		fmt.Fprintf(&sb, "  - {name: %s, switch: s0, host: h3, mac: \"%s\", ips: [%s], interface: lm-wb%d}\n", name, mac, ip, k)
	}
	return []byte(sb.String())
}

// clear deletes Loom's bridge on every host: the next loomd starts from
// empty switches.
func (b *benchLab) clear(t *testing.T) {
	for h := 1; h <= 3; h++ {
		if out, err := b.l.Exec("ctl", "ovs-vsctl", fmt.Sprintf("--db=tcp:198.18.0.%d:6640", 10+h), "--timeout=300", "--if-exists", "del-br", "br-int"); err != nil {
			t.Fatalf("del-br on h%d: %v\n%s", h, err, out)
		}
	}
}

// benchLoomd is one loomd process on the lab.
type benchLoomd struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *syncBuffer
	status string
	bin    string
	lab    *benchLab
}

func startBenchLoomd(t *testing.T, b *benchLab, bin, dir string, args ...string) *benchLoomd {
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
	d := &benchLoomd{t: t, log: &syncBuffer{}, status: filepath.Join(dir, "status.json"), bin: bin, lab: b}
	all := append([]string{"netns", "exec", b.l.Prefix + "ctl", filepath.Join(bin, "loomd"),
		"--config", filepath.Join(dir, "none.yaml"), "--state-dir", filepath.Join(dir, "state"), "--status-file", d.status,
		"--log-level", "debug"}, args...)
	d.cmd = exec.Command("ip", all...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *benchLoomd) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

func (d *benchLoomd) hosts() map[string]api.HostStatus {
	m := map[string]api.HostStatus{}
	if b, err := os.ReadFile(d.status); err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// synced waits until every host is in sync at a revision above after, and
// returns that revision, the latest end of the hosts' last reconciles, and
// the most changes a host's last reconcile made (among those that ended
// after since).
func (d *benchLoomd) synced(after int64, since time.Time, timeout time.Duration) (int64, time.Time, int) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		m := d.hosts()
		ok := len(m) == 3
		var rev int64
		var last time.Time
		changes := 0
		for _, h := range m {
			if h.State != api.StateInSync || h.Revision != h.Desired || h.Revision <= after {
				ok = false
			}
			rev = h.Revision
			end := h.LastReconcile.Add(h.LastDuration)
			if end.After(last) {
				last = end
			}
			if h.LastReconcile.After(since) {
				changes = max(changes, h.LastChanges)
			}
		}
		if ok {
			return rev, last, changes
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.t.Fatalf("hosts not in sync above revision %d within %v: %+v\n%s", after, timeout, d.hosts(), tail(d.log.String(), 40))
	return 0, time.Time{}, 0
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// loomctl runs loomctl in the controller's namespace against this loomd's
// API and returns how long it took.
func (d *benchLoomd) loomctl(args ...string) time.Duration {
	d.t.Helper()
	all := append([]string{"netns", "exec", d.lab.l.Prefix + "ctl", filepath.Join(d.bin, "loomctl"),
		"--server", "http://127.0.0.1:9477", "--config", ""}, args...)
	start := time.Now()
	out, err := exec.Command("ip", all...).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		d.t.Fatalf("loomctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return took
}

// burners keeps both cores busy until the returned function is called.
func burners(t *testing.T) func() {
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
	t.Cleanup(stop)
	time.Sleep(200 * time.Millisecond) // let them take the cores
	return stop
}

// pingNew starts wn pinging wa; stop it with the returned function.
func (b *benchLab) pingNew(t *testing.T) (*benchPing, func()) {
	p := startBenchPing(t, b.l, "h3-wn", b.ipA)
	return p, func() { p.cmd.Process.Kill(); p.cmd.Wait() }
}

// lastLoad is, from loomd's log, the time from t1 to its last "topology
// in force" and that load's compile time (s).
func lastLoad(log string, t1 time.Time) (load, compile float64) {
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Msg     string  `json:"msg"`
			TS      float64 `json:"ts"`
			Compile float64 `json:"compile"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "topology in force" {
			load, compile = time.Unix(0, int64(e.TS*1e9)).Sub(t1).Seconds(), e.Compile
		}
	}
	return load, compile
}

// changeTimeline is, from loomd's log, the time from t1 to the first
// "topology in force" after it, and to the last "change sent" (a host's
// change path done: bundle committed, echoed, ports numbered) within 10
// s after that (s; 0 when not found).
func changeTimeline(log string, t1 time.Time) (inForce, begun, sent float64) {
	var at float64
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Msg   string  `json:"msg"`
			TS    float64 `json:"ts"`
			Total float64 `json:"total"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		ts := time.Unix(0, int64(e.TS*1e9))
		switch {
		case e.Msg == "topology in force" && at == 0 && !ts.Before(t1):
			at, inForce = e.TS, ts.Sub(t1).Seconds()
		case e.Msg == "change sent" && at != 0 && e.TS >= at && e.TS < at+10:
			sent = max(sent, ts.Sub(t1).Seconds())
			if b := ts.Sub(t1).Seconds() - e.Total; e.Total > 0 && (begun == 0 || b < begun) {
				begun = b
			}
		}
	}
	return inForce, begun, sent
}

// changeStepNames are the steps loomd's "change sent" logs (bundle_wait
// and total since the bundle goes beside the OVSDB steps).
var changeStepNames = []string{"ovsdb_plan", "ovsdb_transact", "flow_bundle", "bundle_wait", "flow_echo", "ofports", "total"}

// changeSteps collects a loomd's "change sent" step timings (ms).
func changeSteps(log string, into map[string][]float64) {
	for _, line := range strings.Split(log, "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["msg"] != "change sent" {
			continue
		}
		for _, k := range changeStepNames {
			if v, ok := e[k].(float64); ok { // zap's durations: seconds
				into[k] = append(into[k], v*1000)
			}
		}
	}
}

func changeOnce(t *testing.T, b *benchLab, bin string) changeRun {
	r := changeRun{steps: map[string][]float64{}}
	S, P := b.S, b.P
	ctlWait := 2 * time.Minute

	// Files.
	b.clear(t)
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.yaml")
	if err := writeAtomic(topo, convergeTopology(S, P, false)); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	d := startBenchLoomd(t, b, bin, dir, "--topology", topo, "--reload-interval", "100ms", "--listen", "")
	rev, end, _ := d.synced(0, t0, 10*time.Minute)
	r.start = end.Sub(t0).Seconds()
	fileChange := func(withNew bool, busy bool) (ping, sync float64, changes int) {
		var stop func()
		var p *benchPing
		if withNew {
			p, stop = b.pingNew(t)
			defer stop()
			time.Sleep(300 * time.Millisecond)
		}
		var unburn func()
		if busy {
			unburn = burners(t)
		}
		t1 := time.Now()
		if err := writeAtomic(topo, convergeTopology(S, P, withNew)); err != nil {
			t.Fatal(err)
		}
		if withNew {
			first := p.wait(60 * time.Second)
			if first.IsZero() {
				t.Fatalf("wn -> wa: no ping within 60 s of the file's change\n%s", tail(d.log.String(), 40))
			}
			ping = first.Sub(t1).Seconds()
		}
		if unburn != nil {
			unburn()
		}
		var end time.Time
		rev, end, changes = d.synced(rev, t1, ctlWait)
		if withNew && !busy {
			r.fileLoad, r.compile = lastLoad(d.log.String(), t1)
			_, r.fileBegun, r.fileSent = changeTimeline(d.log.String(), t1)
		}
		return ping, end.Sub(t1).Seconds(), changes
	}
	r.fileAdd, r.fileAddSync, r.addChanges = fileChange(true, false)
	_, r.fileDel, r.delChanges = fileChange(false, false)
	r.fileBusy, _, _ = fileChange(true, true)
	fileChange(false, false)
	if b.burst > 0 {
		// A burst: the workloads of b.burst ports on h3 exist and ping wa;
		// their ports come in one change of the file.
		var pings []*benchPing
		for k := 0; k < b.burst; k++ {
			p := startBenchPing(t, b.l, fmt.Sprintf("h3-wb%d", k), b.ipA)
			defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
			pings = append(pings, p)
		}
		time.Sleep(300 * time.Millisecond)
		t1 := time.Now()
		if err := writeAtomic(topo, b.burstTopology()); err != nil {
			t.Fatal(err)
		}
		var last time.Time
		for k, p := range pings {
			first := p.wait(60 * time.Second)
			if first.IsZero() {
				t.Fatalf("burst: wb%d -> wa: no ping within 60 s\n%s", k, tail(d.log.String(), 40))
			}
			if first.After(last) {
				last = first
			}
		}
		r.burst = last.Sub(t1).Seconds()
		var end time.Time
		rev, end, _ = d.synced(rev, t1, ctlWait)
		r.burstSync = end.Sub(t1).Seconds()
		if err := writeAtomic(topo, convergeTopology(S, P, false)); err != nil {
			t.Fatal(err)
		}
		rev, _, _ = d.synced(rev, time.Now(), ctlWait)
	}
	if st, err := procCPU(d.cmd.Process.Pid); err == nil {
		r.rss = float64(st.hwm) / (1 << 20)
	}
	// loomd runs under ip netns exec: its pid is ip's, which execs loomd.
	changeSteps(d.log.String(), r.steps)
	d.stop()

	// API.
	b.clear(t)
	dir = t.TempDir()
	if err := writeAtomic(topo, convergeTopology(S, P, false)); err != nil {
		t.Fatal(err)
	}
	d = startBenchLoomd(t, b, bin, dir, "--listen", "127.0.0.1:9477")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(d.log.String(), `"msg":"serving HTTP"`); {
		if time.Now().After(deadline) {
			t.Fatalf("loomd's API did not answer\n%s", d.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t1 := time.Now()
	took := d.loomctl("apply", "-f", topo, "--yes", "--wait", "0")
	r.apply = took.Seconds()
	rev, end, _ = d.synced(0, t1, 10*time.Minute)
	r.applySync = end.Sub(t1.Add(took)).Seconds()
	apiAdd := func(busy bool) (ping, sync float64) {
		p, stop := b.pingNew(t)
		defer stop()
		time.Sleep(300 * time.Millisecond)
		var unburn func()
		if busy {
			unburn = burners(t)
		}
		t1 := time.Now()
		d.loomctl("port", "add", "s0", b.name, "--host", "h3", "--interface", "lm-wn", "--mac", b.macN, "--ip", b.ipN)
		first := p.wait(60 * time.Second)
		if first.IsZero() {
			t.Fatalf("wn -> wa: no ping within 60 s of loomctl port add\n%s", tail(d.log.String(), 40))
		}
		if unburn != nil {
			unburn()
		}
		var end time.Time
		rev, end, _ = d.synced(rev, t1, ctlWait)
		if !busy {
			r.apiFront, r.apiBegun, r.apiSent = changeTimeline(d.log.String(), t1)
		}
		return first.Sub(t1).Seconds(), end.Sub(t1).Seconds()
	}
	apiDel := func() float64 {
		t1 := time.Now()
		d.loomctl("port", "del", b.name)
		var end time.Time
		rev, end, _ = d.synced(rev, t1, ctlWait)
		return end.Sub(t1).Seconds()
	}
	r.apiAdd, r.apiAddSync = apiAdd(false)
	r.apiDel = apiDel()
	r.apiBusy, _ = apiAdd(true)
	apiDel()
	changeSteps(d.log.String(), r.steps)
	d.stop()
	return r
}

func benchChangeSize(t *testing.T, bins map[string]string, S, P, runs int) {
	b := newBenchLab(t, S, P)
	res := map[string][]changeRun{}
	for i := 0; i < runs; i++ {
		order := []string{"old", "new"}
		if i%2 == 1 {
			order = []string{"new", "old"}
		}
		for _, v := range order {
			use0 := cpuTimes()
			ok := t.Run(fmt.Sprintf("%s/run%d", v, i+1), func(t *testing.T) {
				r := changeOnce(t, b, bins[v])
				res[v] = append(res[v], r)
				t.Logf("%s: %+v; machine: %s", v, r, machineUse(use0, cpuTimes()))
			})
			if !ok {
				return
			}
		}
	}
	shape := fmt.Sprintf("%d switches × %d ports (%d ports), 3 hosts", S, P, S*P)
	for _, f := range []struct {
		figure string
		get    func(changeRun) float64
		unit   string
	}{
		{"loomd start to every host in sync (files)", func(r changeRun) float64 { return r.start }, "s"},
		{"loomd peak RSS (VmHWM)", func(r changeRun) float64 { return r.rss }, "MiB"},
		{"file: one port added to it pinging", func(r changeRun) float64 { return r.fileAdd }, "s"},
		{"file: one port added to every host in sync", func(r changeRun) float64 { return r.fileAddSync }, "s"},
		{"of which: file change to topology in force", func(r changeRun) float64 { return r.fileLoad }, "s"},
		{"of which: compile", func(r changeRun) float64 { return r.compile }, "s"},
		{"of which: file change to the first host's change path begun", func(r changeRun) float64 { return r.fileBegun }, "s"},
		{"of which: file change to the last host's change sent", func(r changeRun) float64 { return r.fileSent }, "s"},
		{"file: one port deleted to every host in sync", func(r changeRun) float64 { return r.fileDel }, "s"},
		{"file, 2 CPU burners: one port added to it pinging", func(r changeRun) float64 { return r.fileBusy }, "s"},
		{fmt.Sprintf("file: %d ports added at once on one host to all pinging", b.burst), func(r changeRun) float64 { return r.burst }, "s"},
		{fmt.Sprintf("file: %d ports added at once to every host in sync", b.burst), func(r changeRun) float64 { return r.burstSync }, "s"},
		{"loomctl apply -f: returns", func(r changeRun) float64 { return r.apply }, "s"},
		{"loomctl apply -f: return to every host in sync", func(r changeRun) float64 { return r.applySync }, "s"},
		{"loomctl port add: to it pinging", func(r changeRun) float64 { return r.apiAdd }, "s"},
		{"loomctl port add: to every host in sync", func(r changeRun) float64 { return r.apiAddSync }, "s"},
		{"of which: loomctl started to topology in force", func(r changeRun) float64 { return r.apiFront }, "s"},
		{"of which: loomctl started to the first host's change path begun", func(r changeRun) float64 { return r.apiBegun }, "s"},
		{"of which: loomctl started to the last host's change sent", func(r changeRun) float64 { return r.apiSent }, "s"},
		{"loomctl port del: to every host in sync", func(r changeRun) float64 { return r.apiDel }, "s"},
		{"loomctl port add, 2 CPU burners: to it pinging", func(r changeRun) float64 { return r.apiBusy }, "s"},
		{"port added: changes on the host most changed (OVSDB + flow mods)", func(r changeRun) float64 { return float64(r.addChanges) }, "changes"},
		{"port deleted: changes on the host most changed", func(r changeRun) float64 { return float64(r.delChanges) }, "changes"},
	} {
		vals := map[string][]float64{}
		for _, v := range []string{"old", "new"} {
			for _, r := range res[v] {
				vals[v] = append(vals[v], f.get(r))
			}
		}
		note := fmt.Sprintf("%s; median of %d, before (%s) %.3f [%s], after [%s]", shape, len(vals["new"]), benchOldRev(),
			medianOf(vals["old"]), spreadF(vals["old"]), spreadF(vals["new"]))
		benchReport(t, benchResult{Section: "change", Figure: fmt.Sprintf("%dx%d: %s", S, P, f.figure),
			Value: medianOf(vals["new"]), Unit: f.unit, Note: note})
	}
	for _, version := range []string{"old", "new"} {
		steps := map[string][]float64{}
		for _, r := range res[version] {
			for k, v := range r.steps {
				steps[k] = append(steps[k], v...)
			}
		}
		var parts []string
		for _, k := range changeStepNames {
			if len(steps[k]) > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f ms", k, medianOf(steps[k])))
			}
		}
		t.Logf("%dx%d, %s: the change path's steps, medians over every host's changes: %s", S, P, version, strings.Join(parts, ", "))
	}
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spreadF(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(parts, " ")
}
