package vswitchd

import (
	"reflect"
	"testing"

	"github.com/ovn-org/libovsdb/model"
)

// fill sets every field of the struct v points to a non-zero value.
func fill(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		case reflect.Int:
			f.SetInt(int64(i + 1))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer:
			p := reflect.New(f.Type().Elem())
			switch p.Elem().Kind() {
			case reflect.String:
				p.Elem().SetString("p")
			case reflect.Int:
				p.Elem().SetInt(7)
			case reflect.Bool:
				p.Elem().SetBool(true)
			}
			f.Set(p)
		case reflect.Slice:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			f.Set(s)
		case reflect.Map:
			m := reflect.MakeMap(f.Type())
			m.SetMapIndex(reflect.Zero(f.Type().Key()), reflect.Zero(f.Type().Elem()))
			f.Set(m)
		}
	}
}

// shares tells which reference fields of a and b point to the same memory.
func shares(a, b reflect.Value) []string {
	var out []string
	for i := 0; i < a.NumField(); i++ {
		fa, fb := a.Field(i), b.Field(i)
		switch fa.Kind() {
		case reflect.Pointer, reflect.Map:
			if !fa.IsNil() && fa.Pointer() == fb.Pointer() {
				out = append(out, a.Type().Field(i).Name)
			}
		case reflect.Slice:
			if fa.Len() > 0 && fa.Pointer() == fb.Pointer() {
				out = append(out, a.Type().Field(i).Name)
			}
		}
	}
	return out
}

// Every model Loom caches copies itself deeply and exactly: libovsdb's
// cache relies on it (model.Clone), and a shared map or slice would let a
// reader change the cache.
func TestCloneModelIsDeep(t *testing.T) {
	for _, m := range []model.CloneableModel{&OpenvSwitch{}, &Bridge{}, &Port{}, &Interface{}, &Controller{}} {
		v := reflect.ValueOf(m).Elem()
		fill(v)
		c := m.CloneModel()
		if !reflect.DeepEqual(m, c) {
			t.Errorf("%T: the copy differs:\n%+v\n%+v", m, m, c)
		}
		if s := shares(v, reflect.ValueOf(c).Elem()); len(s) > 0 {
			t.Errorf("%T: the copy shares %v", m, s)
		}
		into := reflect.New(v.Type()).Interface().(model.Model)
		m.CloneModelInto(into)
		if !reflect.DeepEqual(m, into) {
			t.Errorf("%T: CloneModelInto differs", m)
		}
		if s := shares(v, reflect.ValueOf(into).Elem()); len(s) > 0 {
			t.Errorf("%T: CloneModelInto shares %v", m, s)
		}
		// A nil set stays nil, an empty one empty (libovsdb tells them apart
		// in comparisons of the cache).
		z := reflect.New(v.Type()).Interface().(model.CloneableModel)
		if !reflect.DeepEqual(z, z.CloneModel()) {
			t.Errorf("%T: the copy of a zero row differs", m)
		}
	}
}

func BenchmarkCloneInterface(b *testing.B) {
	ofport, ifindex := 5, 9
	i := &Interface{UUID: "u", Name: "lm-x1", Ofport: &ofport, OfportRequest: &ofport, Ifindex: &ifindex,
		ExternalIDs: map[string]string{"loom-owner": "loom", "loom-object": "port/p1"}, Options: map[string]string{}}
	b.Run("CloneModel", func(b *testing.B) {
		for b.Loop() {
			_ = model.Clone(i)
		}
	})
	b.Run("json", func(b *testing.B) {
		type plain Interface // no CloneModel: libovsdb's own way
		p := (*plain)(i)
		for b.Loop() {
			_ = model.Clone(p)
		}
	})
}
