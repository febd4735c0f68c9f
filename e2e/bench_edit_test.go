//go:build bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
)

// TestBenchEdit: how long `loomctl port add` and `loomctl port del` take
// to return at S×P ports (default 50×40: 2,000 ports on 3 hosts, the
// topology of TestBenchConverge), against the path loomctl took before
// (GET the whole topology, splice the YAML, validate it, PUT it back),
// alternating, LOOM_BENCH_EDIT_RUNS times (5) each.
//
// loomd runs as a process with its hosts at addresses where nobody
// listens (loopback ports 1 to 3: refused at once), so no lab is needed
// and no reconcile competes with the edits: what is measured is loomctl
// and loomd, up to the answer (compile, store, hand-over to the workers
// included; the push to the switches comes after, see TestBenchConverge).
// The new path is the real loomctl binary (process start included); its
// steps inside loomd come from the answer's timings. The old path is run
// in this process with the calls the old loomctl made (api.Client
// Topology, edit.Add or edit.Delete on the whole files, topology.LoadBytes,
// PutTopology): it is the old path without its process start (loomctl
// version --client measures that), against this loomd, whose PUT now
// parses again only what changed (the old one parsed everything: about
// 40 ms more at 2,000 ports).
func TestBenchEdit(t *testing.T) {
	bin := benchBinaries(t)
	runs := benchEnvInt(t, "LOOM_BENCH_EDIT_RUNS", 5)
	spec := os.Getenv("LOOM_BENCH_EDIT_SIZES")
	if spec == "" {
		spec = "50x40,100x40"
	}
	for _, s := range strings.Split(spec, ",") {
		var S, P int
		if _, err := fmt.Sscanf(s, "%dx%d", &S, &P); err != nil || S < 1 || P < 2 {
			t.Fatalf("LOOM_BENCH_EDIT_SIZES: bad size %q (want SxP, e.g. 50x40)", s)
		}
		t.Run(s, func(t *testing.T) { benchEditSize(t, bin, S, P, runs) })
	}
}

var benchHostAddr = regexp.MustCompile(`tcp:198\.18\.0\.1(\d):6640`)

func benchEditSize(t *testing.T, bin string, S, P, runs int) {
	quiesce(t)
	use0 := cpuTimes()
	t.Cleanup(func() { t.Logf("machine during the run: %s", machineUse(use0, cpuTimes())) })
	dir := t.TempDir()
	topo := benchHostAddr.ReplaceAll(convergeTopology(S, P, false), []byte("tcp:127.0.0.1:$1"))
	file := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(file, topo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
	addr := filepath.Join(dir, "addr")
	var log syncBuffer
	loomd := exec.Command(filepath.Join(bin, "loomd"), "--config", filepath.Join(dir, "none.yaml"), "--listen", "127.0.0.1:0",
		"--address-file", addr, "--state-dir", filepath.Join(dir, "state"), "--log-level", "warn", "--backoff-max", "60s")
	loomd.Stdout, loomd.Stderr = &log, &log
	if err := loomd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		loomd.Process.Signal(os.Interrupt)
		loomd.Wait()
		if t.Failed() {
			t.Logf("loomd log:\n%s", log.String())
		}
	})
	var server string
	for deadline := time.Now().Add(10 * time.Second); server == ""; {
		if b, err := os.ReadFile(addr); err == nil && strings.HasSuffix(string(b), "\n") {
			server = "http://" + strings.TrimSpace(string(b))
		} else if time.Now().After(deadline) {
			t.Fatalf("loomd did not listen:\n%s", log.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	loomctl := func(args ...string) (time.Duration, []byte) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "loomctl"), append([]string{"--server", server, "--config", ""}, args...)...)
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("loomctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return took, out
	}
	loomctl("apply", "-f", file, "--yes", "--wait", "0")
	client := &api.Client{Server: server}
	ctx := context.Background()

	// The old path: what loomctl did before loomd took edits.
	old := func(change func(edit.Files) (edit.Files, error)) (time.Duration, []api.Timing) {
		t.Helper()
		start := time.Now()
		cur, err := client.Topology(ctx)
		if err != nil {
			t.Fatal(err)
		}
		after, err := change(edit.Files(api.BytesOf(cur.Files)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := topology.LoadBytes(after); err != nil {
			t.Fatal(err)
		}
		a, err := client.PutTopology(ctx, api.TopologyUpdate{Revision: cur.Revision, Files: api.FilesOf(after)})
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start), a.Timings
	}
	type sample struct {
		took  time.Duration
		steps map[string]float64 // ms
	}
	stepsOf := func(ts []api.Timing) map[string]float64 {
		m := map[string]float64{}
		for _, s := range ts {
			m[s.Step] += s.Ms
		}
		return m
	}
	results := map[string][]sample{}
	record := func(what string, took time.Duration, ts []api.Timing) {
		results[what] = append(results[what], sample{took, stepsOf(ts)})
	}
	newEdit := func(args ...string) (time.Duration, []api.Timing) {
		took, out := loomctl(append(args, "-o", "json")...)
		var res struct {
			Timings []api.Timing `json:"timings"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return took, res.Timings
	}
	fields := func(name string) []edit.Field {
		return []edit.Field{{Key: "switch", Value: "s0"}, {Key: "host", Value: "h3"}, {Key: "mac", Value: "auto"}, {Key: "interface", Value: "lm-" + name}}
	}
	for r := 0; r <= runs; r++ { // run 0 warms up
		name := fmt.Sprintf("nb%d", r)
		tookAdd, tsAdd := newEdit("port", "add", "s0", name, "--host", "h3", "--interface", "lm-"+name)
		tookDel, tsDel := newEdit("port", "del", name)
		name = fmt.Sprintf("ob%d", r)
		oldAdd, osAdd := old(func(f edit.Files) (edit.Files, error) { return edit.Add(f, edit.Ports, name, fields(name)) })
		oldDel, osDel := old(func(f edit.Files) (edit.Files, error) { return edit.Delete(f, edit.Ports, name) })
		start, _ := loomctl("version", "--client")
		if r == 0 {
			continue
		}
		record("new add", tookAdd, tsAdd)
		record("new del", tookDel, tsDel)
		record("old add", oldAdd, osAdd)
		record("old del", oldDel, osDel)
		record("start", start, nil)
	}
	shape := fmt.Sprintf("%d switches × %d ports (%d ports), 3 hosts", S, P, S*P)
	dur := func(xs []sample, f func(sample) time.Duration) (time.Duration, string) {
		var ds []time.Duration
		for _, x := range xs {
			ds = append(ds, f(x))
		}
		return median(ds), secs(ds)
	}
	stepNote := func(xs []sample) string {
		names := map[string]bool{}
		for _, x := range xs {
			for n := range x.steps {
				names[n] = true
			}
		}
		order := []string{"edit", "load", "compile", "store", "install"}
		var parts []string
		for _, n := range order {
			if !names[n] {
				continue
			}
			var vs []float64
			for _, x := range xs {
				vs = append(vs, x.steps[n]/1000)
			}
			parts = append(parts, fmt.Sprintf("%s %.1f ms", n, medianF(vs)*1000))
		}
		return "loomd's steps (medians): " + strings.Join(parts, ", ")
	}
	for _, f := range []struct{ key, figure, note string }{
		{"new add", "loomctl port add returns", "loomd makes the edit (POST edits); the loomctl process, start to exit"},
		{"old add", "before: loomctl port add (GET, splice, validate, PUT)", "the old path's calls in the bench's process (no process start)"},
		{"new del", "loomctl port del returns", "loomd makes the edit (POST edits); the loomctl process, start to exit"},
		{"old del", "before: loomctl port del (GET, splice, validate, PUT)", "the old path's calls in the bench's process (no process start)"},
	} {
		m, all := dur(results[f.key], func(s sample) time.Duration { return s.took })
		benchReport(t, benchResult{Section: "edit", Figure: fmt.Sprintf("%dx%d: %s", S, P, f.figure), Value: m.Seconds(), Unit: "s",
			Note: fmt.Sprintf("%s; %s; median of %d: %s; %s", shape, f.note, len(results[f.key]), all, stepNote(results[f.key]))})
		// The same without the compile: what the parts this change owns
		// cost (the compile is flows/'s).
		m, all = dur(results[f.key], func(s sample) time.Duration {
			return s.took - time.Duration(s.steps["compile"]*float64(time.Millisecond))
		})
		benchReport(t, benchResult{Section: "edit", Figure: fmt.Sprintf("%dx%d: %s, less loomd's compile", S, P, f.figure), Value: m.Seconds(), Unit: "s",
			Note: fmt.Sprintf("%s; median of %d: %s", shape, len(results[f.key]), all)})
	}
	m, all := dur(results["start"], func(s sample) time.Duration { return s.took })
	benchReport(t, benchResult{Section: "edit", Figure: "loomctl start and exit (version --client)", Value: m.Seconds(), Unit: "s",
		Note: fmt.Sprintf("median of %d: %s", len(results["start"]), all)})

	// A burst: n loomctl port add at once (containers started together),
	// until the last returns; loomd makes those that wait behind a change
	// together (one compile for a batch).
	n := benchEnvInt(t, "LOOM_BENCH_EDIT_BURST", 50)
	var bursts []time.Duration
	var compiles []float64
	for r := 0; r < min(runs, 3); r++ {
		start := time.Now()
		errs := make(chan error, n)
		compileMs := make(chan float64, n)
		for i := 0; i < n; i++ {
			go func(i int) {
				name := fmt.Sprintf("u%d-%d", r, i)
				out, err := exec.Command(filepath.Join(bin, "loomctl"), "--server", server, "--config", "", "-o", "json",
					"port", "add", "s1", name, "--host", "h3", "--interface", "lm-"+name).Output()
				var res struct {
					Timings []api.Timing `json:"timings"`
				}
				if err == nil {
					err = json.Unmarshal(out, &res)
				}
				for _, s := range res.Timings {
					if s.Step == "compile" {
						compileMs <- s.Ms
					}
				}
				errs <- err
			}(i)
		}
		for i := 0; i < n; i++ {
			if err := <-errs; err != nil {
				t.Fatalf("burst: %v", err)
			}
		}
		bursts = append(bursts, time.Since(start))
		close(compileMs)
		distinct := map[float64]bool{}
		for c := range compileMs {
			distinct[c] = true
		}
		compiles = append(compiles, float64(len(distinct)))
		var dels []api.Edit // untimed: back to S×P ports, in one edit
		for i := 0; i < n; i++ {
			dels = append(dels, api.Edit{Op: "del", Kind: "port", Name: fmt.Sprintf("u%d-%d", r, i)})
		}
		if _, err := client.Edit(ctx, api.EditRequest{Edits: dels}); err != nil {
			t.Fatal(err)
		}
	}
	benchReport(t, benchResult{Section: "edit", Figure: fmt.Sprintf("%dx%d: %d loomctl port add at once, the last returns", S, P, n), Value: median(bursts).Seconds(), Unit: "s",
		Note: fmt.Sprintf("%s; median of %d: %s; loomd compiled %v times a burst (edits that wait are made together)", shape, len(bursts), secs(bursts), compiles)})
}
