package ovsdb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// baseSpec is a bridge with a workload port and a tunnel port.
func baseSpec() BridgeSpec {
	return BridgeSpec{
		Name:             "br-int",
		DatapathType:     "netdev",
		ControllerTarget: "ptcp:6653:127.0.0.1",
		Ports: []PortSpec{
			{
				Name:          "lm-web1",
				OfportRequest: 17,
				ExternalIDs:   map[string]string{"loom-object": "endpoint/web1"},
			},
			{
				Name:          "gre-h2",
				Type:          "gre",
				Options:       map[string]string{"remote_ip": "198.19.0.11", "key": "flow"},
				OfportRequest: 3,
			},
		},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(ctxT(t), addr, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func plan(t *testing.T, c *Client, spec BridgeSpec) *Plan {
	t.Helper()
	p, err := c.Plan(ctxT(t), spec)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

func apply(t *testing.T, c *Client, spec BridgeSpec) *Plan {
	t.Helper()
	p := plan(t, c, spec)
	if err := c.Apply(ctxT(t), p); err != nil {
		t.Fatalf("Apply: %v\nplan:\n%s", err, p)
	}
	return p
}

// wantEmpty checks that spec is fully applied: a new plan changes nothing.
func wantEmpty(t *testing.T, c *Client, spec BridgeSpec) {
	t.Helper()
	if p := plan(t, c, spec); !p.Empty() || len(p.Changes) > 0 {
		t.Fatalf("plan after apply is not empty:\n%s", p)
	}
}

func wantChanges(t *testing.T, p *Plan, want ...string) {
	t.Helper()
	if !slices.Equal(p.Changes, want) {
		t.Fatalf("changes:\n  got  %q\n  want %q", p.Changes, want)
	}
}

func wantGet(t *testing.T, s *ovsdbtest.Server, want string, args ...string) {
	t.Helper()
	if got := s.Vsctl(t, append([]string{"get"}, args...)...); got != want {
		t.Errorf("ovs-vsctl get %s = %s, want %s", strings.Join(args, " "), got, want)
	}
}

func TestCreateFromEmpty(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()

	p := apply(t, c, spec)
	wantChanges(t, p,
		"create bridge br-int",
		"add port gre-h2 (type gre, ofport 3)",
		"add port lm-web1 (ofport 17)",
	)
	if len(p.Foreign) != 0 {
		t.Errorf("foreign = %q, want none", p.Foreign)
	}

	wantGet(t, s, "secure", "Bridge", "br-int", "fail_mode")
	wantGet(t, s, `[OpenFlow13]`, "Bridge", "br-int", "protocols")
	wantGet(t, s, "netdev", "Bridge", "br-int", "datapath_type")
	wantGet(t, s, "loom", "Bridge", "br-int", "external_ids:loom-owner")
	if got := s.Vsctl(t, "get-controller", "br-int"); got != "ptcp:6653:127.0.0.1" {
		t.Errorf("controller = %q", got)
	}
	wantGet(t, s, "loom", "Controller", s.Vsctl(t, "--bare", "--columns=_uuid", "list", "Controller"), "external_ids:loom-owner")
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "gre-h2\nlm-web1" {
		t.Errorf("list-ports = %q", got)
	}
	// The bridge's own port, internal, also Loom's.
	wantGet(t, s, "internal", "Interface", "br-int", "type")
	wantGet(t, s, "loom", "Port", "br-int", "external_ids:loom-owner")

	wantGet(t, s, "17", "Interface", "lm-web1", "ofport_request")
	wantGet(t, s, `""`, "Interface", "lm-web1", "type")
	wantGet(t, s, `{loom-object="endpoint/web1", loom-owner=loom}`, "Interface", "lm-web1", "external_ids")
	wantGet(t, s, `{loom-object="endpoint/web1", loom-owner=loom}`, "Port", "lm-web1", "external_ids")
	wantGet(t, s, "3", "Interface", "gre-h2", "ofport_request")
	wantGet(t, s, "gre", "Interface", "gre-h2", "type")
	wantGet(t, s, `{key=flow, remote_ip="198.19.0.11"}`, "Interface", "gre-h2", "options")
	wantGet(t, s, `{loom-owner=loom}`, "Interface", "gre-h2", "external_ids")

	// A second apply changes nothing, on this client and on a fresh one.
	wantEmpty(t, c, spec)
	wantEmpty(t, dial(t, s.Addr), spec)
	// An empty plan sends nothing.
	if err := c.Apply(ctxT(t), plan(t, c, spec)); err != nil {
		t.Fatalf("Apply(empty): %v", err)
	}
}

func TestChangeOneOption(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)
	before := s.Vsctl(t, "get", "Interface", "lm-web1", "_uuid")

	spec.Ports[1].Options["remote_ip"] = "198.19.0.12"
	p := apply(t, c, spec)
	wantChanges(t, p, "update port gre-h2: options:remote_ip 198.19.0.11 -> 198.19.0.12")
	wantGet(t, s, `"198.19.0.12"`, "Interface", "gre-h2", "options:remote_ip")
	wantGet(t, s, "flow", "Interface", "gre-h2", "options:key")
	wantEmpty(t, c, spec)
	if after := s.Vsctl(t, "get", "Interface", "lm-web1", "_uuid"); after != before {
		t.Errorf("lm-web1 was replaced: %s -> %s", before, after)
	}
}

func TestUpdatePortColumns(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)

	spec.Ports[0].Type = "internal"
	spec.Ports[0].OfportRequest = 18
	spec.Ports[0].ExternalIDs = map[string]string{"loom-object": "endpoint/web2"}
	spec.Ports[1].Options = map[string]string{"remote_ip": "198.19.0.11"} // key removed
	spec.Ports[1].OfportRequest = 0                                       // unset
	p := apply(t, c, spec)
	wantChanges(t, p,
		"update port gre-h2: ofport_request 3 -> (none)",
		"update port gre-h2: options:key flow -> (none)",
		"update port lm-web1: external_ids:loom-object endpoint/web1 -> endpoint/web2",
		"update port lm-web1: ofport_request 17 -> 18",
		"update port lm-web1: type system -> internal",
	)
	wantGet(t, s, "internal", "Interface", "lm-web1", "type")
	wantGet(t, s, "18", "Interface", "lm-web1", "ofport_request")
	wantGet(t, s, `{loom-object="endpoint/web2", loom-owner=loom}`, "Port", "lm-web1", "external_ids")
	wantGet(t, s, `[]`, "Interface", "gre-h2", "ofport_request")
	wantGet(t, s, `{remote_ip="198.19.0.11"}`, "Interface", "gre-h2", "options")
	wantEmpty(t, c, spec)
}

func TestDeletePort(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	spec.Ports = append(spec.Ports, PortSpec{Name: "lm-old", Type: "internal", OfportRequest: 30})
	apply(t, c, spec)
	greUUID := s.Vsctl(t, "get", "Interface", "gre-h2", "_uuid")

	spec.Ports = spec.Ports[:2]
	p := apply(t, c, spec)
	wantChanges(t, p, "delete port lm-old")
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "gre-h2\nlm-web1" {
		t.Errorf("list-ports = %q", got)
	}
	// Garbage collection took the Port and, through it, the Interface.
	if got := s.Vsctl(t, "--columns=name", "find", "Port", "name=lm-old"); got != "" {
		t.Errorf("Port lm-old still exists: %q", got)
	}
	if got := s.Vsctl(t, "--columns=name", "find", "Interface", "name=lm-old"); got != "" {
		t.Errorf("Interface lm-old still exists: %q", got)
	}
	if got := s.Vsctl(t, "get", "Interface", "gre-h2", "_uuid"); got != greUUID {
		t.Errorf("gre-h2 was replaced")
	}
	wantEmpty(t, c, spec)
}

func TestForeignPortLeftAlone(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)

	s.Vsctl(t, "add-port", "br-int", "lmo-foreign", "--", "set", "Interface", "lmo-foreign", "type=internal")
	p := plan(t, c, spec)
	if !p.Empty() {
		t.Fatalf("plan with a foreign port is not empty:\n%s", p)
	}
	if want := []string{"port lmo-foreign"}; !slices.Equal(p.Foreign, want) {
		t.Errorf("foreign = %q, want %q", p.Foreign, want)
	}

	// Removing every Loom port from the spec deletes only Loom's ports.
	spec.Ports = nil
	p = apply(t, c, spec)
	wantChanges(t, p, "delete port gre-h2", "delete port lm-web1")
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "lmo-foreign" {
		t.Errorf("list-ports = %q, want lmo-foreign", got)
	}

	// Loom refuses to take over a foreign port that the spec names.
	spec.Ports = []PortSpec{{Name: "lmo-foreign", Type: "internal"}}
	_, err := c.Plan(ctxT(t), spec)
	if !errors.Is(err, ErrForeignPort) {
		t.Fatalf("Plan with a foreign port in the spec: err = %v, want ErrForeignPort", err)
	}
	t.Logf("error: %v", err)

	// Nor a port of that name on another bridge.
	s.Vsctl(t, "add-br", "br-other", "--", "add-port", "br-other", "lm-taken")
	spec.Ports = []PortSpec{{Name: "lm-taken"}}
	_, err = c.Plan(ctxT(t), spec)
	if !errors.Is(err, ErrForeignPort) || !strings.Contains(err.Error(), `on bridge "br-other"`) {
		t.Fatalf("Plan with a port of another bridge: err = %v, want ErrForeignPort naming br-other", err)
	}
}

func TestForeignBridgeRefused(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	s.Vsctl(t, "add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev")
	spec := baseSpec()

	_, err := c.Plan(ctxT(t), spec)
	if !errors.Is(err, ErrForeignBridge) {
		t.Fatalf("err = %v, want ErrForeignBridge", err)
	}
	for _, want := range []string{`"br-int"`, "ovs-vsctl del-br br-int", "ovs-vsctl br-set-external-id br-int loom-owner loom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// Handed over by the operator: Loom fixes what drifted.
	s.Vsctl(t, "br-set-external-id", "br-int", OwnerKey, OwnerValue)
	p := apply(t, c, spec)
	wantChanges(t, p,
		"update bridge br-int: controller (none) -> ptcp:6653:127.0.0.1",
		"update bridge br-int: fail_mode (none) -> secure",
		"update bridge br-int: protocols [] -> [OpenFlow13]",
		"add port gre-h2 (type gre, ofport 3)",
		"add port lm-web1 (ofport 17)",
	)
	// The bridge's own port was created by ovs-vsctl: not Loom's, and not
	// reported (it is the bridge's).
	if len(p.Foreign) != 0 {
		t.Errorf("foreign = %q", p.Foreign)
	}
	wantEmpty(t, c, spec)
}

func TestBridgeDrift(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)

	s.Vsctl(t, "set", "Bridge", "br-int", "fail_mode=standalone", "protocols=OpenFlow10,OpenFlow13", "datapath_type=system")
	s.Vsctl(t, "set", "Controller", s.Vsctl(t, "--bare", "--columns=_uuid", "list", "Controller"), `target="ptcp:6654"`)
	p := apply(t, c, spec)
	wantChanges(t, p,
		"update bridge br-int: controller ptcp:6654 -> ptcp:6653:127.0.0.1",
		"update bridge br-int: datapath_type system -> netdev",
		"update bridge br-int: fail_mode standalone -> secure",
		"update bridge br-int: protocols [OpenFlow10 OpenFlow13] -> [OpenFlow13]",
	)
	wantGet(t, s, "secure", "Bridge", "br-int", "fail_mode")
	if got := s.Vsctl(t, "get-controller", "br-int"); got != "ptcp:6653:127.0.0.1" {
		t.Errorf("controller = %q", got)
	}
	wantEmpty(t, c, spec)

	// A foreign controller is reported and kept; a missing Loom one re-added.
	s.Vsctl(t, "set-controller", "br-int", "tcp:127.0.0.1:6699")
	p = apply(t, c, spec)
	wantChanges(t, p, "update bridge br-int: controller (none) -> ptcp:6653:127.0.0.1")
	if want := []string{"controller tcp:127.0.0.1:6699"}; !slices.Equal(p.Foreign, want) {
		t.Errorf("foreign = %q, want %q", p.Foreign, want)
	}
	if got := s.Vsctl(t, "get-controller", "br-int"); got != "ptcp:6653:127.0.0.1\ntcp:127.0.0.1:6699" {
		t.Errorf("controllers = %q", got)
	}
	wantEmpty(t, c, spec)
}

func TestPortWithExtraInterface(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)

	// Someone adds a second interface to a Loom port.
	s.Vsctl(t, "--", "--id=@i", "create", "Interface", "name=lm-extra", "type=internal",
		"--", "add", "Port", "lm-web1", "interfaces", "@i")
	p := apply(t, c, spec)
	wantChanges(t, p, "update port lm-web1: interfaces [lm-extra lm-web1] -> [lm-web1]")
	if got := s.Vsctl(t, "--columns=name", "find", "Interface", "name=lm-extra"); got != "" {
		t.Errorf("Interface lm-extra still exists: %q", got)
	}
	wantEmpty(t, c, spec)
}

func TestNamedUUIDsFromAwkwardNames(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := BridgeSpec{
		Name:             "br-lm.0",
		ControllerTarget: "ptcp:6653:127.0.0.1",
		Ports: []PortSpec{
			{Name: "lm-a", Type: "internal"},
			{Name: "lm_a", Type: "internal"},
			{Name: "9.lm:a", Type: "internal"},
		},
	}
	apply(t, c, spec)
	if got := s.Vsctl(t, "list-ports", "br-lm.0"); got != "9.lm:a\nlm-a\nlm_a" {
		t.Errorf("list-ports = %q", got)
	}
	wantEmpty(t, c, spec)
}

// A failing operation: the error names it and carries OVSDB's text; nothing
// of the transaction is written.
func TestApplyOperationError(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	p := plan(t, c, baseSpec())

	// Corrupt the plan: an ofport_request outside the schema's range.
	tampered := false
	for i := range p.ops {
		if p.ops[i].Table == "Interface" && p.ops[i].Row["name"] == "lm-web1" {
			p.ops[i].Row["ofport_request"] = 70000
			tampered = true
		}
	}
	if !tampered {
		t.Fatal("no insert of Interface lm-web1 in the plan")
	}
	err := c.Apply(ctxT(t), p)
	if err == nil {
		t.Fatal("Apply succeeded with ofport_request 70000")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{`add port "lm-web1"`, "constraint violation", "70000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	if _, err := s.VsctlErr("br-exists", "br-int"); err == nil {
		t.Error("bridge br-int exists after a failed transaction")
	}
	if got := s.Vsctl(t, "--columns=name", "list", "Interface"); got != "" {
		t.Errorf("interfaces after a failed transaction: %q", got)
	}
}

// A constraint that fails at commit (an index): the error says so and nothing
// is written.
func TestApplyCommitError(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	p := plan(t, c, spec)

	// Between Plan and Apply, another tool takes the name lm-web1.
	s.Vsctl(t, "add-br", "br-other", "--", "add-port", "br-other", "lm-web1")
	err := c.Apply(ctxT(t), p)
	if err == nil {
		t.Fatal("Apply succeeded despite a duplicate port name")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"commit", "constraint violation", "lm-web1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q", want)
		}
	}
	if _, err := s.VsctlErr("br-exists", "br-int"); err == nil {
		t.Error("bridge br-int exists after a failed transaction")
	}
	// Planning again reports the clash before writing anything.
	if _, err := c.Plan(ctxT(t), spec); !errors.Is(err, ErrForeignPort) {
		t.Errorf("Plan: err = %v, want ErrForeignPort", err)
	}
}

// The bridge changed between Plan and Apply: ErrStale, nothing written.
func TestApplyStale(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)

	spec.Ports = spec.Ports[:1] // delete gre-h2
	p := plan(t, c, spec)
	s.Vsctl(t, "add-port", "br-int", "lmo-foreign", "--", "set", "Interface", "lmo-foreign", "type=internal")
	err := c.Apply(ctxT(t), p)
	if !errors.Is(err, ErrStale) {
		t.Fatalf("Apply: err = %v, want ErrStale", err)
	}
	t.Logf("error: %v", err)
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "gre-h2\nlm-web1\nlmo-foreign" {
		t.Errorf("list-ports = %q", got)
	}

	// A bridge created by someone else after the plan: stale too.
	s2 := ovsdbtest.StartServer(t)
	c2 := dial(t, s2.Addr)
	p = plan(t, c2, baseSpec())
	s2.Vsctl(t, "add-br", "br-int")
	if err := c2.Apply(ctxT(t), p); !errors.Is(err, ErrStale) {
		t.Fatalf("Apply after a concurrent add-br: err = %v, want ErrStale", err)
	}
}

func TestPlanInvalidSpec(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	for _, tc := range []struct {
		name string
		edit func(*BridgeSpec)
		want string
	}{
		{"no name", func(b *BridgeSpec) { b.Name = "" }, "bridge name is empty"},
		{"datapath", func(b *BridgeSpec) { b.DatapathType = "dpdk" }, `datapath type "dpdk"`},
		{"no controller", func(b *BridgeSpec) { b.ControllerTarget = "" }, "controller target is empty"},
		{"bridge port", func(b *BridgeSpec) { b.Ports[0].Name = "br-int" }, "has the bridge's name"},
		{"twice", func(b *BridgeSpec) { b.Ports[1].Name = "lm-web1" }, `port "lm-web1" is listed twice`},
		{"ofport range", func(b *BridgeSpec) { b.Ports[0].OfportRequest = 65280 }, "outside 1..65279"},
		{"ofport twice", func(b *BridgeSpec) { b.Ports[1].OfportRequest = 17 }, "both request ofport 17"},
		{"owner key", func(b *BridgeSpec) { b.Ports[0].ExternalIDs[OwnerKey] = "x" }, "is reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec()
			tc.edit(&spec)
			_, err := c.Plan(ctxT(t), spec)
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidSpec with %q", err, tc.want)
			}
		})
	}
}

func TestPlanUninitialised(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	s.Vsctl(t, "--", "destroy", "Open_vSwitch", ".")
	c := dial(t, s.Addr)
	if _, err := c.Plan(ctxT(t), baseSpec()); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("err = %v, want ErrNotInitialized", err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := Dial(ctx, "unix:/nonexistent/lmo.sock", nil); err == nil || !strings.Contains(err.Error(), "unix:/nonexistent/lmo.sock") {
		t.Errorf("Dial to a missing socket: err = %v", err)
	}
	if _, err := Dial(ctx, "/var/run/db.sock", nil); err == nil {
		t.Error("Dial without a scheme succeeded")
	}
}

func TestPlanAfterClose(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c, err := Dial(ctxT(t), s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Plan(ctxT(t), baseSpec()); err == nil {
		t.Fatal("Plan on a closed client succeeded")
	} else {
		t.Logf("error: %v", err)
	}
}

// With a running ovs-vswitchd: ofports arrive as requested, and a port OVS
// cannot open is reported with OVS's error text.
func TestWaitOfports(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	c := dial(t, s.Addr)
	spec := BridgeSpec{
		Name:             "lmo-br",
		DatapathType:     "netdev",
		ControllerTarget: "ptcp:0:127.0.0.1",
		Ports: []PortSpec{
			{Name: "lmo-p1", Type: "internal", OfportRequest: 11},
			{Name: "lmo-p2", Type: "internal", OfportRequest: 12},
			{Name: "lmo-p3", Type: "internal"},
		},
	}
	apply(t, c, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-p1": 11, "lmo-p2": 12, "lmo-p3": 0}); err != nil {
		t.Fatalf("WaitOfports: %v", err)
	}
	t.Logf("ofports arrived in %v", time.Since(start))
	got, err := c.Ofports(ctx, "lmo-br")
	if err != nil {
		t.Fatal(err)
	}
	if got["lmo-p1"] != 11 || got["lmo-p2"] != 12 || got["lmo-p3"] <= 0 || got["lmo-br"] != 65534 {
		t.Errorf("ofports = %v", got)
	}
	wantEmpty(t, c, spec)

	// Renumbering is seen too.
	spec.Ports[1].OfportRequest = 21
	apply(t, c, spec)
	if err := c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-p2": 21}); err != nil {
		t.Fatalf("WaitOfports after renumbering: %v", err)
	}

	// A system port whose device does not exist.
	spec.Ports = append(spec.Ports, PortSpec{Name: "lmo-nosuch", OfportRequest: 13})
	apply(t, c, spec)
	err = c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-p1": 11, "lmo-nosuch": 13})
	var ie *InterfaceError
	if !errors.As(err, &ie) {
		t.Fatalf("WaitOfports: err = %v, want an InterfaceError", err)
	}
	t.Logf("error: %v", err)
	if ie.Interface != "lmo-nosuch" || ie.Ofport != -1 ||
		ie.Message != "could not open network device lmo-nosuch (No such device)" {
		t.Errorf("InterfaceError = %+v", *ie)
	}
	// Interfaces reports the same, and the ports that work.
	ifs, err := c.Interfaces(ctx, "lmo-br")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]InterfaceState{}
	for _, i := range ifs {
		byName[i.Name] = i
	}
	if i := byName["lmo-nosuch"]; i.Ofport != -1 || !strings.Contains(i.Error, "could not open network device") || !i.Loom {
		t.Errorf("Interfaces: lmo-nosuch = %+v", i)
	}
	if i := byName["lmo-p1"]; i.Ofport != 11 || i.Type != "internal" || i.Error != "" || !i.Loom || i.Port != "lmo-p1" {
		t.Errorf("Interfaces: lmo-p1 = %+v", i)
	}
	if i := byName["lmo-br"]; i.Ofport != 65534 {
		t.Errorf("Interfaces: the bridge's local port = %+v", i)
	}

	// Fixed right away: the stale error of the previous config must not be
	// reported (WaitOfports waits for cur_cfg to catch up first).
	spec.Ports[3].Type = "internal"
	apply(t, c, spec)
	if err := c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-p1": 11, "lmo-p2": 21, "lmo-nosuch": 13}); err != nil {
		t.Fatalf("WaitOfports after fixing lmo-nosuch: %v", err)
	}
	wantEmpty(t, c, spec)

	// The deadline is respected, and the message says what is missing.
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	err = c.WaitOfports(short, "lmo-br", map[string]int{"lmo-p1": 11, "lmo-absent": 5})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"lmo-absent" (not on the bridge)`) {
		t.Fatalf("WaitOfports for an absent interface: err = %v", err)
	}
}
