// Command loomctl is Loom's command line. It validates and compiles
// topologies offline, and plans and applies them on hosts by itself, with
// no daemon: apply connects to every host, changes what differs, verifies,
// and exits 1 if the topology is invalid or any host failed.
//
// Each verb is a file of its own (validate.go, compile.go, apply.go for
// apply and plan); main.go only wires them.
//
// Owns: the CLI: its verbs, flags and printing. May import, of Loom's
// packages: controller/api, topology, topology/edit, flows, flows/sim,
// controller/ipam, plumb, version, and controller for --direct only (not
// built with -tags nodirect, which links no engine package: build_test.go)
// (imports_test.go at the module's root holds these rules).
package main
