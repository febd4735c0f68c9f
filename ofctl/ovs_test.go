package ofctl

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// Tests against a real ovs-vswitchd (a private instance, see
// ovsdbtest): what Loom writes, the switch holds and Loom reads back are
// the same flows, compared as values, and Loom's comparison says what
// OVS's own (ovs-ofctl diff-flows) says.

// goldenHosts are the compiled hosts of the golden topologies and the
// examples.
func goldenHosts(t *testing.T) []*flows.HostState {
	t.Helper()
	var all []*flows.HostState
	for _, f := range topologies(t) {
		topo, err := topology.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		states, err := flows.Compile(topo)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, hs := range states {
			hs.Host = strings.TrimSuffix(filepath.Base(f), ".yaml") + "/" + hs.Host
			if strings.HasSuffix(f, "topology.yaml") {
				hs.Host = filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(hs.Host)
			}
		}
		all = append(all, states...)
	}
	return all
}

// clearLoom deletes every flow of Loom's cookie space.
func (r *monitorRig) clearLoom() { r.ofctl("del-flows", r.target, cookieSpace) }

// Every golden host's flows, sent by Loom's own path (a bundle from
// empty), dumped and parsed back, are exactly the compiled flows, as
// values; a second Sync finds nothing to do.
func TestGoldenOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	for _, hs := range goldenHosts(t) {
		r.clearLoom()
		p, err := c.Sync(t.Context(), hs.Flows(), nil)
		if err != nil {
			t.Fatalf("%s: %v", hs.Host, err)
		}
		if p.FlowMods() != hs.NumFlows() {
			t.Errorf("%s: from empty, %d flow mods for %d flows", hs.Host, p.FlowMods(), hs.NumFlows())
		}
		obs, err := c.Dump(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(obs.Unknown) > 0 {
			t.Errorf("%s: the switch prints flows Loom cannot read: %v", hs.Host, obs.Unknown)
		}
		missing, extra := flows.Diff(hs.Flows(), obs.Flows)
		for _, i := range missing {
			t.Errorf("%s: compiled but not read back: %s", hs.Host, &hs.Flows()[i])
		}
		for _, j := range extra {
			t.Errorf("%s: read back but not compiled: %s", hs.Host, &obs.Flows[j])
		}
		if len(obs.Flows) != hs.NumFlows() {
			t.Errorf("%s: %d flows read back, %d compiled", hs.Host, len(obs.Flows), hs.NumFlows())
		}
		if p, err := c.Sync(t.Context(), hs.Flows(), nil); err != nil || !p.Empty() {
			t.Errorf("%s: a second Sync: %v, %d flow mods", hs.Host, err, p.FlowMods())
		}
	}
}

// Each flow of flows/testdata/spellings.txt, added by hand, is dumped by
// OVS as recorded there, and both parse to the same value.
func TestSpellingsOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	b, err := os.ReadFile("../flows/testdata/spellings.txt")
	if err != nil {
		t.Fatal(err)
	}
	var w string
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "w "):
			w = line[2:]
			continue
		case !strings.HasPrefix(line, "d "):
			continue
		}
		recorded := line[2:]
		r.ofctl("del-flows", r.target)
		r.ofctl("add-flow", r.target, w)
		dump := r.ofctl("dump-flows", r.target, "--no-stats", "--no-names")
		var got []string
		for _, l := range strings.Split(dump, "\n") {
			if !flows.SkipLine(l) {
				got = append(got, l)
			}
		}
		if len(got) != 1 {
			t.Errorf("%s: dumped as %q", w, got)
			continue
		}
		if got[0] != recorded {
			t.Errorf("%s: dumped as\n%s\nnot as recorded:\n%s", w, got[0], recorded)
		}
		written, err1 := flows.ParseFlow(w)
		dumped, err2 := flows.ParseFlow(got[0])
		if err1 != nil || err2 != nil || !written.Equal(&dumped) {
			t.Errorf("%s: %v %v; written %s, dumped %s", w, err1, err2, &written, &dumped)
		}
		n++
	}
	if n < 40 {
		t.Fatalf("only %d spellings checked", n)
	}
}

// perturb changes one flow of fs (a copy) at random, in one of the ways a
// switch can differ from what Loom wants, and says how.
func perturb(rng *rand.Rand, fs []flows.Flow) ([]flows.Flow, string) {
	out := append([]flows.Flow(nil), fs...)
	i := rng.IntN(len(out))
	f := &out[i]
	// New match and actions: the compiled ones are shared.
	f.Match = append(flows.Match(nil), f.Match...)
	f.Actions = append(flows.Actions(nil), f.Actions...)
	switch rng.IntN(9) {
	case 0:
		return append(out[:i], out[i+1:]...), "a flow missing"
	case 1:
		g := *f
		g.Match = append(flows.Match{flows.Exact(flows.Reg(1), uint64(rng.IntN(1000)))}, f.Match...)
		g.Match, _ = flows.NewMatch(g.Match)
		return append(out, g), "an extra flow"
	case 2:
		f.Priority++
		return out, "a priority"
	case 3:
		f.Cookie ^= 1 << rng.IntN(32)
		return out, "a cookie"
	case 4:
		f.IdleTimeout = uint16(1 + rng.IntN(3600))
		return out, "an idle timeout"
	case 5:
		for k := range f.Match {
			e := &f.Match[k]
			if e.Mask != flows.Ones(e.Field.Bits()) && e.Field != flows.FieldVLANTCI {
				// One bit fewer in the mask.
				low := e.Mask.Lo & -e.Mask.Lo
				if low == 0 || e.Mask.Lo == low {
					e.Mask.Lo |= e.Mask.Lo << 1
				} else {
					e.Mask.Lo &^= low
				}
				e.Value = e.Value.And(e.Mask)
				return out, "a mask"
			}
		}
		fallthrough
	case 6:
		for k := range f.Actions {
			a := &f.Actions[k]
			switch a.Op {
			case flows.OpGotoTable:
				if a.Table < 254 {
					a.Table++
					return out, "a goto_table"
				}
			case flows.OpOutput:
				if a.Port < 60000 {
					a.Port++
					return out, "an output port"
				}
			case flows.OpLoad:
				if a.Bits > 1 {
					a.Value.Lo ^= 1
					return out, "a loaded value"
				}
			case flows.OpResubmit:
				a.Table = 60 + uint8(rng.IntN(10))
				return out, "a resubmit"
			}
		}
		fallthrough
	case 7:
		if len(f.Actions) == 1 && f.Actions[0] == flows.Output(7) {
			f.Actions = nil // drop
		} else {
			f.Actions = flows.Actions{flows.Output(7)}
		}
		return out, "actions"
	default:
		g := *f
		g.Table = uint8((int(f.Table) + 1 + rng.IntN(3)) % 61)
		if len(g.Actions) > 0 && g.Actions[len(g.Actions)-1].Op == flows.OpGotoTable {
			g.Actions = nil
		}
		return append(out, g), "a flow in another table"
	}
}

// diffFlows runs ovs-ofctl diff-flows of a file of desired flows against
// the switch, and parses its lines: "-" what the switch lacks, "+" what it
// holds but the file does not.
func (r *monitorRig) diffFlows(file string) (missing, extra []flows.Flow) {
	r.t.Helper()
	cmd := exec.Command("ovs-ofctl", "-O", "OpenFlow13", "diff-flows", file, r.target)
	cmd.Env = r.s.Env()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 2) {
		r.t.Fatalf("diff-flows: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" {
			continue
		}
		f, err := flows.ParseFlow(l[1:])
		if err != nil {
			r.t.Fatalf("diff-flows line %q: %v", l, err)
		}
		switch l[0] {
		case '-':
			missing = append(missing, f)
		case '+':
			extra = append(extra, f)
		default:
			r.t.Fatalf("diff-flows line %q", l)
		}
	}
	return missing, extra
}

// sameSet tells whether a and b hold the same flows (as values).
func sameSet(a, b []flows.Flow) bool {
	x, y := flows.Diff(a, b)
	return len(x) == 0 && len(y) == 0
}

// Loom's comparison (a dump parsed, compared by value) finds what OVS's
// own (ovs-ofctl diff-flows of the desired flows against the switch)
// finds, over a corpus of switches that differ from the golden hosts'
// flows at random: flows missing or extra, other priorities, cookies,
// timeouts, masks, actions, tables.
func TestComparisonAgreesWithDiffFlows(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	rng := rand.New(rand.NewPCG(13, 1))
	dir := t.TempDir()
	kinds := map[string]int{}
	cases := 0
	for _, hs := range goldenHosts(t) {
		desired := filepath.Join(dir, "desired")
		if err := os.WriteFile(desired, hs.FlowText(), 0o600); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 4; k++ {
			held, how := hs.Flows(), []string{"nothing"} // k == 0: the control, equal
			if k > 0 {
				how = nil
				for n := 1 + rng.IntN(4); n > 0; n-- {
					var what string
					held, what = perturb(rng, held)
					how = append(how, what)
					kinds[what]++
				}
			}
			r.clearLoom()
			file := filepath.Join(dir, "held")
			if err := os.WriteFile(file, flows.AppendFlows(nil, held), 0o600); err != nil {
				t.Fatal(err)
			}
			r.ofctl("--bundle", "add-flows", r.target, file)

			obs, err := c.Dump(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			p, err := PlanFlows(hs.Flows(), obs)
			if err != nil {
				t.Fatal(err)
			}
			// Sync's way: each flow compared as the dump arrives.
			streamed, _, _, err := c.compare(t.Context(), hs.Flows(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(streamed.Missing, p.Missing) || !sameSet(streamed.Extra, p.Extra) ||
				!slices.Equal(streamed.Groups, p.Groups) || !slices.Equal(streamed.Deletes, p.Deletes) || !equalFlows(streamed.Adds, p.Adds) {
				t.Errorf("%s, %s: the streamed comparison plans otherwise", hs.Host, strings.Join(how, ", "))
			}
			missing, extra := r.diffFlows(desired)
			if !sameSet(p.Missing, missing) || !sameSet(p.Extra, extra) || len(p.Unknown) > 0 {
				t.Errorf("%s, %s: Loom finds %d missing, %d extra; diff-flows %d, %d\nLoom missing %v\nOVS missing %v\nLoom extra %v\nOVS extra %v",
					hs.Host, strings.Join(how, ", "), len(p.Missing), len(p.Extra), len(missing), len(extra), p.Missing, missing, p.Extra, extra)
			}
			if k == 0 && (!p.Empty() || len(missing)+len(extra) > 0) {
				t.Errorf("%s: the control differs", hs.Host)
			}
			cases++
		}
	}
	t.Logf("%d cases: %v", cases, kinds)
	if cases < 50 || len(kinds) < 9 {
		t.Errorf("a thin corpus: %d cases, %d kinds of change", cases, len(kinds))
	}
}
