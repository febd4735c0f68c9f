// Command loom-cni is Loom's CNI plugin (CNI spec 1.0.0: ADD, DEL, CHECK,
// VERSION): it joins a container to a Loom switch through loomd, which
// hands out the port's MAC and addresses and programs the switches
// (docs/containers.md). The plumbing is package plumb's, shared with
// `loomctl attach`.
//
// Owns: the CNI plugin's command. May import, of Loom's packages:
// controller/api, plumb, topology, version: loomd's client, never its
// engine (imports_test.go at the module's root holds these rules).
package main
