package controller

import "context"

// holdHook, set only in test builds (tag faultinject, holdinject.go),
// may stop a reconcile at a named point of its apply until ctx ends, so
// that an end-to-end test can kill loomd while an apply is under way.
var holdHook func(ctx context.Context, point, host string)

// hold is a point where a test build may hold an apply: "ovsdb" (the
// OVSDB plan is made, its transaction not sent) and "flows" (the
// transaction committed, the flows not sent).
func hold(ctx context.Context, point, host string) {
	if holdHook != nil {
		holdHook(ctx, point, host)
	}
}
