// The Merkle-log oracle for Anchorage's CA tests (test/support/merkle-oracle.ts).
module anchorage.dev/test/merkle-oracle

go 1.26.0

require golang.org/x/mod v0.29.0
