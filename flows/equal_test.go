package flows

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

// Every field of the topology's objects but their positions counts in
// the compiler's equality (equal.go): changing any one of them makes two
// objects differ, changing a position does not. A field added to the
// model and forgotten in equal.go fails here.
func TestEqualCoversEveryField(t *testing.T) {
	check := func(name string, zero any, equal func(a, b any) bool) {
		typ := reflect.TypeOf(zero)
		for i := range typ.NumField() {
			f := typ.Field(i)
			a := reflect.New(typ).Elem()
			b := reflect.New(typ).Elem()
			set(t, b.Field(i))
			pos := f.Type == reflect.TypeFor[topology.Pos]()
			if got := equal(a.Addr().Interface(), b.Addr().Interface()); got != pos {
				t.Errorf("%s.%s: changing it leaves the objects equal=%v, want %v", name, f.Name, got, pos)
			}
		}
	}
	check("Host", topology.Host{}, func(a, b any) bool { return equalHost(a.(*topology.Host), b.(*topology.Host)) })
	check("Switch", topology.Switch{}, func(a, b any) bool { return equalSwitch(a.(*topology.Switch), b.(*topology.Switch)) })
	check("Port", topology.Port{}, func(a, b any) bool { return equalPort(a.(*topology.Port), b.(*topology.Port)) })
	check("ACL", topology.ACL{}, func(a, b any) bool { return equalACL(a.(*topology.ACL), b.(*topology.ACL)) })
	check("Rule", topology.Rule{}, func(a, b any) bool { return equalRule(*a.(*topology.Rule), *b.(*topology.Rule)) })
	check("L2Gateway", topology.L2Gateway{}, func(a, b any) bool { return equalGateway(a.(*topology.L2Gateway), b.(*topology.L2Gateway)) })
	check("ExternalEndpoint", topology.ExternalEndpoint{}, func(a, b any) bool {
		return equalEndpoint(a.(*topology.ExternalEndpoint), b.(*topology.ExternalEndpoint))
	})
	check("Station", topology.Station{}, func(a, b any) bool { return equalStation(*a.(*topology.Station), *b.(*topology.Station)) })
}

// set gives v a value other than its zero value.
func set(t *testing.T, v reflect.Value) {
	switch v.Interface().(type) {
	case net.HardwareAddr:
		v.Set(reflect.ValueOf(net.HardwareAddr{2, 0, 0, 0, 0, 1}))
		return
	case netip.Addr:
		v.Set(reflect.ValueOf(netip.MustParseAddr("192.0.2.1")))
		return
	case netip.Prefix:
		v.Set(reflect.ValueOf(netip.MustParsePrefix("192.0.2.0/24")))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		set(t, s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		set(t, k)
		e := reflect.New(v.Type().Elem()).Elem()
		set(t, e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		set(t, v.Field(0))
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		set(t, e.Elem())
		v.Set(e)
	default:
		t.Fatalf("cannot set a %v", v.Type())
	}
}
