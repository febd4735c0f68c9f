// Package flows compiles a Topology into the desired state of every host:
// the integration bridge Loom owns, its ports and tunnels, and its OpenFlow
// tables. It is a pure function: no I/O, no clock, no logging; the same
// topology gives byte-identical output.
//
// It also owns Loom's flow type, Flow (flow.go): table, priority, cookie,
// a canonical match of (field, value, mask) entries and typed actions, plus
// the Origin the compiler attaches. Flows compare as values (Equal,
// Identity, Key, Diff). Text exists only where a switch speaks it, each
// way in one place: the renderer (render.go: Flow.AppendText, the syntax
// of ovs-ofctl add-flows, no fmt) and the parser (parse.go: ParseFlow for
// add-flows and dump-flows lines, ParseUpdate for a flow monitor's
// updates), which reads every spelling OVS prints into the same value.
// Validate checks a flow as OVS does when it is added. Nothing else in
// Loom turns text into flows.
//
// The pipeline (tables are declared once, in pipeline.go):
//
//	 packet in
//	     |
//	 [0] classify ------ VIF: reg6 = port key, metadata = switch id
//	     |               tunnel + key: reg5[0] = 1, metadata = switch id
//	     |               anything else: drop
//	[10] port_security - VIF: only its own MAC and IPv4 (IP and ARP sender)
//	     |               tunnel traffic: trusted (checked at its ingress host)
//	[40] l2_lookup ----- known local MAC -> reg7 = port key
//	     |               known remote MAC (VIF traffic only) -> reg7 = port key
//	     |               broadcast/multicast -> one copy per local port and,
//	     |               from a VIF only, one per remote host of the switch
//	[60] output -------- reg7 -> output port, or tun_id + tunnel port
//
// Registers: metadata carries the logical switch id, reg6 the ingress
// logical port key (0 from a tunnel), reg7 the egress key, reg5 bit 0 is
// set for packets that came from a tunnel (split horizon: they never go
// back into one). Every table drops what it does not match.
//
// Every flow's cookie names the topology object and the rule that made it
// (see cookie.go): a flow dumped from a switch is explained by Explain.
//
// Compiling (compiled.go, build.go, parts.go): most of a host's flows
// are its switches' flows with nothing of the host in them, so each
// logical switch's flows are computed once, as sorted parts shared by
// every host that carries it (a flow to a remote port or host tagged
// with that host, which leaves it out), and each host adds its own part
// of each switch (its local ports, numbered on the host, its flood sets
// and uplinks). A host's flows are the merge of its parts, made when
// first asked (HostState.Flows), or patched from its previous state's.
// Work and memory grow with switches and ports, not hosts × ports.
//
// One entry point: a Compiled is a compilation; nil.Update(t) compiles
// from scratch (Compile), c.Update(t) compares t's objects with c's by
// value (positions aside), redoes the parts of the switches the change
// reaches and the hosts that carry them, and keeps the same *HostState
// for every host whose state does not change. Delta gives what changes
// on a host (flows to add, modify and delete, port rows to add and
// delete) from the parts that differ. A property test holds Update equal
// to a compile from scratch after random edits of random topologies.
//
// Owns: the compiler: a host's desired bridge, ports and flows from a
// topology, and the flow values. May import, of Loom's packages: topology
// (imports_test.go at the module's root holds these rules).
package flows
