package topology

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// slow is far more than any input of a fuzzer's size may take: the cost
// of a load is linear in its size.
const slow = 10 * time.Second

// FuzzLoad feeds any bytes to the loader as one file. It must never panic
// (the loader turns a panic into an "internal error" entry, which fails
// here too), and every problem must be placed inside the file. Seeds:
// testdata/fuzz/FuzzLoad (the examples, the crashers of issue 12 and what
// fuzzing found). `make fuzz` runs it.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("apiVersion: loom/v1\nports: [{name: a}]\n"))
	f.Add([]byte("apiVersion: loom/v1\nacls: [{name: a, rules: [{action: allow, proto: tcp, dstPorts: 1-2}]}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// A load that hangs would stop the fuzzer without a word.
		done := make(chan struct{})
		go func() {
			defer close(done)
			LoadBytes(map[string][]byte{"t.yaml": src}) //nolint:errcheck // timing only
		}()
		select {
		case <-done:
		case <-time.After(slow):
			t.Fatalf("%d bytes: no answer after %v", len(src), slow)
		}
		topo, err := checkLoad(t, src)
		if err != nil {
			return
		}
		// Accepted once, accepted again, to the same model.
		again, err := LoadBytes(map[string][]byte{"g.yaml": src})
		if err != nil {
			t.Fatalf("accepted as t.yaml, rejected as g.yaml: %v", err)
		}
		a, b := withoutPos(topo), withoutPos(again)
		if len(a.Warnings) != len(b.Warnings) {
			t.Fatalf("warnings differ: %v, %v", a.Warnings, b.Warnings)
		}
		a.Warnings, b.Warnings = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatal("two loads of the same bytes differ")
		}
	})
}

// checkLoad loads src as t.yaml and checks what a load must always be.
func checkLoad(t *testing.T, src []byte) (*Topology, error) {
	t.Helper()
	topo, err := LoadBytes(map[string][]byte{"t.yaml": src})
	if err == nil {
		if topo == nil {
			t.Fatal("no topology and no error")
		}
		checkList(t, src, topo.Warnings)
		return topo, nil
	}
	var l ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("not an ErrorList: %T %v", err, err)
	}
	if len(l) == 0 {
		t.Fatal("empty ErrorList")
	}
	checkList(t, src, l)
	return nil, err
}

func checkList(t *testing.T, src []byte, l ErrorList) {
	t.Helper()
	if len(l) > MaxErrors+1 {
		t.Fatalf("%d entries: at most %d and a count", len(l), MaxErrors)
	}
	lines := bytes.Count(lineFeeds(src), []byte("\n")) + 1
	for i, e := range l {
		if strings.Contains(e.Msg, "internal error") {
			t.Fatalf("%v", e)
		}
		if e.Pos.File == "" {
			if i != len(l)-1 || !strings.Contains(e.Msg, " more ") {
				t.Errorf("entry without a place: %v", e)
			}
			continue
		}
		if e.Pos.File != "t.yaml" || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 0 {
			t.Errorf("entry outside the file (%d lines): %v", lines, e)
		}
	}
}
