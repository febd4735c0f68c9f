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
package daemon
