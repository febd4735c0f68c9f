//go:build bench

// TestBenchHostile: issue 12's hostile and careless inputs, each sent to a
// fresh loomd (make bench; never part of make test). See
// docs/performance.md, "Hostile input".
//
// Every run starts loomd as released (built from this tree) in the
// controller namespace of a lab (prefix lmb4-, 4 hosts), listening on
// 127.0.0.1:0 with a bearer token, its own state folder and otherwise its
// defaults, and gives it a small topology for one lab host, which it
// brings in sync. Once loomd is idle, its VmRSS is read and its VmHWM
// reset (clear_refs); then the input is sent. Each run records the answer
// (HTTP status, its first line: the first problem, with its
// file:line:col, or the message), the time from the request's first byte
// to the whole answer, and loomd's VmHWM after it minus the idle VmRSS
// before. Afterwards loomd must still be there: its process alive,
// /healthz answering, and its host still reconciled (every Loom flow
// deleted by hand on the host's switch is put back by loomd).
//
// The inputs: topologies over the compiler's limits, an ACL port range
// from 0, the alias bomb, bodies over and just under api-max-body, valid
// topologies for reference (one request each); a --topology file that
// becomes the 40,000-port crasher while loomd runs, and loomd started
// again on it; 16 validates at once; 3,000 idle connections and a body
// sent at a byte a second (these two wait on loomd's timeouts: they run
// side by side, each loomd with a lab host of its own).
//
// An answer that differs from the expected one, or a loomd that died or
// stopped reconciling, fails the test; times and memory are only
// reported (LOOM_BENCH_HOSTILE_RUNS runs of each, 3 by default).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology/topotest"
)

const (
	hostilePrefix = "lmb4-"
	hostileToken  = "hostile-bench-token-0123456789"
	mib           = 1 << 20
)

// ---------------------------------------------------------------------------
// The inputs.

// hostileHost is lab host hN as a topology names it.
func hostileHost(n int) string {
	return fmt.Sprintf("  - name: h%d\n    ovsdb: \"tcp:198.18.0.%d:6640\"\n    tunnelIP: 198.19.0.%d\n    datapathType: netdev\n", n, 10+n, 10+n)
}

// hostileBase is the topology in force before an input: host hN and a
// switch; on h1 also port a (the lab workload wa), with ACL z (a drop of
// TCP dstPorts) when dstPorts is set.
func hostileBase(n int, dstPorts string) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n" + hostileHost(n))
	b.WriteString("switches:\n  - {name: s, tunnelKey: 1, subnets: [10.1.0.0/24]}\n")
	if n != 1 {
		return b.String()
	}
	b.WriteString("ports:\n  - {name: a, switch: s, host: h1, mac: \"02:00:00:00:00:0a\", ips: [10.1.0.10], interface: lm-wa")
	if dstPorts == "" {
		b.WriteString("}\n")
		return b.String()
	}
	fmt.Fprintf(&b, ", acls: {toPort: [z]}}\nacls:\n  - name: z\n    rules:\n      - {action: drop, proto: tcp, dstPorts: %s}\n", dstPorts)
	return b.String()
}

// hostilePorts is lab host h1 with n workload ports, written as
// topotest.Generate writes them (a block per port, MAC and address
// spelled out), one overlay switch per 20 ports.
func hostilePorts(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n" + hostileHost(1) + "switches:\n")
	switches := max(n/20, 1)
	for s := range switches {
		fmt.Fprintf(&b, "  - name: s%d\n    tunnelKey: %d\n", s, s+1)
	}
	b.WriteString("ports:\n")
	for p := range n {
		fmt.Fprintf(&b, "  - name: p%d\n    switch: s%d\n    host: h1\n    mac: \"02:00:%02x:%02x:%02x:%02x\"\n    ips: [10.%d.%d.%d]\n    interface: vif%d\n",
			p, p%switches, p>>24&0xff, p>>16&0xff, p>>8&0xff, p&0xff, 128+p>>16&0x3f, p>>8&0xff, p&0xff, p)
	}
	return b.String()
}

// hostileTerse is lab host h1 with n workload ports on one switch, one
// line each (MAC derived, no address): as little YAML per port as the
// language allows.
func hostileTerse(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n" + hostileHost(1) + "switches: [{name: s, tunnelKey: 1}]\nports:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: p%d, switch: s, host: h1, mac: auto, interface: p%d}\n", i, i)
	}
	return b.String()
}

// hostilePhysnets is lab host h1 with n physnets (one in use, by a VLAN
// switch of port a).
func hostilePhysnets(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n" + hostileHost(1) + "    physnets: {")
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "p%d: e%d", i, i)
	}
	b.WriteString("}\nswitches:\n  - {name: v, vlan: 5, physnet: p1}\n")
	b.WriteString("ports:\n  - {name: a, switch: v, host: h1, mac: \"02:00:00:00:00:0a\", interface: lm-wa}\n")
	return b.String()
}

// hostileAliases is issue 12's alias bomb: an external endpoint with a
// station of width addresses under an anchor, width aliases of that
// station behind it, and width aliases of that endpoint: about 10.6 KB
// for width 330, which expanded in full is width³ addresses.
func hostileAliases(width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nswitches: [{name: s, tunnelKey: 1}]\n")
	b.WriteString("externalEndpoints:\n  - &ep\n    name: e\n    ip: 192.0.2.1\n    encapsulation: gre\n    switch: s\n    behind:\n")
	b.WriteString("      - &st {mac: \"02:00:00:00:00:01\", ips: [")
	for i := range width {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "10.0.%d.%d", i/250, i%250+1)
	}
	b.WriteString("]}\n")
	b.WriteString(strings.Repeat("      - *st\n", width))
	b.WriteString(strings.Repeat("  - *ep\n", width))
	return b.String()
}

// hostileErrorsBody is a validate request of at most limit bytes whose
// topology is wrong everywhere: every port names a switch and a host that
// do not exist and has a malformed MAC.
func hostileErrorsBody(limit int) []byte {
	const head = "apiVersion: loom/v1\nhosts:\n  - {name: h1, ovsdb: \"tcp:198.18.0.11:6640\", tunnelIP: 198.19.0.11}\nswitches:\n  - {name: s, tunnelKey: 1}\nports:\n"
	var b strings.Builder
	b.WriteString(head)
	// The JSON around it: {"files":{"t.yaml":"..."}}, each newline and
	// quote written with a backslash.
	size := len(`{"files":{"t.yaml":""}}`) + b.Len() + strings.Count(head, "\n") + strings.Count(head, `"`)
	for i := 0; ; i++ {
		line := fmt.Sprintf("  - {name: p%d, switch: nos%d, host: noh%d, mac: zz, interface: v%d}\n", i, i, i, i)
		if size+len(line)+1 > limit {
			break
		}
		b.WriteString(line)
		size += len(line) + 1
	}
	return filesBody(b.String())
}

func filesBody(yaml string) []byte {
	b, err := json.Marshal(api.Files{Files: map[string]string{"t.yaml": yaml}})
	if err != nil {
		panic(err)
	}
	return b
}

func putBody(rev int64, yaml string) []byte {
	b, err := json.Marshal(api.TopologyUpdate{Revision: rev, Files: map[string]string{"t.yaml": yaml}})
	if err != nil {
		panic(err)
	}
	return b
}

// ---------------------------------------------------------------------------
// loomd under test.

// hloomd is one fresh loomd in the lab's controller namespace.
type hloomd struct {
	host    int // the lab host its topology holds
	pid     int
	addr    string // 127.0.0.1:PORT, in the controller namespace
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	started time.Time
	client  *http.Client
	ns      string
	labDir  string
}

// hostileBench holds what every run shares.
type hostileBench struct {
	t      *testing.T
	bin    string // loomd
	lab    *Lab
	labDir string
	tmp    string
	mu     sync.Mutex
	all    []*hloomd // stopped at the end, whatever happened
}

// nsDial dials from network namespace ns (the socket is made there).
func nsDial(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// start runs a fresh loomd for lab host n: its own state folder (state, if
// not empty), token file and address file; args come last.
func (hb *hostileBench) start(n int, state string, args ...string) (*hloomd, error) {
	dir, err := os.MkdirTemp(hb.tmp, "loomd-")
	if err != nil {
		return nil, err
	}
	if state == "" {
		state = filepath.Join(dir, "state")
	}
	for name, content := range map[string]string{"none.yaml": "{}\n", "token": hostileToken + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	ns := hb.lab.Prefix + "ctl"
	addrFile := filepath.Join(dir, "address")
	d := &hloomd{host: n, log: &syncBuffer{}, exited: make(chan struct{}), ns: ns, labDir: hb.labDir}
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, hb.bin,
		"--config", filepath.Join(dir, "none.yaml"), "--state-dir", state,
		"--listen", "127.0.0.1:0", "--address-file", addrFile, "--token-file", filepath.Join(dir, "token")}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.started = time.Now()
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	d.pid = d.cmd.Process.Pid // ip netns exec execs loomd: the same process
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	hb.mu.Lock()
	hb.all = append(hb.all, d)
	hb.mu.Unlock()
	d.client = &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DialContext: nsDial(ns), MaxIdleConnsPerHost: 4}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if s := strings.TrimSpace(string(b)); err == nil && strings.Contains(s, ":") {
			d.addr = s
			return d, nil
		}
		if !d.alive() {
			return d, d.fail("loomd exited before it listened")
		}
		if time.Now().After(deadline) {
			return d, d.fail("loomd did not listen within 60 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *hloomd) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// fail is an error that carries the end of loomd's log.
func (d *hloomd) fail(format string, args ...any) error {
	lines := strings.Split(strings.TrimSpace(d.log.String()), "\n")
	lines = lines[max(len(lines)-20, 0):]
	return fmt.Errorf("loomd (pid %d, host h%d): %s\nend of its log:\n%s", d.pid, d.host, fmt.Sprintf(format, args...), strings.Join(lines, "\n"))
}

// stop sends SIGTERM and waits for loomd to exit (SIGKILL after 10 s).
func (d *hloomd) stop() {
	if !d.alive() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.client.CloseIdleConnections()
}

// get GETs an API path (with the token) into v.
func (d *hloomd) get(path string, v any) error {
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+hostileToken)
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

func (d *hloomd) status() (*api.Status, error) {
	var s api.Status
	return &s, d.get(api.Prefix+"status", &s)
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func (d *hloomd) waitFor(what string, timeout time.Duration, cond func(*api.Status) bool) (*api.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := d.status()
		if err == nil && cond(s) {
			return s, nil
		}
		if !d.alive() {
			return s, d.fail("exited while waiting for %s", what)
		}
		if time.Now().After(deadline) {
			return s, d.fail("%s: not within %v (last status: %+v, %v)", what, timeout, s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inSync waits until its host is in sync at revision rev (any, if 0).
func (d *hloomd) inSync(rev int64, timeout time.Duration) (*api.Status, error) {
	name := fmt.Sprintf("h%d", d.host)
	return d.waitFor(fmt.Sprintf("%s in sync at revision %d", name, rev), timeout, func(s *api.Status) bool {
		for _, h := range s.Hosts {
			if h.Host == name {
				return h.State == api.StateInSync && (rev == 0 || h.Revision == rev)
			}
		}
		return false
	})
}

// put writes the topology through the API (not measured).
func (d *hloomd) put(rev int64, yaml string) error {
	a, err := d.call(http.MethodPut, "topology", putBody(rev, yaml), true)
	if err != nil {
		return err
	}
	if a.code != http.StatusOK {
		return d.fail("PUT topology: %d %s", a.code, a.first)
	}
	return nil
}

// ready puts the base topology of its host and waits for it in sync.
func (d *hloomd) ready() error {
	if err := d.put(0, hostileBase(d.host, "")); err != nil {
		return err
	}
	_, err := d.inSync(1, 30*time.Second)
	return err
}

// procStatusKB reads a field of /proc/PID/status, in kB.
func procStatusKB(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// settle waits until loomd has used no CPU for 100 ms (at most 5 s), then
// returns its RSS and resets its high-water mark to it.
func (d *hloomd) settle() (int64, error) {
	deadline := time.Now().Add(5 * time.Second)
	prev := time.Duration(-1)
	for time.Now().Before(deadline) {
		st, err := procCPU(d.pid)
		if err != nil {
			return 0, d.fail("read /proc: %v", err)
		}
		if st.self == prev {
			break
		}
		prev = st.self
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", d.pid), []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("reset VmHWM: %w", err)
	}
	return procStatusKB(d.pid, "VmRSS") * 1024, nil
}

func (d *hloomd) hwm() int64 { return procStatusKB(d.pid, "VmHWM") * 1024 }

func fdCount(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// up checks that loomd's process runs and /healthz answers.
func (d *hloomd) up() error {
	if !d.alive() {
		return d.fail("loomd exited")
	}
	if err := syscall.Kill(d.pid, 0); err != nil {
		return d.fail("loomd's process: %v", err)
	}
	resp, err := d.client.Get("http://" + d.addr + "/healthz")
	if err != nil {
		return d.fail("/healthz: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d.fail("/healthz: %s", resp.Status)
	}
	return nil
}

func (d *hloomd) ofctl(args ...string) (string, error) {
	out, err := exec.Command("ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ovs-ofctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// repair deletes every Loom flow on its host's switch by hand and returns
// how long loomd took to put them all back: proof that it still
// reconciles its hosts.
func (d *hloomd) repair() (time.Duration, error) {
	name := fmt.Sprintf("h%d", d.host)
	s, err := d.inSync(0, 30*time.Second)
	if err != nil {
		return 0, err
	}
	want := -1
	for _, h := range s.Hosts {
		if h.Host == name {
			want = h.Flows
		}
	}
	mgmt := "unix:" + filepath.Join(d.labDir, name, "br-int.mgmt")
	if _, err := d.ofctl("del-flows", mgmt, benchCookies); err != nil {
		return 0, err
	}
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		out, err := d.ofctl("dump-aggregate", mgmt, benchCookies)
		if m := flowCountRE.FindStringSubmatch(out); err == nil && m != nil && m[1] == strconv.Itoa(want) {
			return time.Since(start), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, d.fail("the %d Loom flows deleted by hand on %s were not back within 10 s", want, name)
}

// ---------------------------------------------------------------------------
// Requests.

// hanswer is loomd's answer to one request.
type hanswer struct {
	code       int
	msg        string // the error message's first line, or "valid", "revision N"
	first      string // the first problem (file:line:col: ...), else msg
	problems   int    // problems listed
	retryAfter string
	took       time.Duration // from the request's first byte to the whole answer
	body       []byte
}

// call sends one request on a connection of its own, as is: the body
// goes out while the answer is read, so that an answer given before the
// whole body was read (413) is seen as the client sees it.
func (d *hloomd) call(method, path string, body []byte, auth bool) (*hanswer, error) {
	c, err := nsDial(d.ns)(context.Background(), "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Minute))
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s%s HTTP/1.1\r\nHost: loomd\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n", method, api.Prefix, path, len(body))
	if auth {
		fmt.Fprintf(&head, "Authorization: Bearer %s\r\n", hostileToken)
	}
	head.WriteString("\r\n")
	start := time.Now()
	go func() {
		if _, err := c.Write(head.Bytes()); err == nil {
			c.Write(body) // loomd may answer and close first
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	a := &hanswer{code: resp.StatusCode, took: time.Since(start), retryAfter: resp.Header.Get("Retry-After"), body: b}
	a.parse()
	return a, nil
}

func (a *hanswer) parse() {
	var v struct {
		Valid    *bool         `json:"valid"`
		Errors   []api.Problem `json:"errors"`
		Message  string        `json:"error"`
		Problems []api.Problem `json:"problems"`
		Revision int64         `json:"revision"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		a.msg, _, _ = strings.Cut(string(a.body), "\n")
		a.first = a.msg
		return
	}
	list := append(v.Errors, v.Problems...)
	a.problems = len(list)
	switch {
	case v.Message != "":
		a.msg, _, _ = strings.Cut(v.Message, "\n")
	case v.Valid != nil && *v.Valid:
		a.msg = "valid"
	case v.Valid != nil:
		a.msg = "not valid"
	case a.code == http.StatusOK:
		a.msg = fmt.Sprintf("revision %d", v.Revision)
	}
	a.first = a.msg
	if len(list) > 0 {
		a.first = list[0].String()
	}
}

// summary is the answer as the table shows it.
func (a *hanswer) summary() string {
	if a.code == 0 { // not an HTTP answer: the status loomd shows
		return fmt.Sprintf("GET status: %q: %s", a.msg, a.first)
	}
	if a.first != a.msg {
		return fmt.Sprintf("%d %q: %s", a.code, a.msg, a.first)
	}
	return fmt.Sprintf("%d %s", a.code, a.first)
}

// ---------------------------------------------------------------------------
// Figures.

// spread is a median and its range over runs.
type spread []float64

func (s spread) stats() (med, lo, hi float64) {
	v := append([]float64(nil), s...)
	sort.Float64s(v)
	if len(v) == 0 {
		return 0, 0, 0
	}
	med = v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return med, v[0], v[len(v)-1]
}

func (hb *hostileBench) report(figure string, s spread, unit, note string) {
	med, lo, hi := s.stats()
	rng := fmt.Sprintf("median of %d, %s–%s", len(s), num3(lo), num3(hi))
	if note != "" {
		rng += "; " + note
	}
	benchReport(hb.t, benchResult{Section: "hostile input", Figure: figure, Value: med, Unit: unit, Note: rng})
}

// num3 writes v with about three significant digits, without exponent.
func num3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// hrun is what one run of a one-request reproducer measured.
type hrun struct {
	a      *hanswer
	took   time.Duration
	mem    int64 // VmHWM after the input minus VmRSS before, bytes
	idle   int64 // that VmRSS
	repair time.Duration
}

func (hb *hostileBench) reportRuns(name string, runs []hrun, extra string) {
	var took, mem spread
	var repairs []string
	for _, r := range runs {
		took = append(took, r.took.Seconds())
		mem = append(mem, float64(r.mem)/mib)
		repairs = append(repairs, fmt.Sprintf("%.2f", r.repair.Seconds()))
	}
	idle := float64(runs[0].idle) / mib
	note := runs[0].a.summary()
	if extra != "" {
		note += "; " + extra
	}
	hb.report(name+": time to the answer", took, "s", note)
	hb.report(name+": loomd memory over idle", mem, "MiB",
		fmt.Sprintf("VmHWM after minus VmRSS before (%.0f MiB); then up, and its host's flows deleted by hand put back in %s s", idle, strings.Join(repairs, ", ")))
}

// ---------------------------------------------------------------------------
// The benchmark.

func TestBenchHostile(t *testing.T) {
	requireBench(t)
	runs := benchEnvInt(t, "LOOM_BENCH_HOSTILE_RUNS", 3)
	bench := time.Now()
	hb := &hostileBench{t: t, bin: filepath.Join(benchBinaries(t), "loomd"), tmp: t.TempDir()}
	quiesce(t)
	use0 := cpuTimes()
	t.Cleanup(func() { t.Logf("machine during the hostile-input benchmark: %s", machineUse(use0, cpuTimes())) })
	hb.lab = NewLab(t, hostilePrefix, 4)
	t.Cleanup(func() {
		hb.mu.Lock()
		defer hb.mu.Unlock()
		for _, d := range hb.all {
			d.stop()
		}
	})
	hb.labDir = os.Getenv("LOOM_LAB_DIR")
	if hb.labDir == "" {
		hb.labDir = "/run/loom-lab/" + hostilePrefix
	}
	hb.lab.Workload("h1", "wa", "02:00:00:00:00:0a", "10.1.0.10/24")

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// One request to a fresh loomd of host h1, per input.
	errPos := `^t\.yaml:\d+:\d+: `
	invalid := `^the topology is invalid \(\d+ problems?\), nothing was changed$`
	big := hostilePorts(40000)
	terse := hostileTerse(40000)
	physnets := hostilePhysnets(280)
	aliases := hostileAliases(330)
	const maxBody = 4 * mib // api-max-body's default
	over := hostileErrorsBody(62 * 1000 * 1000)
	full := hostileErrorsBody(maxBody)
	if len(full) > maxBody || len(full) < maxBody-200 {
		t.Fatalf("the body of errors is %d bytes, want just under %d", len(full), maxBody)
	}
	validate := func(name, yaml string, valid bool, first string) hinput {
		in := hinput{name: "validate, " + name, method: http.MethodPost, path: "validate", body: filesBody(yaml), code: http.StatusOK, msg: "^valid$"}
		if !valid {
			in.msg, in.first = "^not valid$", errPos+first
		}
		return in
	}
	put := func(name, yaml, first string) hinput {
		return hinput{name: "PUT topology, " + name, method: http.MethodPut, path: "topology", body: putBody(1, yaml),
			code: http.StatusBadRequest, msg: invalid, first: errPos + first}
	}
	ports40k := `host "h1": 40000 ports: at most 39999 per host are supported \(spread the workloads over more hosts\)$`
	physnets280 := `host "h1": 280 physnets: at most 279 per host are supported$`
	port0 := `acl "z" rule 1: invalid dstPorts "0": port 0 alone cannot be matched`
	bomb := `.*alias \*st: the file's aliases expand to too many values`
	inputs := []hinput{
		{name: "validate, 40,000 ports on one host, a block each (over api-max-body)", method: http.MethodPost, path: "validate", body: filesBody(big),
			code: http.StatusRequestEntityTooLarge, msg: `^request body over the limit of 4 MiB \(4194304 bytes\) \(setting api-max-body\)$`},
		validate("40,000 ports on one host, a line each", terse, false, ports40k),
		put("40,000 ports on one host, a line each", terse, ports40k),
		validate("280 physnets on one host", physnets, false, physnets280),
		put("280 physnets on one host", physnets, physnets280),
		validate("ACL dstPorts: 0-80", hostileBase(1, "0-80"), true, ""),
		{name: "PUT topology, ACL dstPorts: 0-80", method: http.MethodPut, path: "topology", body: putBody(1, hostileBase(1, "0-80")),
			code: http.StatusOK, msg: "^revision 2$", note: "taken; its host then in sync at revision 2",
			after: func(d *hloomd) error {
				_, err := d.inSync(2, 30*time.Second)
				return err
			}},
		validate("ACL dstPorts: 0", hostileBase(1, "0"), false, port0),
		put("ACL dstPorts: 0", hostileBase(1, "0"), port0),
		validate("alias bomb (10.6 KB)", aliases, false, bomb),
		put("alias bomb (10.6 KB)", aliases, bomb),
		{name: "validate, a 62 MB body", method: http.MethodPost, path: "validate", body: over, code: http.StatusRequestEntityTooLarge,
			msg: `^request body over the limit of 4 MiB \(4194304 bytes\) \(setting api-max-body\)$`, note: "Content-Length announced"},
		{name: "validate, a body of errors just under api-max-body (4 MiB)", method: http.MethodPost, path: "validate", body: full, code: http.StatusOK,
			msg: "^not valid$", first: errPos},
		{name: "validate, a valid topology of 2,000 ports (reference)", method: http.MethodPost, path: "validate",
			body: filesBody(string(topotest.Generate(10, 200, 20))), code: http.StatusOK, msg: "^valid$",
			note: "topotest.Generate(10, 200, 20): 10 hosts, 100 switches each on every host; loaded and compiled"},
		{name: "validate, a valid topology of 5,000 ports (reference for the 16 at once)", method: http.MethodPost, path: "validate",
			body: filesBody(string(topotest.Generate(10, 500, 20))), code: http.StatusOK, msg: "^valid$",
			note: "topotest.Generate(10, 500, 20): 10 hosts, 250 switches each on every host; loaded and compiled"},
	}
	t.Logf("inputs: 40,000 ports %d bytes of YAML (a line each: %d), 280 physnets %d, alias bomb %d; errors %d bytes of JSON",
		len(big), len(terse), len(physnets), len(aliases), len(full))
	for _, in := range inputs {
		hb.oneRequest(in, runs, must)
	}
	t.Logf("one-request inputs done after %v", time.Since(bench).Round(time.Second))
	hb.files(runs, big, must)
	t.Logf("topology files done after %v", time.Since(bench).Round(time.Second))
	hb.concurrent(runs, must)
	t.Logf("concurrent validates done after %v", time.Since(bench).Round(time.Second))
	hb.timers(runs, must)
	t.Logf("hostile-input benchmark took %v", time.Since(bench).Round(time.Second))
}

func sizeOf(n int) string {
	switch {
	case n >= 1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

// hinput is a reproducer of one request.
type hinput struct {
	name   string
	method string
	path   string // under /api/v1/
	body   []byte
	code   int
	msg    string // the message's first line, a regular expression
	first  string // the first problem, a regular expression ("": none)
	note   string
	after  func(*hloomd) error // more checks once loomd is found up
}

// oneRequest runs in runs times, each on a fresh loomd of host h1.
func (hb *hostileBench) oneRequest(in hinput, runs int, must func(error)) {
	t := hb.t
	var rs []hrun
	var listed string
	for range runs {
		d, err := hb.start(1, "")
		must(err)
		must(d.ready())
		idle, err := d.settle()
		must(err)
		a, err := d.call(in.method, in.path, in.body, true)
		must(err)
		r := hrun{a: a, took: a.took, mem: d.hwm() - idle, idle: idle}
		if a.code != in.code || !regexp.MustCompile(in.msg).MatchString(a.msg) || in.first != "" && !regexp.MustCompile(in.first).MatchString(a.first) {
			must(d.fail("%s: got %s, want %d %s %s", in.name, a.summary(), in.code, in.msg, in.first))
		}
		if a.problems > 1 {
			var v api.Error // or api.Validation: the problems are the last entries of either
			var w api.Validation
			json.Unmarshal(a.body, &v)
			json.Unmarshal(a.body, &w)
			list := append(v.Problems, w.Errors...)
			listed = fmt.Sprintf("%d problems listed, the last: %q", len(list), list[len(list)-1].Message)
		}
		must(d.up())
		if in.after != nil {
			must(in.after(d))
		}
		r.repair, err = d.repair()
		must(err)
		d.stop()
		t.Logf("%s: %s in %v, memory +%.1f MiB over %.1f MiB idle, flows back in %v", in.name, a.summary(),
			a.took.Round(time.Millisecond), float64(r.mem)/mib, float64(idle)/mib, r.repair.Round(time.Millisecond))
		rs = append(rs, r)
	}
	note := "request " + sizeOf(len(in.body))
	for _, s := range []string{in.note, listed} {
		if s != "" {
			note += "; " + s
		}
	}
	hb.reportRuns(in.name, rs, note)
}

// files: loomd reading its topology from a file (--topology, reload every
// 100 ms) that becomes issue 12's crasher while it runs, and loomd
// (re)started on that file, with the state the first one left.
func (hb *hostileBench) files(runs int, big string, must func(error)) {
	t := hb.t
	var live, restart []hrun
	var fixed spread
	var inForce []string
	ports40k := regexp.MustCompile(`(^|/)t\.yaml:\d+:\d+: host "h1": 40000 ports: at most 39999 per host are supported`)
	for range runs {
		dir, err := os.MkdirTemp(hb.tmp, "files-")
		must(err)
		file, state := filepath.Join(dir, "t.yaml"), filepath.Join(dir, "state")
		write := func(content string) error {
			if err := os.WriteFile(file+".new", []byte(content), 0o644); err != nil {
				return err
			}
			return os.Rename(file+".new", file)
		}
		must(write(hostileBase(1, "")))
		rejected := func(d *hloomd, timeout time.Duration) (*api.Status, error) {
			s, err := d.waitFor("the files rejected", timeout, func(s *api.Status) bool { return s.Topology.Rejected != "" })
			if err != nil {
				return s, err
			}
			if len(s.Topology.Problems) == 0 || !ports40k.MatchString(s.Topology.Problems[0].String()) {
				return s, d.fail("rejected with %q, %v", s.Topology.Rejected, s.Topology.Problems)
			}
			return s, nil
		}

		// The file replaced while loomd runs.
		d, err := hb.start(1, state, "--topology", file, "--reload-interval", "100ms")
		must(err)
		_, err = d.inSync(1, 30*time.Second)
		must(err)
		idle, err := d.settle()
		must(err)
		start := time.Now()
		must(write(big))
		s, err := rejected(d, 60*time.Second)
		must(err)
		a := &hanswer{msg: s.Topology.Rejected, first: strings.TrimPrefix(s.Topology.Problems[0].String(), dir+"/")}
		r := hrun{a: a, took: time.Since(start), mem: d.hwm() - idle, idle: idle}
		if !s.Topology.Loaded || s.Topology.Revision != 1 {
			must(d.fail("the running topology is gone: %+v", s.Topology))
		}
		must(d.up())
		r.repair, err = d.repair()
		must(err)
		d.stop()
		t.Logf("file replaced: %q %s in %v, memory +%.1f MiB over %.1f MiB idle, flows back in %v", a.msg, a.first,
			r.took.Round(time.Millisecond), float64(r.mem)/mib, float64(idle)/mib, r.repair.Round(time.Millisecond))
		live = append(live, r)

		// loomd started again on it, with the state the first one left.
		d, err = hb.start(1, state, "--topology", file, "--reload-interval", "100ms")
		must(err)
		s, err = rejected(d, 60*time.Second)
		must(err)
		a = &hanswer{msg: s.Topology.Rejected, first: strings.TrimPrefix(s.Topology.Problems[0].String(), dir+"/")}
		peak := d.hwm()
		r = hrun{a: a, took: time.Since(d.started), mem: peak - idle, idle: idle}
		must(d.up())
		if !s.Topology.Loaded || s.Topology.Revision != 1 || len(s.Hosts) != 1 {
			must(d.fail("restarted on a rejected file, the stored topology is not in force: %+v, %d hosts", s.Topology, len(s.Hosts)))
		}
		inForce = append(inForce, fmt.Sprintf("loaded %v, revision %d, %d hosts", s.Topology.Loaded, s.Topology.Revision, len(s.Hosts)))
		// It keeps reconciling with the stored topology.
		r.repair, err = d.repair()
		must(err)
		// The file mended: loomd takes it, without a restart.
		start = time.Now()
		must(write(hostileBase(1, "1-80")))
		_, err = d.waitFor("the mended file in force", 30*time.Second, func(s *api.Status) bool {
			return s.Topology.Loaded && s.Topology.Rejected == "" && len(s.Hosts) == 1 && s.Hosts[0].State == api.StateInSync && s.Hosts[0].Revision == s.Topology.Revision
		})
		must(err)
		fixed = append(fixed, time.Since(start).Seconds())
		d.stop()
		t.Logf("restarted on it: %q %s in %v (from exec), VmHWM %.1f MiB; %s; mended file in sync after %.2f s", a.msg, a.first,
			r.took.Round(time.Millisecond), float64(peak)/mib, inForce[len(inForce)-1], fixed[len(fixed)-1])
		restart = append(restart, r)
	}
	hb.reportRuns("--topology file replaced by 40,000 ports on one host while loomd runs", live,
		"time: from the file's rename to GET status showing the rejection (reload-interval 100 ms; a change is taken once two polls agree); the topology in force stays")
	hb.reportRuns("loomd started with --topology on that file", restart,
		fmt.Sprintf("time: from exec to GET status showing the rejection; memory: VmHWM of the new process minus the idle VmRSS of the one before; in force then: %s; file mended, in sync after %s s", inForce[0], fixedList(fixed)))
}

func fixedList(s spread) string {
	var parts []string
	for _, v := range s {
		parts = append(parts, fmt.Sprintf("%.2f", v))
	}
	return strings.Join(parts, ", ")
}

// concurrent: 16 validates of a 5,000-port topology at once.
func (hb *hostileBench) concurrent(runs int, must func(error)) {
	t := hb.t
	body := filesBody(string(topotest.Generate(10, 500, 20)))
	var all, served, busy, mem spread
	var idle int64
	var repairs []string
	var example string
	for range runs {
		d, err := hb.start(1, "")
		must(err)
		must(d.ready())
		idle, err = d.settle()
		must(err)
		answers := make([]*hanswer, 16)
		errs := make([]error, 16)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i], errs[i] = d.call(http.MethodPost, "validate", body, true)
			}()
		}
		wg.Wait()
		took := time.Since(start)
		m := d.hwm() - idle
		n200, n503 := 0, 0
		for i, a := range answers {
			must(errs[i])
			switch {
			case a.code == http.StatusOK && a.msg == "valid":
				n200++
			case a.code == http.StatusServiceUnavailable && a.retryAfter == "1" && strings.HasPrefix(a.msg, "loomd is busy: 2 validate, plan or topology writes are being served"):
				n503++
				example = a.summary()
			default:
				must(d.fail("concurrent validate: got %s", a.summary()))
			}
		}
		if n200 < 2 {
			must(d.fail("only %d of 16 validates served", n200))
		}
		must(d.up())
		rep, err := d.repair()
		must(err)
		d.stop()
		t.Logf("16 concurrent validates: %d served, %d busy, all answered in %v, memory +%.1f MiB over %.1f MiB idle", n200, n503,
			took.Round(time.Millisecond), float64(m)/mib, float64(idle)/mib)
		all = append(all, took.Seconds())
		served = append(served, float64(n200))
		busy = append(busy, float64(n503))
		mem = append(mem, float64(m)/mib)
		repairs = append(repairs, fmt.Sprintf("%.2f", rep.Seconds()))
	}
	what := fmt.Sprintf("16 validates at once of 5,000 ports (%s each)", sizeOf(len(body)))
	hb.report(what+": all answered", all, "s", "topotest.Generate(10, 500, 20); api-max-calls 2: others wait 1 s for a turn, then 503")
	hb.report(what+": served (200, valid)", served, "calls", "")
	hb.report(what+": refused (503)", busy, "calls", example)
	hb.report(what+": loomd memory over idle", mem, "MiB",
		fmt.Sprintf("VmHWM after minus VmRSS before (%.0f MiB); then up, and its host's flows deleted by hand put back in %s s", float64(idle)/mib, strings.Join(repairs, ", ")))
}

// timers: the reproducers that wait on loomd's timeouts, run side by
// side (each with its own loomd and lab host): 3,000 idle connections
// (one run per host h2..h4 at once), and a body sent at a byte a second
// (one run after the other on h1).
func (hb *hostileBench) timers(runs int, must func(error)) {
	t := hb.t
	idles := make([]idleRun, min(runs, 3))
	var slow []hrun
	var slowErr error
	var wg sync.WaitGroup
	var ds []*hloomd
	for i := range idles {
		d, err := hb.start(2+i, "")
		must(err)
		must(d.ready())
		ds = append(ds, d)
	}
	for i := range idles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &idles[i]
			d := ds[i]
			r.idle, r.err = d.settle()
			if r.err != nil {
				return
			}
			r.err = hb.idleConns(d, 3000, r)
			r.mem = d.hwm() - r.idle
			if r.err == nil {
				r.err = d.up()
			}
			if r.err == nil {
				r.repair, r.err = d.repair()
			}
			d.stop()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range runs {
			r, err := hb.slowBody()
			if err != nil {
				slowErr = err
				return
			}
			slow = append(slow, r)
		}
	}()
	wg.Wait()
	must(slowErr)
	var after, end, closed, mem spread
	var repairs []string
	codes := map[int]int{}
	for _, r := range idles {
		must(r.err)
		t.Logf("3,000 idle connections, opened in %v: fds %d before, %d right after, %d after %v; answers %v; memory +%.1f MiB over %.1f MiB idle",
			r.opening.Round(time.Millisecond), r.fds0, r.fdsAfter, r.fdsEnd, r.closedIn.Round(100*time.Millisecond), r.codes, float64(r.mem)/mib, float64(r.idle)/mib)
		after = append(after, float64(r.fdsAfter))
		end = append(end, float64(r.fdsEnd))
		closed = append(closed, r.closedIn.Seconds())
		mem = append(mem, float64(r.mem)/mib)
		repairs = append(repairs, fmt.Sprintf("%.2f", r.repair.Seconds()))
		for c, n := range r.codes {
			codes[c] += n
		}
	}
	what := "3,000 idle keep-alive connections (1,500 after one unauthenticated request)"
	hb.report(what+": loomd's fds right after", after, "fds",
		fmt.Sprintf("%d before; api-max-connections 1024; answers to the requests over %d runs: %s", idles[0].fds0, len(idles), codeList(codes)))
	hb.report(what+": until loomd closed them all", closed, "s", fmt.Sprintf("opening them took %.1f s; from the last one opened to loomd's fds back to their count before (polled every 100 ms); idle timeout 30 s, headers 10 s", idles[0].opening.Seconds()))
	hb.report(what+": loomd's fds then", end, "fds", "")
	hb.report(what+": loomd memory over idle", mem, "MiB",
		fmt.Sprintf("VmHWM after minus VmRSS before (%.0f MiB); then up, and its host's flows deleted by hand put back in %s s; the 3 runs side by side, each its own loomd and lab host", float64(idles[0].idle)/mib, strings.Join(repairs, ", ")))
	hb.reportRuns("a validate body sent at 1 byte/s (Content-Length 1,000,000)", slow, "time: from the headers to loomd's answer and close")
}

func codeList(codes map[int]int) string {
	var keys []int
	for c := range codes {
		keys = append(keys, c)
	}
	sort.Ints(keys)
	var parts []string
	for _, c := range keys {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "none (closed)"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", name, codes[c]))
	}
	return strings.Join(parts, ", ")
}

// idleRun is one run of the idle connections.
type idleRun struct {
	fds0, fdsAfter, fdsEnd int           // loomd's fds before, right after, at the end
	opening, closedIn      time.Duration // to open them all; from then to fds back to fds0
	codes                  map[int]int   // answers to the requests (0: none)
	mem, idle              int64
	repair                 time.Duration
	err                    error
}

// idleConns opens n connections to loomd, sends one unauthenticated
// request on every other one (and reads its answer), and leaves them all
// open; it then waits until loomd's fds are back to their count before
// (at most 45 s).
func (hb *hostileBench) idleConns(d *hloomd, n int, r *idleRun) error {
	r.fds0 = fdCount(d.pid)
	r.codes = map[int]int{}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	err := inNetns(d.ns, func() error {
		for i := range n {
			c, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			conns = append(conns, c)
			if i%2 != 0 {
				continue
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET %sstatus HTTP/1.1\r\nHost: loomd\r\n\r\n", api.Prefix)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				r.codes[0]++
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.codes[resp.StatusCode]++
			c.SetDeadline(time.Time{})
		}
		return nil
	})
	if err != nil {
		return err
	}
	opened := time.Now()
	r.opening = opened.Sub(start)
	r.fdsAfter = fdCount(d.pid)
	for time.Since(opened) < 45*time.Second {
		r.fdsEnd = fdCount(d.pid)
		if r.fdsEnd <= r.fds0 {
			r.closedIn = time.Since(opened)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return d.fail("still %d fds 45 s after the connections were opened (%d before)", r.fdsEnd, r.fds0)
}

// slowBody is one run: a fresh loomd of h1, then a validate whose body
// (1,000,000 bytes announced) comes at a byte a second.
func (hb *hostileBench) slowBody() (hrun, error) {
	d, err := hb.start(1, "")
	if err != nil {
		return hrun{}, err
	}
	defer d.stop()
	if err := d.ready(); err != nil {
		return hrun{}, err
	}
	idle, err := d.settle()
	if err != nil {
		return hrun{}, err
	}
	c, err := nsDial(d.ns)(context.Background(), "tcp", d.addr)
	if err != nil {
		return hrun{}, err
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %svalidate HTTP/1.1\r\nHost: loomd\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{", api.Prefix, hostileToken)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-time.After(time.Second):
			case <-stop:
				return
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(90 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return hrun{}, d.fail("slow body: no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte() // loomd closes the connection
	took := time.Since(start)
	if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		return hrun{}, d.fail("slow body: the connection stays open after the answer (%v)", err)
	}
	a := &hanswer{code: resp.StatusCode, body: b, took: took}
	a.parse()
	if a.code != http.StatusRequestTimeout || !strings.HasPrefix(a.msg, "the request body did not arrive in time: loomd waits 10s for it") {
		return hrun{}, d.fail("slow body: got %s", a.summary())
	}
	r := hrun{a: a, took: took, mem: d.hwm() - idle, idle: idle}
	if err := d.up(); err != nil {
		return r, err
	}
	r.repair, err = d.repair()
	hb.t.Logf("slow body: %s after %v", a.summary(), took.Round(time.Millisecond))
	return r, err
}
