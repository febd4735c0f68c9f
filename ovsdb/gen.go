package ovsdb

// The models in vswitchd/ are generated from the Open_vSwitch schema shipped
// with Debian 12's openvswitch-switch (3.1), checked in as vswitch.ovsschema.
//go:generate go run github.com/ovn-org/libovsdb/cmd/modelgen -p vswitchd -o vswitchd vswitch.ovsschema
