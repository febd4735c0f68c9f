package flows

import (
	"crypto/sha256"
	"encoding"
	"fmt"
	"io"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/loom-sdn/loom/topology"
)

// A host's compilation reads the topology only through the accessors
// below, which record the key of everything read. Since compileHost is a
// function of what it reads, a host whose recorded inputs are all equal
// in a new topology compiles to the same state: CompileIncremental reuses
// it instead of compiling it again (a "verifying trace", as build systems
// keep). Keys name an object or a list the index holds:
const (
	keyHost          = "host:"     // a host
	keySwitch        = "switch:"   // a switch
	keyACL           = "acl:"      // an ACL
	keyPortsOnSwitch = "ports@sw:" // the ports of a switch, in order
	keyPortsOnHost   = "ports@h:"  // the ports of a host, in order
	keyGatewaysOfSw  = "gws@sw:"   // the L2 gateways of a switch
	keyGatewaysOnH   = "gws@h:"    // the L2 gateways on a host
	keyEndpointsOfSw = "eps@sw:"   // the external endpoints of a switch
)

func (c *compiler) read(key string) { c.reads[key] = struct{}{} }

func (c *compiler) host(name string) *topology.Host {
	c.read(keyHost + name)
	return c.ix.hosts[name]
}

func (c *compiler) switch_(name string) *topology.Switch {
	c.read(keySwitch + name)
	return c.ix.switches[name]
}

func (c *compiler) acl(name string) *topology.ACL {
	c.read(keyACL + name)
	return c.ix.acls[name]
}

func (c *compiler) portsOnSwitch(sw string) []*topology.Port {
	c.read(keyPortsOnSwitch + sw)
	return c.ix.portsBySwitch[sw]
}

func (c *compiler) portsOnHost(h string) []*topology.Port {
	c.read(keyPortsOnHost + h)
	return c.ix.portsByHost[h]
}

func (c *compiler) gatewaysOfSwitch(sw string) []*topology.L2Gateway {
	c.read(keyGatewaysOfSw + sw)
	return c.ix.gateways[sw]
}

func (c *compiler) gatewaysOnHost(h string) []*topology.L2Gateway {
	c.read(keyGatewaysOnH + h)
	return c.ix.gatewaysByHost[h]
}

func (c *compiler) endpointsOfSwitch(sw string) []*topology.ExternalEndpoint {
	c.read(keyEndpointsOfSw + sw)
	return c.ix.endpoints[sw]
}

type digest [sha256.Size]byte

// hasher digests what a key names in one topology, each key once.
type hasher struct {
	ix   *index
	mu   sync.Mutex
	memo map[string]digest
}

func (h *hasher) digest(key string) digest {
	h.mu.Lock()
	d, ok := h.memo[key]
	h.mu.Unlock()
	if ok {
		return d
	}
	d = h.compute(key)
	h.mu.Lock()
	h.memo[key] = d
	h.mu.Unlock()
	return d
}

// compute digests every field of the object but its positions, or of
// each member of a list, in order. Positions only reach flows' origins: a
// host reused because nothing but positions changed keeps the positions
// of the topology it was compiled from (moving lines in a file recompiles
// nothing).
func (h *hasher) compute(key string) digest {
	one := func(v any) digest {
		s := sha256.New()
		writeValue(s, reflect.ValueOf(v))
		var d digest
		copy(d[:], s.Sum(nil))
		return d
	}
	list := func(n int, at func(int) any) digest {
		s := sha256.New()
		fmt.Fprintf(s, "%d;", n)
		for i := range n {
			d := one(at(i))
			s.Write(d[:])
		}
		var d digest
		copy(d[:], s.Sum(nil))
		return d
	}
	ix := h.ix
	kind, name := splitKey(key)
	switch kind {
	case keyHost:
		return one(ix.hosts[name])
	case keySwitch:
		return one(ix.switches[name])
	case keyACL:
		return one(ix.acls[name])
	case keyPortsOnSwitch:
		l := ix.portsBySwitch[name]
		return list(len(l), func(i int) any { return l[i] })
	case keyPortsOnHost:
		l := ix.portsByHost[name]
		return list(len(l), func(i int) any { return l[i] })
	case keyGatewaysOfSw:
		l := ix.gateways[name]
		return list(len(l), func(i int) any { return l[i] })
	case keyGatewaysOnH:
		l := ix.gatewaysByHost[name]
		return list(len(l), func(i int) any { return l[i] })
	case keyEndpointsOfSw:
		l := ix.endpoints[name]
		return list(len(l), func(i int) any { return l[i] })
	}
	panic("flows: unknown dependency key " + key)
}

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	posType       = reflect.TypeFor[topology.Pos]()
)

// writeValue writes v to w unambiguously: every field of a struct except
// positions (topology.Pos), lengths before elements, map keys in order.
func writeValue(w io.Writer, v reflect.Value) {
	if v.Kind() != reflect.Pointer && v.Type().Implements(textMarshaler) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			panic(fmt.Sprintf("flows: digest of %v: %v", v.Type(), err))
		}
		fmt.Fprintf(w, "t%d:%s", len(b), b)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			io.WriteString(w, "n")
			return
		}
		io.WriteString(w, "p")
		writeValue(w, v.Elem())
	case reflect.Struct:
		t := v.Type()
		fmt.Fprintf(w, "{%d", t.NumField())
		for i := range t.NumField() {
			if t.Field(i).Type == posType {
				continue
			}
			writeValue(w, v.Field(i))
		}
		io.WriteString(w, "}")
	case reflect.Slice, reflect.Array:
		fmt.Fprintf(w, "[%d", v.Len())
		for i := range v.Len() {
			writeValue(w, v.Index(i))
		}
		io.WriteString(w, "]")
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		fmt.Fprintf(w, "m%d", len(keys))
		for _, k := range keys {
			writeValue(w, k)
			writeValue(w, v.MapIndex(k))
		}
	case reflect.String:
		fmt.Fprintf(w, "s%d:%s", v.Len(), v.String())
	case reflect.Bool:
		fmt.Fprintf(w, "b%t", v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		fmt.Fprintf(w, "i%d;", v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		fmt.Fprintf(w, "u%d;", v.Uint())
	default:
		panic(fmt.Sprintf("flows: digest of a %v", v.Kind()))
	}
}

func splitKey(key string) (kind, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == ':' {
			return key[:i+1], key[i+1:]
		}
	}
	return key, ""
}

// Cache is what CompileIncremental keeps of a compilation: each host's
// state and the digests of what compiling it read. A Cache is not
// modified once returned.
type Cache struct {
	hosts map[string]cachedHost
}

type cachedHost struct {
	hs   *HostState
	deps map[string]digest
}

// Reuse says what CompileIncremental did.
type Reuse struct {
	Compiled, Reused int // hosts
}

// CompileIncremental is Compile that reuses, from prev (nil: nothing to
// reuse), the state of every host whose inputs are unchanged, and returns
// the cache for the next call. Its output equals Compile's, except that
// the positions in the origins of a reused host's flows are those of the
// topology it was compiled from (see hasher.compute).
func CompileIncremental(t *topology.Topology, prev *Cache) ([]*HostState, *Cache, Reuse, error) {
	var r Reuse
	if err := supported(t); err != nil {
		return nil, nil, r, err
	}
	ix := newIndex(t)
	h := &hasher{ix: ix, memo: map[string]digest{}}
	out := make([]*HostState, len(t.Hosts))
	entries := make([]cachedHost, len(t.Hosts))
	var compiled atomic.Int64
	err := eachHost(t.Hosts, func(i int) error {
		me := &t.Hosts[i]
		if prev != nil {
			if e, ok := prev.hosts[me.Name]; ok && unchanged(h, e.deps) {
				out[i], entries[i] = e.hs, e
				return nil
			}
		}
		compiled.Add(1)
		hs, reads, err := compileHostTraced(ix, me)
		if err != nil {
			return err
		}
		deps := make(map[string]digest, len(reads))
		for k := range reads {
			deps[k] = h.digest(k)
		}
		out[i], entries[i] = hs, cachedHost{hs: hs, deps: deps}
		return nil
	})
	if err != nil {
		return nil, nil, r, err
	}
	c := &Cache{hosts: make(map[string]cachedHost, len(t.Hosts))}
	for i, e := range entries {
		c.hosts[t.Hosts[i].Name] = e
	}
	r.Compiled = int(compiled.Load())
	r.Reused = len(t.Hosts) - r.Compiled
	return out, c, r, nil
}

func unchanged(h *hasher, deps map[string]digest) bool {
	for k, d := range deps {
		if h.digest(k) != d {
			return false
		}
	}
	return true
}
