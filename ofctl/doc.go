// Package ofctl programs a host's OpenFlow tables from the controller, over
// the bridge's passive listener (tcp:ADDR:PORT, or ssl:ADDR:PORT with the
// files of [WithSSL] passed to every ovs-ofctl call), through ovs-ofctl: typed
// flows are sent with go-openvswitch's bundles, and comparisons with the
// switch are made by OVS's own parser (ovs-ofctl diff-flows), never by
// parsing dumps in Go.
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
// A Monitor (monitor.go) keeps one `ovs-ofctl monitor` process on a switch
// and reports every change of its flows in Loom's cookie space, whoever
// makes it; Plan.Echo tells a bundle's own echo from the rest. It only
// reads.
package ofctl
