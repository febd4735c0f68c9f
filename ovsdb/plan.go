package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// BridgeSpec is the desired state of one Loom-owned integration bridge on
// one host.
type BridgeSpec struct {
	Name             string     // e.g. "br-int"
	DatapathType     string     // "netdev" or "system" ("" = system)
	ControllerTarget string     // passive OpenFlow listener, e.g. "ptcp:6653:198.18.0.11"
	Ports            []PortSpec // every Loom-owned port of the bridge (besides the bridge's own internal port)
	// Adopt are the interfaces of others that Loom binds by their
	// external_ids:iface-id (adopt.go).
	Adopt []AdoptSpec
}

// PortSpec is one Loom-owned port with its single interface.
type PortSpec struct {
	Name          string            // port and interface name (one interface per port)
	Type          string            // "" (system/veth), "internal", "gre", "vxlan", "geneve"
	Options       map[string]string // e.g. remote_ip, key=flow, local_ip
	OfportRequest int               // fixed OpenFlow port number Loom's flows use; 0 = let OVS choose
	ExternalIDs   map[string]string // extra Loom ids (object it came from); ownership key is added by the package
}

// Plan is what Apply would change to make the host match a BridgeSpec.
type Plan struct {
	// Bridge is the name of the bridge the plan is for.
	Bridge string
	// CreatesBridge is set when the bridge does not exist yet.
	CreatesBridge bool
	// AddsPorts is set when the plan adds ports to the bridge.
	AddsPorts bool
	// Changes describes each change in words, the bridge first, e.g. `create bridge
	// br-int`, `add port lm-web1 (ofport 17)`, `update port gre-h2:
	// options:remote_ip 198.19.0.11 -> 198.19.0.12`, `delete port lm-old`.
	Changes []string
	// Foreign lists, sorted, what sits on the Loom bridge without being
	// Loom's ("port eth1", "controller tcp:10.0.0.1:6653"). It is left alone.
	Foreign []string
	// Adopted says, for each AdoptSpec, which interface the plan binds
	// (sorted by iface-id).
	Adopted []Adoption

	ops   []ovsdb.Operation
	descs []string // per op, for error messages
	guard int      // index of the wait op that detects a stale plan, or -1
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return p == nil || len(p.ops) == 0 }

// Ops returns a copy of the plan's operations, to be sent in a larger
// transaction. Their results must be checked with ovsdb.CheckOperationResults.
func (p *Plan) Ops() []ovsdb.Operation {
	if p == nil {
		return nil
	}
	return slices.Clone(p.ops)
}

// String is the plan's changes, one per line.
func (p *Plan) String() string {
	if p.Empty() {
		return "no changes"
	}
	return strings.Join(p.Changes, "\n")
}

// Plan compares spec with the client's cache and returns the operations that
// would make the database match it. It writes nothing.
func (c *Client) Plan(ctx context.Context, spec BridgeSpec) (*Plan, error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: plan bridge %q: %w", c.addr, spec.Name, err)
	}
	if err := spec.validate(); err != nil {
		return nil, wrap(err)
	}
	if err := c.sync(ctx); err != nil {
		return nil, wrap(err)
	}
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	p, err := c.planIn(s, spec)
	if err != nil {
		return nil, wrap(err)
	}
	return p, nil
}

// Check reads the cache once (after an echo, as Plan) for what Plan,
// PortsNow and Interfaces read each: the plan for spec, the interfaces of
// want ovs-vswitchd has not set up yet (pending) or gave up on (down),
// and the bridge's interfaces.
func (c *Client) Check(ctx context.Context, spec BridgeSpec, want map[string]int) (p *Plan, pending []string, down []*InterfaceError, ifaces []InterfaceState, err error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: check bridge %q: %w", c.addr, spec.Name, err)
	}
	if err := spec.validate(); err != nil {
		return nil, nil, nil, nil, wrap(err)
	}
	if err := c.sync(ctx); err != nil {
		return nil, nil, nil, nil, wrap(err)
	}
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, nil, nil, nil, wrap(err)
	}
	if p, err = c.planIn(s, spec); err != nil {
		return nil, nil, nil, nil, wrap(err)
	}
	want = maps.Clone(want)
	p.adoptedWant(want)
	pending, down = ofportsIn(s, spec.Name, slices.Sorted(maps.Keys(want)), want)
	return p, pending, down, interfacesIn(s, spec.Name), nil
}

// planIn plans spec against the snapshot s.
func (c *Client) planIn(s *snapshot, spec BridgeSpec) (*Plan, error) {
	pl := &planner{c: c, spec: spec, s: s, plan: &Plan{Bridge: spec.Name, guard: -1}}
	if err := pl.run(); err != nil {
		return nil, err
	}
	if err := pl.bumpNextCfg(); err != nil {
		return nil, err
	}
	p := pl.plan
	// The bridge's own changes first, then its ports, each in name order.
	sort.Slice(p.Changes, func(i, j int) bool {
		a, b := p.Changes[i], p.Changes[j]
		if ra, rb := changeRank(a), changeRank(b); ra != rb {
			return ra < rb
		}
		return a < b
	})
	p.Changes = slices.Compact(p.Changes)
	sort.Strings(p.Foreign)
	return p, nil
}

func changeRank(change string) int {
	if strings.HasPrefix(change, "create bridge ") || strings.HasPrefix(change, "update bridge ") {
		return 0
	}
	return 1
}

// sync makes the cache hold every transaction committed before it was
// called: ovsdb-server flushes pending monitor updates to a session before
// any reply to it, libovsdb applies updates in order, so once an echo comes
// back the updates that preceded it are in the cache. It also fails fast on
// a closed or broken connection, where the cache would be stale.
func (c *Client) sync(ctx context.Context) error {
	if err := c.echo(ctx); err != nil {
		// libovsdb's Echo reports most call errors as "incorrect server
		// response"; say what really happened when we can.
		if ctx.Err() != nil {
			return fmt.Errorf("sync cache: %w", ctx.Err())
		}
		return fmt.Errorf("sync cache: %w", err)
	}
	return nil
}

// echo is libovsdb's Echo, bounded by ctx. libovsdb v0.7.0 reads the
// echo's reply while its reader may still be writing it when the call's
// context ends first (a data race): the call gets a context of its own,
// which ends only well after ctx, and the caller stops waiting when ctx
// ends.
func (c *Client) echo(ctx context.Context) error {
	grace := DefaultDialTimeout
	if d, ok := ctx.Deadline(); ok {
		grace += time.Until(d)
	}
	done := make(chan error, 1)
	go func() {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		done <- c.ovs.Echo(ectx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s BridgeSpec) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	checkName := func(what, name string) {
		switch {
		case name == "":
			bad("%s name is empty", what)
		case strings.ContainsAny(name, " \t\n/"):
			bad("%s name %q contains a space or a slash", what, name)
		}
	}
	checkName("bridge", s.Name)
	switch s.DatapathType {
	case "", "system", "netdev":
	default:
		bad("datapath type %q is neither system nor netdev", s.DatapathType)
	}
	if s.ControllerTarget == "" {
		bad("controller target is empty")
	}
	names := map[string]bool{}
	ofports := map[int]string{}
	for _, p := range s.Ports {
		checkName("port", p.Name)
		if p.Name == s.Name {
			bad("port %q has the bridge's name (the bridge's own port is implicit)", p.Name)
		}
		if names[p.Name] {
			bad("port %q is listed twice", p.Name)
		}
		names[p.Name] = true
		if p.OfportRequest < 0 || p.OfportRequest > 65279 {
			bad("port %q: ofport %d is outside 1..65279", p.Name, p.OfportRequest)
		} else if p.OfportRequest > 0 {
			if other, dup := ofports[p.OfportRequest]; dup {
				bad("ports %q and %q both request ofport %d", other, p.Name, p.OfportRequest)
			}
			ofports[p.OfportRequest] = p.Name
		}
		if v, ok := p.ExternalIDs[OwnerKey]; ok && v != OwnerValue {
			bad("port %q: external_ids:%s is reserved", p.Name, OwnerKey)
		}
	}
	ids := map[string]bool{}
	for _, a := range s.Adopt {
		switch {
		case a.IfaceID == "":
			bad("an interface to adopt has an empty iface-id")
		case ids[a.IfaceID]:
			bad("iface-id %q is adopted twice", a.IfaceID)
		case a.OfportRequest < 1 || a.OfportRequest > 65279:
			bad("iface-id %q: ofport %d is outside 1..65279", a.IfaceID, a.OfportRequest)
		case a.Object == "":
			bad("iface-id %q: no object to bind it for", a.IfaceID)
		default:
			if other, dup := ofports[a.OfportRequest]; dup {
				bad("port %q and iface-id %q both request ofport %d", other, a.IfaceID, a.OfportRequest)
			}
			ofports[a.OfportRequest] = "iface-id:" + a.IfaceID
		}
		ids[a.IfaceID] = true
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(problems, "; "))
	}
	return nil
}

// snapshot is the cached rows of the monitored tables, by UUID.
type snapshot struct {
	root    *vswitchd.OpenvSwitch
	bridges map[string]*vswitchd.Bridge
	ports   map[string]*vswitchd.Port
	ifaces  map[string]*vswitchd.Interface
	ctls    map[string]*vswitchd.Controller

	portBridge map[string]string // port UUID -> bridge UUID
	ifacePort  map[string]string // interface UUID -> port UUID
}

func (c *Client) snapshot(ctx context.Context) (*snapshot, error) {
	var (
		roots   []vswitchd.OpenvSwitch
		bridges []vswitchd.Bridge
		ports   []vswitchd.Port
		ifaces  []vswitchd.Interface
		ctls    []vswitchd.Controller
	)
	for _, l := range []any{&roots, &bridges, &ports, &ifaces, &ctls} {
		if err := c.ovs.List(ctx, l); err != nil {
			return nil, fmt.Errorf("read cache: %w", err)
		}
	}
	s := &snapshot{
		bridges:    byUUID(bridges, func(b *vswitchd.Bridge) string { return b.UUID }),
		ports:      byUUID(ports, func(p *vswitchd.Port) string { return p.UUID }),
		ifaces:     byUUID(ifaces, func(i *vswitchd.Interface) string { return i.UUID }),
		ctls:       byUUID(ctls, func(c *vswitchd.Controller) string { return c.UUID }),
		portBridge: map[string]string{},
		ifacePort:  map[string]string{},
	}
	if len(roots) > 0 {
		s.root = &roots[0]
	}
	for _, b := range s.bridges {
		for _, p := range b.Ports {
			s.portBridge[p] = b.UUID
		}
	}
	for _, p := range s.ports {
		for _, i := range p.Interfaces {
			s.ifacePort[i] = p.UUID
		}
	}
	return s, nil
}

func byUUID[T any](rows []T, key func(*T) string) map[string]*T {
	m := make(map[string]*T, len(rows))
	for i := range rows {
		m[key(&rows[i])] = &rows[i]
	}
	return m
}

func (s *snapshot) bridgeByName(name string) *vswitchd.Bridge {
	for _, b := range s.bridges {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// where tells where a port or interface of that name lives, for error
// messages: "" when nowhere.
func (s *snapshot) where(name string) string {
	for _, i := range s.ifaces {
		if i.Name != name {
			continue
		}
		p := s.ports[s.ifacePort[i.UUID]]
		if p == nil {
			return "interface " + strconv.Quote(name) + " exists"
		}
		return fmt.Sprintf("interface %q exists in port %q%s", name, p.Name, s.onBridge(p.UUID))
	}
	for _, p := range s.ports {
		if p.Name == name {
			return fmt.Sprintf("port %q exists%s", name, s.onBridge(p.UUID))
		}
	}
	return ""
}

func (s *snapshot) onBridge(portUUID string) string {
	if b := s.bridges[s.portBridge[portUUID]]; b != nil {
		return " on bridge " + strconv.Quote(b.Name)
	}
	return ""
}

// planner accumulates one Plan.
type planner struct {
	c     *Client
	spec  BridgeSpec
	s     *snapshot
	plan  *Plan
	named int // counter for named UUIDs
}

func (pl *planner) change(format string, args ...any) {
	pl.plan.Changes = append(pl.plan.Changes, fmt.Sprintf(format, args...))
}

func (pl *planner) add(desc string, ops []ovsdb.Operation, err error) error {
	if err != nil {
		return fmt.Errorf("build %s: %w", desc, err)
	}
	for range ops {
		pl.plan.descs = append(pl.plan.descs, desc)
	}
	pl.plan.ops = append(pl.plan.ops, ops...)
	return nil
}

// uuidName returns a fresh named UUID. OVSDB accepts only
// [A-Za-z_][A-Za-z0-9_]* (libovsdb sends other names and the server rejects
// the transaction); the counter keeps "a-b" and "a_b" apart.
func (pl *planner) uuidName(kind, name string) string {
	pl.named++
	var b strings.Builder
	fmt.Fprintf(&b, "%s%d_", kind, pl.named)
	for _, r := range name {
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (pl *planner) run() error {
	if pl.s.root == nil {
		return fmt.Errorf("%w (is the database initialised? ovs-vsctl init)", ErrNotInitialized)
	}
	br := pl.s.bridgeByName(pl.spec.Name)
	if br == nil {
		return pl.createBridge()
	}
	if !owned(br.ExternalIDs) {
		return fmt.Errorf("%w: to hand it over to loom, delete it (ovs-vsctl del-br %s) "+
			"or mark it (ovs-vsctl br-set-external-id %s %s %s)",
			ErrForeignBridge, pl.spec.Name, pl.spec.Name, OwnerKey, OwnerValue)
	}
	return pl.updateBridge(br)
}

// bumpNextCfg increments Open_vSwitch.next_cfg in a non-empty plan, as
// ovs-vsctl does: ovs-vswitchd copies it to cur_cfg once it has applied the
// transaction (ofports and interface errors included), which is what
// WaitOfports waits for.
func (pl *planner) bumpNextCfg() error {
	if len(pl.plan.ops) == 0 {
		return nil
	}
	root := &vswitchd.OpenvSwitch{UUID: pl.s.root.UUID}
	ops, err := pl.c.ovs.Where(root).Mutate(root, model.Mutation{
		Field:   &root.NextCfg,
		Mutator: ovsdb.MutateOperationAdd,
		Value:   1,
	})
	return pl.add("increment Open_vSwitch next_cfg", ops, err)
}

func owned(ids map[string]string) bool { return ids[OwnerKey] == OwnerValue }

func ownerIDs(extra map[string]string) map[string]string {
	m := make(map[string]string, len(extra)+1)
	maps.Copy(m, extra)
	m[OwnerKey] = OwnerValue
	return m
}

func sortedPorts(ports []PortSpec) []PortSpec {
	ps := slices.Clone(ports)
	slices.SortFunc(ps, func(a, b PortSpec) int { return strings.Compare(a.Name, b.Name) })
	return ps
}

func (pl *planner) createBridge() error {
	spec := pl.spec
	// The bridge name must be free as a port and interface name too.
	if w := pl.s.where(spec.Name); w != "" {
		return fmt.Errorf("%w: cannot create bridge %q: %s", ErrForeignPort, spec.Name, w)
	}
	// Guard: the bridge still does not exist when the transaction runs.
	zero := 0
	pl.plan.guard = len(pl.plan.ops)
	if err := pl.add("check bridge "+strconv.Quote(spec.Name)+" is still absent", []ovsdb.Operation{{
		Op:      ovsdb.OperationWait,
		Table:   vswitchd.BridgeTable,
		Where:   []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: spec.Name}},
		Columns: []string{"name"},
		Until:   string(ovsdb.WaitConditionNotEqual),
		Rows:    []ovsdb.Row{{"name": spec.Name}},
		Timeout: &zero,
	}}, nil); err != nil {
		return err
	}

	pl.change("create bridge %s", spec.Name)
	pl.plan.CreatesBridge = true
	localIface := &vswitchd.Interface{
		UUID:        pl.uuidName("iface", spec.Name),
		Name:        spec.Name,
		Type:        "internal",
		ExternalIDs: ownerIDs(nil),
	}
	localPort := &vswitchd.Port{
		UUID:        pl.uuidName("port", spec.Name),
		Name:        spec.Name,
		Interfaces:  []string{localIface.UUID},
		ExternalIDs: ownerIDs(nil),
	}
	ops, err := pl.c.ovs.Create(localIface, localPort)
	if err := pl.add("create bridge port "+strconv.Quote(spec.Name), ops, err); err != nil {
		return err
	}
	ports := []string{localPort.UUID}
	for _, ps := range sortedPorts(spec.Ports) {
		if w := pl.s.where(ps.Name); w != "" {
			return fmt.Errorf("%w: cannot add port %q: %s", ErrForeignPort, ps.Name, w)
		}
		u, err := pl.addPort(ps)
		if err != nil {
			return err
		}
		ports = append(ports, u)
	}
	ctl := &vswitchd.Controller{
		UUID:        pl.uuidName("ctl", spec.Name),
		Target:      spec.ControllerTarget,
		ExternalIDs: ownerIDs(nil),
	}
	secure := vswitchd.BridgeFailModeSecure
	br := &vswitchd.Bridge{
		UUID:         pl.uuidName("bridge", spec.Name),
		Name:         spec.Name,
		DatapathType: spec.DatapathType,
		FailMode:     &secure,
		Protocols:    []vswitchd.BridgeProtocols{vswitchd.BridgeProtocolsOpenflow13},
		Controller:   []string{ctl.UUID},
		Ports:        ports,
		ExternalIDs:  ownerIDs(nil),
	}
	ops, err = pl.c.ovs.Create(ctl, br)
	if err := pl.add("create bridge "+strconv.Quote(spec.Name), ops, err); err != nil {
		return err
	}
	if err := pl.adopt(nil); err != nil { // nothing to adopt on a new bridge: all wait
		return err
	}
	root := &vswitchd.OpenvSwitch{UUID: pl.s.root.UUID}
	ops, err = pl.c.ovs.Where(root).Mutate(root, model.Mutation{
		Field:   &root.Bridges,
		Mutator: ovsdb.MutateOperationInsert,
		Value:   []string{br.UUID},
	})
	return pl.add("add bridge "+strconv.Quote(spec.Name)+" to Open_vSwitch", ops, err)
}

// addPort inserts a Port and its Interface and returns the Port's named
// UUID, for the caller to reference from the bridge.
func (pl *planner) addPort(ps PortSpec) (string, error) {
	pl.plan.AddsPorts = true
	iface := pl.wantIface(ps)
	iface.UUID = pl.uuidName("iface", ps.Name)
	port := &vswitchd.Port{
		UUID:        pl.uuidName("port", ps.Name),
		Name:        ps.Name,
		Interfaces:  []string{iface.UUID},
		ExternalIDs: ownerIDs(ps.ExternalIDs),
	}
	var what []string
	if ps.Type != "" {
		what = append(what, "type "+ps.Type)
	}
	if ps.OfportRequest > 0 {
		what = append(what, "ofport "+strconv.Itoa(ps.OfportRequest))
	}
	if len(what) > 0 {
		pl.change("add port %s (%s)", ps.Name, strings.Join(what, ", "))
	} else {
		pl.change("add port %s", ps.Name)
	}
	ops, err := pl.c.ovs.Create(iface, port)
	return port.UUID, pl.add("add port "+strconv.Quote(ps.Name), ops, err)
}

// wantIface is the Interface row a PortSpec asks for (without UUID).
func (pl *planner) wantIface(ps PortSpec) *vswitchd.Interface {
	iface := &vswitchd.Interface{
		Name:        ps.Name,
		Type:        ps.Type,
		Options:     maps.Clone(ps.Options),
		ExternalIDs: ownerIDs(ps.ExternalIDs),
	}
	if iface.Options == nil {
		iface.Options = map[string]string{}
	}
	if ps.OfportRequest > 0 {
		n := ps.OfportRequest
		iface.OfportRequest = &n
	}
	return iface
}

func (pl *planner) updateBridge(br *vswitchd.Bridge) error {
	spec := pl.spec
	var bridgeMuts []model.Mutation
	mutModel := &vswitchd.Bridge{UUID: br.UUID}

	// Bridge columns.
	upd := &vswitchd.Bridge{UUID: br.UUID}
	var fields []any
	if datapathType(br.DatapathType) != datapathType(spec.DatapathType) {
		pl.change("update bridge %s: datapath_type %s -> %s", spec.Name,
			datapathType(br.DatapathType), datapathType(spec.DatapathType))
		upd.DatapathType = spec.DatapathType
		fields = append(fields, &upd.DatapathType)
	}
	if br.FailMode == nil || *br.FailMode != vswitchd.BridgeFailModeSecure {
		pl.change("update bridge %s: fail_mode %s -> %s", spec.Name, ptrString(br.FailMode), vswitchd.BridgeFailModeSecure)
		secure := vswitchd.BridgeFailModeSecure
		upd.FailMode = &secure
		fields = append(fields, &upd.FailMode)
	}
	wantProtocols := []string{vswitchd.BridgeProtocolsOpenflow13}
	if !sameSet(br.Protocols, wantProtocols) {
		pl.change("update bridge %s: protocols %s -> %s", spec.Name, setString(br.Protocols), setString(wantProtocols))
		upd.Protocols = wantProtocols
		fields = append(fields, &upd.Protocols)
	}
	if len(fields) > 0 {
		ops, err := pl.c.ovs.Where(upd).Update(upd, fields...)
		if err := pl.add("update bridge "+strconv.Quote(spec.Name), ops, err); err != nil {
			return err
		}
	}

	// Controller: exactly one Loom controller with the spec's target.
	var mine []*vswitchd.Controller
	for _, u := range br.Controller {
		ctl := pl.s.ctls[u]
		if ctl == nil {
			return fmt.Errorf("%w: controller %s of bridge %q is not in the cache", ErrStale, u, spec.Name)
		}
		if !owned(ctl.ExternalIDs) {
			pl.plan.Foreign = append(pl.plan.Foreign, "controller "+ctl.Target)
			continue
		}
		mine = append(mine, ctl)
	}
	slices.SortFunc(mine, func(a, b *vswitchd.Controller) int {
		// Prefer one that already has the right target.
		ra, rb := a.Target != spec.ControllerTarget, b.Target != spec.ControllerTarget
		if ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return strings.Compare(a.UUID, b.UUID)
	})
	if len(mine) == 0 {
		ctl := &vswitchd.Controller{
			UUID:        pl.uuidName("ctl", spec.Name),
			Target:      spec.ControllerTarget,
			ExternalIDs: ownerIDs(nil),
		}
		ops, err := pl.c.ovs.Create(ctl)
		if err := pl.add("create controller "+spec.ControllerTarget, ops, err); err != nil {
			return err
		}
		bridgeMuts = append(bridgeMuts, model.Mutation{Field: &mutModel.Controller, Mutator: ovsdb.MutateOperationInsert, Value: []string{ctl.UUID}})
		pl.change("update bridge %s: controller (none) -> %s", spec.Name, spec.ControllerTarget)
	} else {
		if keep := mine[0]; keep.Target != spec.ControllerTarget {
			ctl := &vswitchd.Controller{UUID: keep.UUID, Target: spec.ControllerTarget}
			ops, err := pl.c.ovs.Where(ctl).Update(ctl, &ctl.Target)
			if err := pl.add("update controller "+keep.Target, ops, err); err != nil {
				return err
			}
			pl.change("update bridge %s: controller %s -> %s", spec.Name, keep.Target, spec.ControllerTarget)
		}
		var drop []string
		for _, ctl := range mine[1:] {
			drop = append(drop, ctl.UUID)
			pl.change("update bridge %s: remove extra controller %s", spec.Name, ctl.Target)
		}
		if len(drop) > 0 {
			bridgeMuts = append(bridgeMuts, model.Mutation{Field: &mutModel.Controller, Mutator: ovsdb.MutateOperationDelete, Value: drop})
		}
	}

	// Ports.
	loomPorts := map[string]*vswitchd.Port{}
	foreignPorts := map[string]bool{}
	for _, u := range br.Ports {
		p := pl.s.ports[u]
		if p == nil {
			return fmt.Errorf("%w: port %s of bridge %q is not in the cache", ErrStale, u, spec.Name)
		}
		if p.Name == spec.Name {
			continue // the bridge's own port
		}
		if !owned(p.ExternalIDs) {
			foreignPorts[p.Name] = true
			pl.plan.Foreign = append(pl.plan.Foreign, "port "+p.Name)
			continue
		}
		loomPorts[p.Name] = p
	}
	var addPorts, delPorts []string
	wanted := map[string]bool{}
	for _, ps := range sortedPorts(spec.Ports) {
		wanted[ps.Name] = true
		if foreignPorts[ps.Name] {
			return fmt.Errorf("%w: port %q on bridge %q is not owned by loom: delete it (ovs-vsctl del-port %s %s) "+
				"or mark it (ovs-vsctl set Port %s external_ids:%s=%s)",
				ErrForeignPort, ps.Name, spec.Name, spec.Name, ps.Name, ps.Name, OwnerKey, OwnerValue)
		}
		if p, ok := loomPorts[ps.Name]; ok {
			if err := pl.updatePort(p, ps); err != nil {
				return err
			}
			continue
		}
		if w := pl.s.where(ps.Name); w != "" {
			return fmt.Errorf("%w: cannot add port %q: %s", ErrForeignPort, ps.Name, w)
		}
		u, err := pl.addPort(ps)
		if err != nil {
			return err
		}
		addPorts = append(addPorts, u)
	}
	for _, name := range slices.Sorted(maps.Keys(loomPorts)) {
		if !wanted[name] {
			delPorts = append(delPorts, loomPorts[name].UUID)
			pl.change("delete port %s", name)
		}
	}
	if len(addPorts) > 0 {
		bridgeMuts = append(bridgeMuts, model.Mutation{Field: &mutModel.Ports, Mutator: ovsdb.MutateOperationInsert, Value: addPorts})
	}
	if len(delPorts) > 0 {
		// Dropping the reference is the delete: OVSDB garbage-collects the
		// Port and, through it, the Interface.
		bridgeMuts = append(bridgeMuts, model.Mutation{Field: &mutModel.Ports, Mutator: ovsdb.MutateOperationDelete, Value: delPorts})
	}
	if len(bridgeMuts) > 0 {
		ops, err := pl.c.ovs.Where(mutModel).Mutate(mutModel, bridgeMuts...)
		if err := pl.add("change ports and controllers of bridge "+strconv.Quote(spec.Name), ops, err); err != nil {
			return err
		}
	}

	if err := pl.adopt(br); err != nil {
		return err
	}

	if len(pl.plan.ops) > 0 {
		// Guard, first in the transaction: the bridge is still Loom's and
		// its ports and controllers are those the plan was made from.
		guard := &vswitchd.Bridge{
			UUID:        br.UUID,
			ExternalIDs: br.ExternalIDs,
			Ports:       br.Ports,
			Controller:  br.Controller,
		}
		zero := 0
		ops, err := pl.c.ovs.Where(&vswitchd.Bridge{UUID: br.UUID}).Wait(ovsdb.WaitConditionEqual, &zero,
			guard, &guard.ExternalIDs, &guard.Ports, &guard.Controller)
		if err != nil {
			return fmt.Errorf("build guard: %w", err)
		}
		pl.plan.ops = append(ops, pl.plan.ops...)
		pl.plan.descs = append([]string{"check bridge " + strconv.Quote(spec.Name) + " is unchanged since the plan"}, pl.plan.descs...)
		pl.plan.guard = 0
	}
	return nil
}

// updatePort brings an existing Loom port (and its interface) to ps.
func (pl *planner) updatePort(p *vswitchd.Port, ps PortSpec) error {
	want := pl.wantIface(ps)

	// The port must have exactly one interface, named like the port.
	var iface *vswitchd.Interface
	var ifNames []string
	for _, u := range p.Interfaces {
		i := pl.s.ifaces[u]
		if i == nil {
			return fmt.Errorf("%w: interface %s of port %q is not in the cache", ErrStale, u, p.Name)
		}
		ifNames = append(ifNames, i.Name)
		if i.Name == ps.Name {
			iface = i
		}
	}
	if len(p.Interfaces) != 1 || iface == nil {
		fix := &vswitchd.Port{UUID: p.UUID}
		if iface == nil {
			// No interface of that name is in this port; one elsewhere
			// would clash with the new one.
			for _, i := range pl.s.ifaces {
				if i.Name == ps.Name {
					return fmt.Errorf("%w: cannot add interface %q to port %q: %s", ErrForeignPort, ps.Name, p.Name, pl.s.where(ps.Name))
				}
			}
			want.UUID = pl.uuidName("iface", ps.Name)
			ops, err := pl.c.ovs.Create(want)
			if err := pl.add("create interface "+strconv.Quote(ps.Name), ops, err); err != nil {
				return err
			}
			fix.Interfaces = []string{want.UUID}
		} else {
			fix.Interfaces = []string{iface.UUID}
		}
		slices.Sort(ifNames)
		pl.change("update port %s: interfaces %s -> [%s]", ps.Name, setString(ifNames), ps.Name)
		ops, err := pl.c.ovs.Where(fix).Update(fix, &fix.Interfaces)
		if err := pl.add("update port "+strconv.Quote(ps.Name), ops, err); err != nil {
			return err
		}
	}

	if !maps.Equal(p.ExternalIDs, want.ExternalIDs) {
		pl.mapChanges(ps.Name, "external_ids", p.ExternalIDs, want.ExternalIDs)
		upd := &vswitchd.Port{UUID: p.UUID, ExternalIDs: want.ExternalIDs}
		ops, err := pl.c.ovs.Where(upd).Update(upd, &upd.ExternalIDs)
		if err := pl.add("update port "+strconv.Quote(ps.Name), ops, err); err != nil {
			return err
		}
	}
	if iface == nil {
		return nil // created above as wanted
	}

	upd := &vswitchd.Interface{UUID: iface.UUID}
	var fields []any
	if ifaceType(iface.Type) != ifaceType(want.Type) {
		pl.change("update port %s: type %s -> %s", ps.Name, ifaceType(iface.Type), ifaceType(want.Type))
		upd.Type = want.Type
		fields = append(fields, &upd.Type)
	}
	if !maps.Equal(iface.Options, want.Options) {
		pl.mapChanges(ps.Name, "options", iface.Options, want.Options)
		upd.Options = want.Options
		fields = append(fields, &upd.Options)
	}
	if !equalIntPtr(iface.OfportRequest, want.OfportRequest) {
		pl.change("update port %s: ofport_request %s -> %s", ps.Name, ptrInt(iface.OfportRequest), ptrInt(want.OfportRequest))
		upd.OfportRequest = want.OfportRequest
		fields = append(fields, &upd.OfportRequest)
	}
	if !maps.Equal(iface.ExternalIDs, want.ExternalIDs) {
		pl.mapChanges(ps.Name, "external_ids", iface.ExternalIDs, want.ExternalIDs)
		upd.ExternalIDs = want.ExternalIDs
		fields = append(fields, &upd.ExternalIDs)
	}
	if len(fields) == 0 {
		return nil
	}
	ops, err := pl.c.ovs.Where(upd).Update(upd, fields...)
	return pl.add("update interface "+strconv.Quote(ps.Name), ops, err)
}

// mapChanges adds one change line per key that differs.
func (pl *planner) mapChanges(port, column string, have, want map[string]string) {
	keys := slices.Sorted(maps.Keys(have))
	for k := range want {
		if _, ok := have[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		h, hok := have[k]
		w, wok := want[k]
		if hok == wok && h == w {
			continue
		}
		pl.change("update port %s: %s:%s %s -> %s", port, column, k, optString(h, hok), optString(w, wok))
	}
}

// OVS treats an empty type as the default one.
func datapathType(t string) string {
	if t == "" {
		return "system"
	}
	return t
}

func ifaceType(t string) string {
	if t == "" {
		return "system"
	}
	return t
}

func sameSet(a, b []string) bool {
	sa, sb := slices.Clone(a), slices.Clone(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return slices.Equal(slices.Compact(sa), slices.Compact(sb))
}

func equalIntPtr(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func setString(s []string) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return "[" + strings.Join(s, " ") + "]"
}

func optString(v string, ok bool) string {
	switch {
	case !ok:
		return "(none)"
	case v == "" || strings.ContainsAny(v, " \t"):
		return strconv.Quote(v)
	}
	return v
}

func ptrString(p *string) string {
	if p == nil {
		return "(none)"
	}
	return optString(*p, true)
}

func ptrInt(p *int) string {
	if p == nil {
		return "(none)"
	}
	return strconv.Itoa(*p)
}

// fewRows is how many ports a read of the cache takes one by one (by
// name, through the cache's indexes) rather than as a snapshot of every
// row: each row read is a copy.
const fewRows = 32

// portRows is a partial snapshot: the Open_vSwitch row, bridge and, for
// each of names, the port of that name on the bridge and its interfaces
// (Loom's ports have one interface of the port's name). It is nil (and
// no error) when the rows do not have that shape: read a whole snapshot
// then.
func (c *Client) portRows(ctx context.Context, bridge string, names []string) (*snapshot, error) {
	s := &snapshot{bridges: map[string]*vswitchd.Bridge{}, ports: map[string]*vswitchd.Port{},
		ifaces: map[string]*vswitchd.Interface{}, ctls: map[string]*vswitchd.Controller{},
		portBridge: map[string]string{}, ifacePort: map[string]string{}}
	var roots []vswitchd.OpenvSwitch
	if err := c.ovs.List(ctx, &roots); err != nil {
		return nil, fmt.Errorf("read cache: %w", err)
	}
	if len(roots) > 0 {
		s.root = &roots[0]
	}
	br := &vswitchd.Bridge{Name: bridge}
	switch err := c.ovs.Get(ctx, br); {
	case errors.Is(err, client.ErrNotFound):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read cache: %w", err)
	}
	s.bridges[br.UUID] = br
	onBridge := make(map[string]bool, len(br.Ports))
	for _, u := range br.Ports {
		onBridge[u] = true
	}
	for _, name := range names {
		p := &vswitchd.Port{Name: name}
		switch err := c.ovs.Get(ctx, p); {
		case errors.Is(err, client.ErrNotFound):
			continue // not there (yet)
		case err != nil:
			return nil, fmt.Errorf("read cache: %w", err)
		}
		if !onBridge[p.UUID] {
			return nil, nil // on another bridge: let the full read say where
		}
		s.ports[p.UUID], s.portBridge[p.UUID] = p, br.UUID
		for _, iu := range p.Interfaces {
			i := &vswitchd.Interface{UUID: iu}
			if err := c.ovs.Get(ctx, i); err != nil {
				return nil, nil // not in the cache: the full read tells
			}
			s.ifaces[iu], s.ifacePort[iu] = i, p.UUID
		}
	}
	// Only the bridge's ports that were read are known.
	br.Ports = br.Ports[:0]
	for u := range s.ports {
		br.Ports = append(br.Ports, u)
	}
	return s, nil
}
