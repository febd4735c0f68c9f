// Package vswitchd holds the models of the Open_vSwitch database's tables,
// for libovsdb.
//
// Owns: those models, generated from ovsdb/vswitch.ovsschema by make
// generate (every file but this one and the hand-written helpers). May
// import, of Loom's packages: nothing (imports_test.go at the module's
// root holds these rules).
package vswitchd
