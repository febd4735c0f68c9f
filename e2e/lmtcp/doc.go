// Command lmtcp is the end-to-end tests' TCP peer, run inside lab
// namespaces: "lmtcp serve PORT..." accepts connections on each port and
// echoes what it reads; "lmtcp connect IP PORT" connects, sends a line,
// checks the echo and exits 0, or exits 1 after a few seconds.
//
// Owns: the tests' TCP peer. May import, of Loom's packages: nothing of
// Loom's (imports_test.go at the module's root holds these rules).
package main
