// Package controller brings hosts to the state the compiler wants. For each
// host it observes (the OVSDB rows Loom owns and the flows in Loom's cookie
// space), plans the difference, applies it (one OVSDB transaction, then one
// OpenFlow bundle) and verifies that nothing differs afterwards.
//
// Hosts are independent: they are worked on concurrently (bounded), and a
// host that fails is reported without holding back or undoing the others.
// All I/O of Loom happens here and in the leaf packages it calls (ovsdb,
// ofctl); topology and flows stay pure.
//
// Owns: the runtime: applying compiled hosts (Engine) and keeping them so
// (Reconciler), TLS to hosts, flow inspection; it fills the wire types of
// controller/api. May import, of Loom's packages: topology, flows, ofctl,
// ovsdb, controller/api, controller/ipam, version; nothing above it
// (controller/daemon, cmd) (imports_test.go at the module's root holds
// these rules).
package controller
