package topology

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// clearPos zeroes every Pos in v, for comparing topologies loaded from
// different files.
func clearPos(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			clearPos(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[Pos]() {
			v.SetZero()
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				clearPos(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			clearPos(v.Index(i))
		}
	}
}

func TestSpecOfLoadsBack(t *testing.T) {
	files, _ := filepath.Glob("../deploy/examples/*.yaml")
	more, _ := filepath.Glob("../flows/testdata/*/topology.yaml")
	files = append(files, more...)
	if len(files) < 8 {
		t.Fatalf("only %d topologies found", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			want, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := SpecYAML(SpecOf(want))
			if err != nil {
				t.Fatal(err)
			}
			got, err := LoadBytes(map[string][]byte{"back.yaml": b})
			if err != nil {
				t.Fatalf("SpecOf's file does not load: %v\n%s", err, b)
			}
			got.Warnings, want.Warnings = nil, nil
			clearPos(reflect.ValueOf(got))
			clearPos(reflect.ValueOf(want))
			if d := firstDiff(reflect.ValueOf(got), reflect.ValueOf(want), "topology"); d != "" {
				t.Errorf("loaded back, the topology differs: %s\n%s", d, b)
			}
		})
	}
}

func TestRuleSpecOf(t *testing.T) {
	for _, c := range []struct {
		rule Rule
		want string
	}{
		{Rule{Allow: true, EthType: ethIPv4, Proto: ProtoTCP, DstPorts: PortSpan{80, 80}, ICMPType: -1, ICMPCode: -1},
			"{action: allow, ethType: ipv4, proto: tcp, dstPorts: 80}"},
		{Rule{Name: "ping", Allow: true, EthType: ethIPv4, Proto: ProtoICMP, ICMPType: 8, ICMPCode: -1},
			"{name: ping, action: allow, proto: icmp, icmpType: 8}"},
		{Rule{EthType: ethIPv6, Proto: -1, Dst: netip.MustParsePrefix("2001:db8::/32"), ICMPType: -1, ICMPCode: -1},
			"{action: drop, dst: '2001:db8::/32'}"},
		{Rule{Allow: true, EthType: ethIPv4, Proto: 47, Src: netip.MustParsePrefix("192.0.2.7/32"), SrcPorts: PortSpan{0, 1023}, ICMPType: -1, ICMPCode: -1},
			"{action: allow, proto: 47, src: 192.0.2.7, srcPorts: 0-1023}"},
		{Rule{Allow: true, EthType: 0x88cc, Proto: -1, ICMPType: -1, ICMPCode: -1}, "{action: allow, ethType: 0x88cc}"},
	} {
		got := SpecFields(struct {
			R []RuleSpec `yaml:"r"`
		}{[]RuleSpec{RuleSpecOf(c.rule)}})["r[1]"]
		if got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.rule, got, c.want)
		}
	}
}

func TestSpecFields(t *testing.T) {
	tp, err := Load("../deploy/examples/acls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := SpecFields(PortSpecOf(tp.Ports[0]))
	for _, k := range []string{"name", "switch", "host", "mac", "interface", "portSecurity"} {
		if f[k] == "" {
			t.Errorf("port field %s missing: %v", k, f)
		}
	}
	for k := range f {
		if strings.Contains(k, "key") || strings.Contains(k, "pos") {
			t.Errorf("derived field %s shown: %v", k, f)
		}
	}
}

// firstDiff names the first place where a and b differ ("" if nowhere).
func firstDiff(a, b reflect.Value, path string) string {
	if a.Kind() != b.Kind() {
		return path
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path
			}
			return ""
		}
		return firstDiff(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				continue
			}
			if d := firstDiff(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d entries, want %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if d := firstDiff(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %v, want %v", path, a.Interface(), b.Interface())
	}
	return ""
}
