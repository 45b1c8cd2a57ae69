// The Merkle-log oracle for Anchorage's CA tests: golang.org/x/mod/sumdb/tlog (the Go checksum
// database's RFC 6962 tree) computes tree heads and proofs over the same records, and checks the
// proofs Anchorage produced. One JSON request on stdin, one JSON answer on stdout.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Records []string `json:"records"` // hex of each record's bytes
	Sizes   []int64  `json:"sizes"`   // tree sizes to compute the root of
	// Inclusion proofs to compute and to check: record Index in a tree of Size.
	Inclusion []struct {
		Index int64    `json:"index"`
		Size  int64    `json:"size"`
		Proof []string `json:"proof"` // Anchorage's proof, checked against the root of Size
	} `json:"inclusion"`
	Consistency []struct {
		Old   int64    `json:"old"`
		New   int64    `json:"new"`
		Proof []string `json:"proof"`
	} `json:"consistency"`
}

type proofAnswer struct {
	Proof []string `json:"proof"` // tlog's own proof
	Ok    bool     `json:"ok"`    // Anchorage's proof checks
	Error string   `json:"error,omitempty"`
}

type answer struct {
	LeafHashes  []string      `json:"leafHashes"`
	Roots       []string      `json:"roots"`
	Inclusion   []proofAnswer `json:"inclusion"`
	Consistency []proofAnswer `json:"consistency"`
}

func hexes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

func parse(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("bad hash %q", s)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var ans answer
	for n, r := range req.Records {
		data, err := hex.DecodeString(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ans.LeafHashes = append(ans.LeafHashes, hexes([]tlog.Hash{tlog.RecordHash(data)})[0])
		hs, err := tlog.StoredHashes(int64(n), data, reader)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		stored = append(stored, hs...)
	}
	root := func(n int64) tlog.Hash {
		h, err := tlog.TreeHash(n, reader)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return h
	}
	for _, n := range req.Sizes {
		ans.Roots = append(ans.Roots, hexes([]tlog.Hash{root(n)})[0])
	}
	for _, c := range req.Inclusion {
		var a proofAnswer
		p, err := tlog.ProveRecord(c.Size, c.Index, reader)
		if err != nil {
			a.Error = err.Error()
		}
		a.Proof = hexes(p)
		mine, err := parse(c.Proof)
		if err == nil {
			leaf := stored[tlog.StoredHashIndex(0, c.Index)]
			err = tlog.CheckRecord(mine, c.Size, root(c.Size), c.Index, leaf)
		}
		a.Ok = err == nil
		if err != nil && a.Error == "" {
			a.Error = err.Error()
		}
		ans.Inclusion = append(ans.Inclusion, a)
	}
	for _, c := range req.Consistency {
		var a proofAnswer
		p, err := tlog.ProveTree(c.New, c.Old, reader)
		if err != nil {
			a.Error = err.Error()
		}
		a.Proof = hexes(p)
		mine, err := parse(c.Proof)
		if err == nil {
			err = tlog.CheckTree(mine, c.New, root(c.New), c.Old, root(c.Old))
		}
		a.Ok = err == nil
		if err != nil && a.Error == "" {
			a.Error = err.Error()
		}
		ans.Consistency = append(ans.Consistency, a)
	}
	if err := json.NewEncoder(os.Stdout).Encode(ans); err != nil {
		os.Exit(1)
	}
}
