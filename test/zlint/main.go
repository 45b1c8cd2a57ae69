// zlint-batch: run zlint v3's certificate lints over many certificates in one process.
//
// Reads file paths (PEM or DER, one certificate each), one per line, on stdin, and prints one JSON line
// per file: {"file": path, "results": {lint name: status}} with status pass, NA, NE, info, warn, error,
// fatal; only lints whose status is not NA/NE/pass are listed. A file zcrypto cannot parse gets
// {"file": path, "parseError": "..."}. With -list it prints every registered lint as JSON lines
// ({"name","source","description","citation"}) and exits.
package main

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"

	"github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

func main() {
	list := flag.Bool("list", false, "print every registered lint and exit")
	flag.Parse()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	reg := lint.GlobalRegistry()
	if *list {
		for _, name := range reg.Names() {
			l := reg.CertificateLints().ByName(name)
			if l == nil {
				continue
			}
			_ = enc.Encode(map[string]string{"name": l.Name, "source": string(l.Source), "description": l.Description, "citation": l.Citation})
		}
		return
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		path := in.Text()
		if path == "" {
			continue
		}
		rec := map[string]any{"file": path}
		data, err := os.ReadFile(path)
		if err != nil {
			rec["parseError"] = err.Error()
			_ = enc.Encode(rec)
			continue
		}
		if b, _ := pem.Decode(data); b != nil {
			data = b.Bytes
		}
		c, err := x509.ParseCertificate(data)
		if err != nil {
			rec["parseError"] = err.Error()
			_ = enc.Encode(rec)
			continue
		}
		rs := zlint.LintCertificate(c)
		res := map[string]string{}
		for name, r := range rs.Results {
			switch r.Status {
			case lint.NA, lint.NE, lint.Pass:
				continue
			}
			s := r.Status.String()
			if r.Details != "" {
				s = fmt.Sprintf("%s: %s", s, r.Details)
			}
			res[name] = s
		}
		rec["results"] = res
		_ = enc.Encode(rec)
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
