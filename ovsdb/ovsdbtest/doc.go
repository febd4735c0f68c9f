// Package ovsdbtest starts private Open vSwitch daemons for tests: a real
// ovsdb-server with an empty, initialised Open_vSwitch database, and on
// request an ovs-vswitchd on it in a network namespace of its own.
//
// Everything lives in a fresh directory under /tmp (unix socket paths must
// stay under ~107 bytes, which t.TempDir() paths can exceed), and is killed
// by pid and removed in t.Cleanup. When OVS is not installed the test is
// skipped, except under CI=true, where it fails: CI must never skip these
// tests silently.
//
// Owns: private ovsdb-server and ovs-vswitchd daemons for tests. May
// import, of Loom's packages: nothing of Loom's (imports_test.go at the
// module's root holds these rules).
package ovsdbtest
