// Package ovsdb is Loom's client for the Open_vSwitch database of one host.
//
// It keeps one integration bridge per host in the state a [BridgeSpec]
// describes, in three steps that a controller can run level-based:
//
//	c, _ := ovsdb.Dial(ctx, "unix:/var/run/openvswitch/db.sock", log)
//	p, _ := c.Plan(ctx, spec)   // diff spec against the client's cache, no writes
//	_ = c.Apply(ctx, p)         // one OVSDB transaction, or none if p is empty
//	_ = c.WaitOfports(ctx, spec.Name, want) // ovs-vswitchd has numbered the ports
//
// [Client.EnsureBridge] does Plan and Apply in one call; [Plan.Ops] hands the
// operations out for callers that compose a larger transaction.
//
// An "ssl:IP:PORT" address needs [WithTLS] with a configuration from
// [LoadTLS]: the controller's key and certificate, and the CA that signed the
// switches' certificates (checked as OVS does: the chain, not the name).
//
// # Invariants
//
//   - Ownership. Every row the package creates (Bridge, Port, Interface,
//     Controller) carries external_ids:loom-owner=loom ([OwnerKey],
//     [OwnerValue]). Only rows so marked are ever updated or deleted. A bridge
//     of the requested name that is not marked makes Plan fail with
//     [ErrForeignBridge]; ports and controllers on a Loom bridge that are not
//     marked are left alone and listed in [Plan.Foreign].
//   - Loom owns the whole external_ids map of the ports and interfaces it
//     owns: it is set to PortSpec.ExternalIDs plus the owner key, and other
//     keys are removed.
//   - A Loom port has exactly one interface, of the same name. The bridge's
//     own internal port (named like the bridge) is created with the bridge and
//     never appears in a spec.
//   - Idempotence. Plan on a host that already matches the spec returns an
//     empty plan, and Apply of an empty plan sends nothing.
//   - Atomicity. Apply sends one transaction. Every operation result is
//     checked (a nil error from libovsdb's Transact does not mean success) and
//     the per-operation errors are joined. The transaction starts with a
//     wait operation that checks the plan still holds: for a new bridge, that
//     no bridge of that name exists; for an existing one, that its
//     external_ids, ports and controller columns are as the plan saw them.
//     If not, nothing is written and Apply returns [ErrStale].
//   - Rows are removed only by dropping references (Open_vSwitch.bridges,
//     Bridge.ports, Bridge.controller); OVSDB garbage-collects the rows that
//     are no longer referenced, interfaces with their port.
//
// # Cache
//
// The client monitors only the Open_vSwitch, Bridge, Port, Interface and
// Controller tables, and only the columns the package reads (not the
// statistics columns that ovs-vswitchd rewrites every few seconds). Plan
// reads that cache after an echo round trip: ovsdb-server flushes pending
// monitor updates to a session before any reply to it, and libovsdb applies
// them in order, so the plan sees every transaction committed before Plan
// was called (by Loom or by anyone else). Every read of a row is a copy
// (libovsdb clones cached rows; the models' CloneModel, vswitchd/clone.go,
// does it in ~2 µs a row, where libovsdb's default through encoding/json
// took ~20 µs): a change of a few ports is planned from their rows alone
// (PlanChange, by the cache's name indexes), and Check reads the cache
// once for the plan, the ports and the interfaces.
//
// # ovs-vswitchd
//
// A non-empty plan also increments Open_vSwitch.next_cfg, as ovs-vsctl does.
// ovs-vswitchd copies it to cur_cfg once it has applied the configuration;
// WaitOfports waits for that before it reads ofport and error, which would
// otherwise still describe the previous configuration for a while.
//
// The client does not reconnect: it suits a one-shot command. A daemon that
// adds libovsdb's WithReconnect must give it a backoff with MaxElapsedTime =
// 0 (libovsdb panics when the backoff gives up) and must plan from scratch
// after every reconnect.
//
// Owns: the OVSDB side of a host: reading, planning and changing Loom's
// bridge, ports and interfaces. May import, of Loom's packages:
// ovsdb/vswitchd (imports_test.go at the module's root holds these rules).
package ovsdb
