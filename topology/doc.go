// Package topology reads Loom's topology language: YAML files that describe
// the hosts of a fleet, the logical switches that span them and the ports
// that join workloads to those switches.
//
// Load parses, validates and freezes in one step. It decodes into yaml.v3
// nodes so that every object keeps its file, line and column, rejects
// unknown keys itself, collects every problem it finds into an ErrorList
// sorted by position, and returns a Topology only when that list is empty:
// nothing downstream ever sees a half-valid model.
//
// A Topology is a value: its slices are sorted by name and its derived ids
// (host keys, switch ids, port keys) are a pure function of the names, so
// the same files in any order give the same model. Callers must not modify
// it.
//
// A Loader loads as Load and LoadBytes do, keeping what it parsed of each
// entry of the files' lists and what it decoded of each file, so that
// loading a topology again after a small change parses and decodes only
// what changed (validation runs on the whole); its Layout tells
// topology/edit where each entry is written.
//
// This package does no I/O beyond reading the files it is given (LoadBytes
// does none at all) and never logs.
//
// Owns: the topology's model, its YAML (load, positions, errors) and every
// check of it. May import, of Loom's packages: nothing of Loom's: it is the
// bottom layer (imports_test.go at the module's root holds these rules).
package topology
