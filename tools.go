//go:build tools

// Package tools pins the code generators used by `make generate`, so that
// `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "github.com/ovn-org/libovsdb/cmd/modelgen"
)
