package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"go.uber.org/zap"
)

func TestMemoryLimitSetting(t *testing.T) {
	for _, tc := range []struct {
		in    string
		fixed int64
		auto  bool
		err   string
	}{
		{"auto", 0, true, ""},
		{" auto ", 0, true, ""},
		{"off", 0, false, ""},
		{"256MiB", 256 << 20, false, ""},
		{"1073741824", 1 << 30, false, ""},
		{"lots", 0, false, `memory-limit "lots": want a size such as 32MiB, 512KiB or 1048576 (bytes), auto or off`},
		{"-1MiB", 0, false, "want a size"},
	} {
		v := viper.New()
		v.Set("memory-limit", tc.in)
		fixed, auto, err := memoryLimit(v)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || fixed != tc.fixed || auto != tc.auto {
			t.Errorf("%q: %d, %v, %v; want %d, %v", tc.in, fixed, auto, err, tc.fixed, tc.auto)
		}
	}
}

// The limiter sets Go's limit: fixed at once, auto at each topology, not
// at all over GOMEMLIMIT. The process's limit is restored after.
func TestMemLimiter(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	log := zap.NewNop()

	newMemLimiter(log, 300<<20, false).installed(1e6)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("fixed: limit %d, want %d (and not changed by a topology)", got, 300<<20)
	}

	m := newMemLimiter(log, 0, true)
	m.installed(35_000) // 50 switches × 40 ports on 3 hosts
	if got, want := debug.SetMemoryLimit(-1), int64(48<<20+35_000<<10); got != want {
		t.Errorf("auto at 35,000 flows: limit %d, want %d", got, want)
	}
	m.installed(5_000_000)
	if got := debug.SetMemoryLimit(-1); got != autoLimit(5_000_000) || got < 4<<30 {
		t.Errorf("auto at 5 M flows: limit %d, want %d (at least 4 GiB)", got, autoLimit(5_000_000))
	}

	// off leaves the runtime's limit (GOMEMLIMIT's, if set) alone.
	debug.SetMemoryLimit(200 << 20)
	newMemLimiter(log, 0, false).installed(35_000)
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("off: limit changed from %d to %d", 200<<20, got)
	}

	debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "123MiB")
	m = newMemLimiter(log, 0, true)
	m.installed(35_000)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("auto with GOMEMLIMIT set: limit changed to %d", got)
	}
}
