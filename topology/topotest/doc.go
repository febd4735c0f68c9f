// Package topotest generates large topologies for benchmarks and tests.
//
// Owns: generated topologies for tests and benchmarks. May import, of
// Loom's packages: nothing of Loom's (imports_test.go at the module's root
// holds these rules).
package topotest
