// Package e2e holds Loom's end-to-end tests: real ovsdb-server and
// ovs-vswitchd processes (userspace datapath) in network namespaces made by
// deploy/lab/lab.sh, real packets between workload namespaces, and the real
// loomctl binary run from the lab's controller namespace.
//
// They need root and Open vSwitch. Without them the tests skip, except when
// CI=true, where a missing prerequisite fails the run. Every lab a test
// makes has a prefix of its own (lm-tN-), so tests that do not share a lab
// run in parallel, and is torn down when the test ends, pass or fail.
//
// Owns: the end-to-end tests on labs of real OVS. May import, of Loom's
// packages: anything (tests only) (imports_test.go at the module's root
// holds these rules).
package e2e
