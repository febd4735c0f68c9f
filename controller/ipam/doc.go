// Package ipam hands out the addresses of logical switches' subnets.
//
// A switch's subnets (topology.Switch.Subnets) are its pools. An address
// is never handed out when it is the subnet's network address, its IPv4
// broadcast address, its gateway, inside one of its excluded ranges, or
// held by someone (Take). Next hands out, per subnet, the first free
// address after the last one handed out (wrapping around), so an address
// just freed is the last to come back: peers' neighbour caches of a gone
// workload do not point a new one's traffic at a stale MAC.
//
// An Allocator is pure: it holds no I/O and keeps nothing itself. loomd
// builds one from the topology and what it stored (the addresses its
// ports hold, the cursors), asks it, and stores the result.
//
// Owns: the address pools of switches' subnets. May import, of Loom's
// packages: topology (imports_test.go at the module's root holds these
// rules).
package ipam
