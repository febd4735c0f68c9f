//go:build bench

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBenchCNI times loom-cni as a runtime runs it, on a 2-host lab with
// loomd: ADD (exec to exit, its wait for the port's flows on the host
// included), from ADD's return to the first answered ping of a peer on
// the other host, and DEL; n rounds, each a fresh namespace on h1.
// Figures: median and spread (min, max), as "BENCH {json}" lines for the
// table of make bench. Then the same at issue 14's size
// (LOOM_BENCH_CNI_SIZES, default 50x40: the 3-host lab of TestBenchChange,
// its 2,000 ports on veths, with loomd holding them; "" for none).
func TestBenchCNI(t *testing.T) {
	requireBench(t)
	t.Run("small", func(t *testing.T) {
		cl := newContainerLab(t, "lm-t24-")
		topo := strings.Replace(containerTopology, "subnets: [10.24.0.0/29]", "subnets: [10.24.0.0/24]", 1)
		f := filepath.Join(t.TempDir(), "bench.yaml")
		if err := os.WriteFile(f, []byte(topo), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := cl.Loomctl("apply", "-f", f, "--yes"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		benchCNI(t, cl, "2 hosts, a few ports")
	})
	sizes, ok := os.LookupEnv("LOOM_BENCH_CNI_SIZES")
	if !ok {
		sizes = "50x40"
	}
	for _, s := range strings.Split(sizes, ",") {
		if s == "" {
			continue
		}
		var S, P int
		if _, err := fmt.Sscanf(s, "%dx%d", &S, &P); err != nil || S < 1 || P < 2 {
			t.Fatalf("LOOM_BENCH_CNI_SIZES: bad size %q", s)
		}
		t.Run(s, func(t *testing.T) {
			l := NewLab(t, "lmb9-", 3)
			benchVeths(t, l, S, P)
			for sj, w := range benchWorkloads {
				_, host, mac, ip := benchPort(sj[0], sj[1])
				l.Workload(host, w, mac, ip+"/24")
			}
			cl := &containerLab{Lab: l, t: t, state: filepath.Join(t.TempDir(), "state")}
			cl.loomd = startAPILoomd(t, l, cl.state)
			// The bench topology and switch blue for the containers, on
			// every host.
			topo := strings.Replace(string(convergeTopology(S, P, false)), "ports:\n",
				"  - {name: blue, tunnelKey: 9000, subnets: [10.240.0.0/16], gateways: [10.240.0.1]}\nports:\n", 1)
			f := filepath.Join(t.TempDir(), "bench.yaml")
			if err := os.WriteFile(f, []byte(topo), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := l.Loomctl("apply", "-f", f, "--yes", "--wait", "120s"); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			cl.api = labAPI(l)
			benchCNI(t, cl, fmt.Sprintf("%d ports on 3 hosts (%d switches × %d)", S*P, S, P))
		})
	}
}

// benchCNI measures on cl (loomd holding switch blue on h1 and h2): a
// burst of 100 ADDs at once, then n ADD, ping and DEL rounds, each with
// ADD waiting for the port and not; shape names the lab in the notes.
func benchCNI(t *testing.T, cl *containerLab, shape string) {
	const n = 15
	peer := cl.netns("peer")
	r, out, err := cl.cni("ADD", "peer", "/run/netns/"+peer, "eth0", cl.netconf("blue", "h2", ""))
	if err != nil {
		t.Fatalf("ADD peer: %v\n%s", err, out)
	}
	peerIP, _, _ := strings.Cut(r.IPs[0].Address, "/")
	burst(t, cl, peerIP, 100, "", shape)
	burst(t, cl, peerIP, 100, `, "readyTimeout": "0"`, shape)
	for _, mode := range []struct{ name, extra string }{{"waits for the port's flows", ""}, {"readyTimeout 0", `, "readyTimeout": "0"`}} {
		var add, ping, del []time.Duration
		for i := range n {
			ns := cl.netns(fmt.Sprintf("b%d%s", i, map[bool]string{true: "w", false: "n"}[mode.extra == ""]))
			conf := cl.netconf("blue", "h1", mode.extra)
			id := "bench-" + ns
			start := time.Now()
			if _, out, err := cl.cni("ADD", id, "/run/netns/"+ns, "eth0", conf); err != nil {
				t.Fatalf("ADD %s: %v\n%s", id, err, out)
			}
			added := time.Now()
			add = append(add, added.Sub(start))
			for {
				// -W 0.05: a lost packet costs 50 ms; a figure near a multiple
				// of it says so.
				if exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "0.05", peerIP).Run() == nil {
					break
				}
				if time.Since(added) > 10*time.Second {
					t.Fatalf("%s never reached the peer", id)
				}
			}
			ping = append(ping, time.Since(added))
			start = time.Now()
			if _, out, err := cl.cni("DEL", id, "/run/netns/"+ns, "eth0", conf); err != nil {
				t.Fatalf("DEL %s: %v\n%s", id, err, out)
			}
			del = append(del, time.Since(start))
		}
		for _, m := range []struct {
			name string
			d    []time.Duration
		}{{"cni ADD", add}, {"ping after ADD", ping}, {"cni DEL", del}} {
			slices.Sort(m.d)
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			benchReport(t, benchResult{Section: "containers", Figure: fmt.Sprintf("%s (%s, %s), median", m.name, mode.name, shape), Value: ms(m.d[len(m.d)/2]), Unit: "ms",
				Note: fmt.Sprintf("min %.1f, max %.1f ms; n=%d, %s", ms(m.d[0]), ms(m.d[len(m.d)-1]), len(m.d), shape)})
		}
	}
}

// burst ADDs n containers on h1 at once (n plugin processes) and reports
// how long until every ADD returned and until every container answered a
// ping to the peer, then DELs them all at once.
func burst(t *testing.T, cl *containerLab, peerIP string, n int, extra, shape string) {
	t.Helper()
	conf := cl.netconf("blue", "h1", extra)
	mode := "ADD waits for the port"
	if extra != "" {
		mode = "readyTimeout 0"
	}
	nss := make([]string, n)
	for i := range nss {
		nss[i] = cl.netns(fmt.Sprintf("x%d%s", i, map[bool]string{true: "w", false: "n"}[extra == ""]))
	}
	errs := make(chan error, n)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lastAdd, lastPing time.Duration
	for _, ns := range nss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, out, err := cl.cni("ADD", fmt.Sprintf("burst-%s", ns), "/run/netns/"+ns, "eth0", conf); err != nil {
				errs <- fmt.Errorf("ADD %s: %v\n%s", ns, err, out)
				return
			}
			added := time.Since(start)
			for exec.Command("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "0.05", peerIP).Run() != nil {
				if time.Since(start) > 30*time.Second {
					errs <- fmt.Errorf("%s never reached the peer", ns)
					return
				}
			}
			pinged := time.Since(start)
			mu.Lock()
			lastAdd, lastPing = max(lastAdd, added), max(lastPing, pinged)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	note := fmt.Sprintf("%d plugin processes at once on h1, %s; %s", n, shape, mode)
	benchReport(t, benchResult{Section: "containers", Figure: fmt.Sprintf("burst of %d ADDs (%s): the last returned", n, shape), Value: ms(lastAdd), Unit: "ms", Note: note})
	benchReport(t, benchResult{Section: "containers", Figure: fmt.Sprintf("burst of %d ADDs (%s): all pinging", n, shape), Value: ms(lastPing), Unit: "ms", Note: note})
	start = time.Now()
	for _, ns := range nss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, out, err := cl.cni("DEL", fmt.Sprintf("burst-%s", ns), "/run/netns/"+ns, "eth0", conf); err != nil {
				t.Errorf("DEL %s: %v\n%s", ns, err, out)
			}
		}()
	}
	wg.Wait()
	benchReport(t, benchResult{Section: "containers", Figure: fmt.Sprintf("burst of %d DELs: the last returned", n), Value: ms(time.Since(start)), Unit: "ms", Note: note})
}
