// Command go-oracle answers, for a batch of cases, what Go's crypto/x509 says: ParseCertificate (or
// ParseCertificateRequest, ParseRevocationList) and Certificate.Verify. One JSON object per line on
// stdin, one answer per line on stdout, in order, so thousands of cases cost one process.
//
// Case fields (DER as base64):
//
//	{"id":"x","leaf":"..","roots":[".."],"intermediates":[".."],"time":"RFC 3339",
//	 "eku":["server"|"client"|"any"|"codeSigning"|..],"host":"name or IP"}
//	{"id":"x","parse":"certificate"|"csr"|"crl","der":".."}
//
// Answer: {"id":"x","leaf":{"ok":bool,"error":".."},"roots":[..],"intermediates":[..],
//
//	"verify":{"ok":bool,"error":"..","chains":[["subject",..]]}}
//
// or for parse-only cases {"id":"x","parse":{"ok":bool,"error":".."}}.
package main

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"
)

type request struct {
	ID            string   `json:"id"`
	Leaf          []byte   `json:"leaf"`
	Roots         [][]byte `json:"roots"`
	Intermediates [][]byte `json:"intermediates"`
	Time          string   `json:"time"`
	EKU           []string `json:"eku"`
	Host          string   `json:"host"`
	Parse         string   `json:"parse"`
	DER           []byte   `json:"der"`
}

type result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type verifyResult struct {
	OK     bool       `json:"ok"`
	Error  string     `json:"error,omitempty"`
	Chains [][]string `json:"chains,omitempty"`
}

type answer struct {
	ID            string        `json:"id"`
	GoVersion     string        `json:"goVersion,omitempty"`
	Parse         *result       `json:"parse,omitempty"`
	Leaf          *result       `json:"leaf,omitempty"`
	Roots         []result      `json:"roots,omitempty"`
	Intermediates []result      `json:"intermediates,omitempty"`
	Verify        *verifyResult `json:"verify,omitempty"`
}

var ekus = map[string]x509.ExtKeyUsage{
	"any":             x509.ExtKeyUsageAny,
	"server":          x509.ExtKeyUsageServerAuth,
	"serverAuth":      x509.ExtKeyUsageServerAuth,
	"client":          x509.ExtKeyUsageClientAuth,
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"codeSigning":     x509.ExtKeyUsageCodeSigning,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
	"timeStamping":    x509.ExtKeyUsageTimeStamping,
	"OCSPSigning":     x509.ExtKeyUsageOCSPSigning,
}

func res(err error) result {
	if err != nil {
		return result{OK: false, Error: err.Error()}
	}
	return result{OK: true}
}

func parseAll(ders [][]byte) ([]*x509.Certificate, []result) {
	var certs []*x509.Certificate
	out := make([]result, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		out = append(out, res(err))
		if err == nil {
			certs = append(certs, c)
		}
	}
	return certs, out
}

func handle(r *request) answer {
	a := answer{ID: r.ID}
	if r.ID == "version" {
		a.GoVersion = runtime.Version()
		return a
	}
	if r.Parse != "" {
		var err error
		switch r.Parse {
		case "certificate":
			_, err = x509.ParseCertificate(r.DER)
		case "csr":
			var csr *x509.CertificateRequest
			csr, err = x509.ParseCertificateRequest(r.DER)
			if err == nil {
				err = csr.CheckSignature()
			}
		case "crl":
			_, err = x509.ParseRevocationList(r.DER)
		default:
			err = fmt.Errorf("oracle: unknown parse kind %q", r.Parse)
		}
		p := res(err)
		a.Parse = &p
		return a
	}
	leaf, err := x509.ParseCertificate(r.Leaf)
	l := res(err)
	a.Leaf = &l
	roots, rr := parseAll(r.Roots)
	inters, ir := parseAll(r.Intermediates)
	a.Roots, a.Intermediates = rr, ir
	if err != nil {
		return a
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), DNSName: r.Host}
	for _, c := range roots {
		opts.Roots.AddCert(c)
	}
	for _, c := range inters {
		opts.Intermediates.AddCert(c)
	}
	if r.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil {
			a.Verify = &verifyResult{Error: "oracle: bad time: " + err.Error()}
			return a
		}
		opts.CurrentTime = t
	}
	for _, e := range r.EKU {
		u, ok := ekus[e]
		if !ok {
			a.Verify = &verifyResult{Error: "oracle: Go cannot express purpose " + e}
			return a
		}
		opts.KeyUsages = append(opts.KeyUsages, u)
	}
	chains, err := leaf.Verify(opts)
	v := verifyResult{OK: err == nil}
	if err != nil {
		v.Error = err.Error()
	}
	for _, ch := range chains {
		var names []string
		for _, c := range ch {
			names = append(names, c.Subject.String())
		}
		v.Chains = append(v.Chains, names)
	}
	a.Verify = &v
	return a
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var r request
		var a answer
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			a = answer{Parse: &result{Error: "oracle: bad request: " + err.Error()}}
		} else {
			a = handle(&r)
		}
		if err := enc.Encode(a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Flush per line: the caller may stream requests and wait for each answer.
		if err := out.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
