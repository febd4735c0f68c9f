package vswitchd

// Not generated: fast copies of the rows Loom caches.
//
// libovsdb copies a cached row every time it is read (List, Get) and when
// the cache is updated; a model without CloneModel is copied through
// encoding/json, about 20 µs a row (27 ms to read a bridge of 670 ports
// and their interfaces). Every column of a model is a scalar, a pointer to
// one (optional), a slice of them (a set) or a map of them, so a copy of
// the struct with its pointers, slices and maps copied anew is a deep copy.

import (
	"reflect"
	"sync"

	"github.com/ovn-org/libovsdb/model"
)

// refFields lists, per model type, the fields that hold references
// (pointers, slices, maps), the ones a struct copy would share.
var refFields sync.Map // reflect.Type -> []int

func refsOf(t reflect.Type) []int {
	if v, ok := refFields.Load(t); ok {
		return v.([]int)
	}
	var idx []int
	for i := 0; i < t.NumField(); i++ {
		switch t.Field(i).Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			idx = append(idx, i)
		}
	}
	refFields.Store(t, idx)
	return idx
}

// deepCopy copies *src into *dst, sharing nothing with it.
func deepCopy[T any](dst, src *T) {
	*dst = *src
	v := reflect.ValueOf(dst).Elem()
	for _, i := range refsOf(v.Type()) {
		f := v.Field(i)
		if f.IsNil() {
			continue
		}
		switch f.Kind() {
		case reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(f.Elem())
			f.Set(p)
		case reflect.Slice:
			f.Set(reflect.AppendSlice(reflect.MakeSlice(f.Type(), 0, f.Len()), f))
		case reflect.Map:
			m := reflect.MakeMapWithSize(f.Type(), f.Len())
			it := f.MapRange()
			for it.Next() {
				m.SetMapIndex(it.Key(), it.Value())
			}
			f.Set(m)
		}
	}
}

func (m *OpenvSwitch) CloneModel() model.Model        { c := new(OpenvSwitch); deepCopy(c, m); return c }
func (m *OpenvSwitch) CloneModelInto(dst model.Model) { deepCopy(dst.(*OpenvSwitch), m) }
func (m *Bridge) CloneModel() model.Model             { c := new(Bridge); deepCopy(c, m); return c }
func (m *Bridge) CloneModelInto(dst model.Model)      { deepCopy(dst.(*Bridge), m) }
func (m *Port) CloneModel() model.Model               { c := new(Port); deepCopy(c, m); return c }
func (m *Port) CloneModelInto(dst model.Model)        { deepCopy(dst.(*Port), m) }
func (m *Interface) CloneModel() model.Model          { c := new(Interface); deepCopy(c, m); return c }
func (m *Interface) CloneModelInto(dst model.Model) {
	deepCopy(dst.(*Interface), m)
}
func (m *Controller) CloneModel() model.Model { c := new(Controller); deepCopy(c, m); return c }
func (m *Controller) CloneModelInto(dst model.Model) {
	deepCopy(dst.(*Controller), m)
}
