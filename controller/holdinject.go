//go:build faultinject

package controller

import (
	"context"
	"os"
	"path/filepath"
)

// In a test build, with LOOM_FAULT_HOLD_AT=POINT and
// LOOM_FAULT_HOLD_DIR=DIR, a reconcile that reaches POINT (see hold)
// creates DIR/POINT-HOST and holds there until loomd stops: the file is
// the event an end-to-end test waits for before it kills loomd.
func init() {
	holdHook = func(ctx context.Context, point, host string) {
		dir := os.Getenv("LOOM_FAULT_HOLD_DIR")
		if dir == "" || os.Getenv("LOOM_FAULT_HOLD_AT") != point {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, point+"-"+host), []byte(host+"\n"), 0o644); err != nil {
			return
		}
		<-ctx.Done()
	}
}
