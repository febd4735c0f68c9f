// Package ofctl programs a host's OpenFlow tables from the controller, over
// the bridge's passive listener (tcp:ADDR:PORT, or ssl:ADDR:PORT with the
// files of [WithSSL] passed to every ovs-ofctl call), through ovs-ofctl. It
// takes typed flows (a host's []flows.Flow, as compiled), not the compiler's
// host state: dumps are parsed as ovs-ofctl prints them (flows.ParseFlow,
// while it still prints), compared with the desired flows by value
// (flows.Diff), and changes are sent as bundles by go-openvswitch, fed with
// Loom's own rendering of each flow. It is a leaf: it imports flows, and
// nothing of the controller.
//
// Invariants: only flows in Loom's cookie space (flows.CookieSpace) are ever
// read, changed or deleted; every change to a switch is one OpenFlow bundle,
// so the switch holds either the old flows or the new, never half; a switch
// that already holds the desired flows receives no flow mod at all.
//
// The unit of change is a flow group: the flows of one cookie in one table
// (one rule of one topology object). A group with a stale flow on the
// switch is deleted by (table, cookie) and re-added whole inside the
// bundle; a group that only lacks flows has its flows added.
//
// A line of Loom's cookie space that the parser does not read (someone
// else's flow, with fields or actions Loom never writes) is kept as an
// Unknown with its group, which the plan replaces.
//
// A Monitor (monitor.go) keeps one `ovs-ofctl monitor` process on a switch
// and reports every change of its flows in Loom's cookie space, whoever
// makes it, each parsed (flows.ParseUpdate: updates carry no priority);
// Plan.Echo tells a bundle's own echo from the rest, flow by flow. It only
// reads.
//
// A change whose previous state Known holds goes as its difference
// (SendDelta: no dump, no count; the caller confirms it through the
// Monitor's echo), and through a Spare: for a plain target (tcp:, unix:)
// an OpenFlow connection of Loom's own kept open, on which the flow
// mods, encoded from the typed flows (encode.go), go as one bundle in
// two round trips (wire.go); for an ssl: target, or a flow the encoder
// does not write, an ovs-ofctl for the bundle started ahead, connected
// to the switch and waiting for its flows.
//
// Owns: the OpenFlow side of a host: dumping, planning and bundling flows
// through ovs-ofctl. May import, of Loom's packages: flows, topology
// (imports_test.go at the module's root holds these rules).
package ofctl
