// A Go TLS client for the CA service's tests (test/ca-serve-reload.test.ts). Standard library only.
module anchorage.dev/test/ca-tls-client

go 1.26.0

godebug default=go1.26
