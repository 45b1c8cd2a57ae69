// The Go oracle for Anchorage's trust tests: crypto/x509 of the Go that builds the control plane
// (test/k8s/go.mod pins the same language version). Standard library only.
module anchorage.dev/test/go-oracle

go 1.26.0

godebug default=go1.26
