// Package api is loomd's HTTP API, version 1: the documents it reads and
// writes (JSON) and a client for them. The server is controller/daemon;
// loomctl is the main client. Every path is under /api/v1/:
//
//	GET  topology              the stored topology: its files and revision
//	PUT  topology              replace it (TopologyUpdate; the revision must match)
//	POST edits                 change objects of it (EditRequest): add a port, ...
//	POST validate              check files (Files), change nothing
//	POST plan                  what the hosts would need for files (or the stored topology)
//	GET  status                every host's status; ?watch=true streams Events (NDJSON)
//	GET  hosts/{host}/flows    the switch's flows, each explained, and drift
//	GET  hosts/{host}/interfaces  the bridge's interfaces as OVS last reported them
//	GET|PUT log/level          the log level, as {"level":"debug"}
//	GET  version               loomd's version and the API's (ServerVersion)
//	POST|GET runtime-ports     ports of containers (RuntimePortRequest), see runtime.go
//	DELETE runtime-ports/{name}, runtime-ports?containerID=C&ifName=I
//	DELETE removals/{host}     stop cleaning a host removed from the topology, see removals.go
//
// Every 4xx and 5xx answer carries an Error document. A 503 with
// Retry-After means loomd is busy (too many calls or connections at
// once): the Client tries again.
//
// Owns: the wire format of loomd's API, one type per concept: the
// stored topology and its changes, validation and Problem, a plan
// (HostPlan: OVSDB changes and flows to add, modify and delete), a host's
// status (HostStatus, its states, PortProblem), its observed interfaces
// (Observed), its flows explained (HostFlows), runtime ports; their JSON;
// and a Client. No behaviour of loomd: the runtime (controller,
// controller/daemon) fills these types, and the conversions from its own
// values (controller.PlanOf, controller.InspectFlows) live there.
//
// May import, of Loom's packages: topology, flows (the typed flow values)
// and version; nothing of the runtime (controller, controller/daemon,
// ovsdb, ofctl, nor libovsdb), so that what only talks to loomd (loomctl
// -tags nodirect, loom-cni, loom-docker) links none of it.
// imports_test.go at the module's root holds these rules.
package api
