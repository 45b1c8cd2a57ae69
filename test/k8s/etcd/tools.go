//go:build tools

// Package tools pins the etcd server command (main package at the root of
// go.etcd.io/etcd/server/v3) built by ../build.sh, so that `go mod tidy` keeps
// its dependencies in go.mod/go.sum. Never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
