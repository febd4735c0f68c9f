// Command benchtable collates the output of make bench into one table: the
// Go benchmarks of topology/ and flows/ (standard "BenchmarkX  N  V unit"
// lines) and the lab benchmarks of e2e (lines "BENCH {json}", see
// e2e/bench_test.go). It reads the files named as arguments, or stdin.
//
//	go run ./e2e/benchtable bin/bench/bench.log
//
// It exits 1 if the output holds a failed test or benchmark, or no figure.
//
// Owns: make bench's table. May import, of Loom's packages: nothing of
// Loom's (imports_test.go at the module's root holds these rules).
package main
