package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/viper"
	"go.uber.org/zap"
)

// loomd's memory: Go's soft memory limit (runtime/debug.SetMemoryLimit)
// scaled to the topology in force. Most of loomd's peak is short-lived
// garbage (a whole reconcile's OVSDB rows and flow text); under the
// default GOGC=100 alone the heap may grow to twice its largest live
// size before a collection, so loomd held 135-170 MiB at 2,000 ports for
// 12 MiB of compiled state. The limit makes the collector run earlier
// when the heap nears it; it is soft (the runtime gives the collector at
// most about half the CPU when the live heap is above it, and lets the
// heap grow), so a limit set too low costs CPU, never a crash.
//
// It is off by default: at 50 switches × 40 ports on 3 lab hosts, auto
// took loomd's peak from 130-134 MiB to 92-95 MiB, but a port added
// through a file reached its first reply in 0.41 s instead of 0.24 s
// (medians of 3, the same binary, docs/performance.md): the collection
// runs beside each change. For a host short of memory, not for speed.

const (
	// memFloor is the limit of a small topology.
	memFloor = 48 << 20
	// memPerFlow is what each flow of the compiled states adds: about
	// 350 bytes kept, and its share of a whole reconcile's garbage.
	memPerFlow = 1 << 10
)

// memoryLimit reads the memory-limit setting: "auto" (scaled to the
// topology: auto is true), "off" (fixed 0: the runtime's own limit,
// GOMEMLIMIT's if set, stays), or a size (fixed).
func memoryLimit(v *viper.Viper) (fixed int64, auto bool, err error) {
	switch s := strings.TrimSpace(v.GetString("memory-limit")); s {
	case "auto":
		return 0, true, nil
	case "off":
		return 0, false, nil
	default:
		n, err := size(v, "memory-limit")
		if err != nil {
			return 0, false, fmt.Errorf("%w, auto or off", err)
		}
		return n, false, nil
	}
}

// autoLimit is the memory limit of a topology of flows flows in all.
func autoLimit(flows int) int64 {
	return memFloor + int64(flows)*memPerFlow
}

// memLimiter sets the memory limit: once at start when fixed, or at each
// topology put in force when auto. GOMEMLIMIT in the environment wins
// over auto (the runtime has set it already).
type memLimiter struct {
	log  *zap.Logger
	auto bool
	last int64
}

func newMemLimiter(log *zap.Logger, fixed int64, auto bool) *memLimiter {
	m := &memLimiter{log: log, auto: auto}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok && auto {
		log.Info("memory limit from GOMEMLIMIT", zap.Int64("bytes", debug.SetMemoryLimit(-1)))
		m.auto = false
		return m
	}
	if !auto && fixed > 0 {
		debug.SetMemoryLimit(fixed)
	}
	return m
}

// installed is told of every topology put in force.
func (m *memLimiter) installed(flows int) {
	if !m.auto {
		return
	}
	limit := autoLimit(flows)
	if limit == m.last {
		return
	}
	m.last = limit
	debug.SetMemoryLimit(limit)
	m.log.Debug("memory limit", zap.Int("flows", flows), zap.Int64("bytes", limit))
}
