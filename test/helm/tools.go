//go:build tools

// Package tools pins the helm command built by build.sh, so that `go mod tidy` keeps every module it
// needs in go.mod/go.sum. Never compiled.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
