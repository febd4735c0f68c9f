// Command loomd is Loom's controller service: it keeps every host of a
// topology equal to it for as long as it runs. It re-reads the topology when
// its files change (an invalid one is rejected whole, the running one
// stays), and a controller.Reconciler works on each host: on a change, on a
// lost OVSDB connection, when a probe finds flows missing, and at a regular
// audit, it compares the host with its desired state and changes only what
// differs.
//
// Owns: the daemon's command: flags, environment, config file, signals. May
// import, of Loom's packages: controller, controller/daemon,
// controller/api, version (imports_test.go at the module's root holds these
// rules).
package main
