package flows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/topology"
)

// FuzzCompile feeds any bytes through load, validation and the compiler.
// Nothing may panic (the compiler turns a panic into an "internal error",
// which fails here), and the compiler may refuse a valid topology only for
// what validation cannot know (the flow budget): anything
// else would make `loomctl validate` say valid to what loomd refuses.
// Seeds: testdata/fuzz/FuzzCompile. `make fuzz` runs it.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("apiVersion: loom/v1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// A compile that hangs would stop the fuzzer without a word (10 s is far
		// more than any input of a fuzzer's size takes, even on a busy machine).
		done := make(chan struct{})
		go func() {
			defer close(done)
			if topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": src}); err == nil {
				Compile(topo) //nolint:errcheck // timing only
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d bytes: no answer after 10s", len(src))
		}
		topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": src})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		states, err := Compile(topo)
		if err != nil {
			var l topology.ErrorList
			if !errors.As(err, &l) {
				t.Fatalf("not an ErrorList: %T %v", err, err)
			}
			for _, e := range l {
				if !strings.Contains(e.Msg, "flows (the last one") {
					t.Fatalf("valid topology refused by the compiler: %v", e)
				}
				if e.Pos.File != "t.yaml" && !strings.Contains(e.Msg, " more ") {
					t.Fatalf("no position: %v", e)
				}
			}
			return
		}
		if len(states) != len(topo.Hosts) {
			t.Fatalf("%d states for %d hosts", len(states), len(topo.Hosts))
		}
		// Incremental from scratch and over the first compile are Compile.
		cache, err := (*Compiled)(nil).Update(topo)
		if err != nil {
			t.Fatal(err)
		}
		again, err := cache.Update(topo)
		if err != nil || len(again.Changed()) != 0 {
			t.Fatalf("recompile of the same topology: %v, changed %v", err, again.Changed())
		}
		for i := range states {
			a := states[i].FlowText()
			b := cache.States()[i].FlowText()
			c := again.States()[i].FlowText()
			if string(a) != string(b) || string(a) != string(c) {
				t.Fatalf("host %s: incremental differs from Compile", states[i].Host)
			}
		}
	})
}
