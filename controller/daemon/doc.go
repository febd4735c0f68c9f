// Package daemon is loomd without its config: it holds the topology (from
// files it watches, or written through the API), keeps it on disk with its
// revision, hands it to a controller.Reconciler and serves the HTTP API of
// controller/api.
//
// Invariants: a topology reaches the hosts only whole and valid, and only
// after it is on disk (a PUT that cannot be stored changes nothing); the
// revision grows by one with each accepted change and survives restarts;
// a restart with the same topology changes no switch (the reconcilers find
// them in sync).
//
// Owns: loomd without its flags: the stored topology, its revisions,
// runtime ports, and the HTTP API. May import, of Loom's packages:
// controller, controller/api, controller/ipam, topology, topology/edit,
// flows, version (imports_test.go at the module's root holds these rules).
package daemon
