// Package plumb joins a workload's network namespace to a Loom switch and
// takes it off again: the plumbing that the CNI plugin (cmd/loom-cni) and
// `loomctl attach`/`detach` share. Add asks loomd for a runtime port
// (its MAC, addresses, gateways and MTU come from loomd), makes a veth
// whose host end loomd puts on the host's integration bridge, gives the
// workload's end the port's MAC, addresses and routes, and waits until
// loomd reports the port working on the host. Del removes both. A failed
// Add leaves nothing behind: no veth, no port at loomd, no address held.
//
// In the lab a host is a network namespace: Request.HostNetns names the
// one where the host's ovs-vswitchd runs (on a real host it is the
// caller's own).
//
// Owns: the host side of a container's port: veth, addresses, routes, and
// the wait for loomd to report the port working. May import, of Loom's
// packages: controller/api, topology, version: it talks to loomd through
// the API, never to the engine (imports_test.go at the module's root holds
// these rules).
package plumb
