// Go peers for Anchorage's benchmarks (bench/go.bench.ts), standard library only: crypto/x509 is what
// every Kubernetes component parses certificates with.
//
//	peer parse <corpus> <rounds>  parse every certificate of the corpus (u32 big-endian length + DER,
//	                              repeated) and read every field a person sees, key included; prints the
//	                              nanoseconds of each round, one per line
//	peer inventory <dir>...       walk the directories (sorted, dot entries skipped, symlinked dirs not
//	                              followed), read every file, decode PEM blocks or DER, parse each
//	                              certificate and print what `anchorage inspect` prints about it
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var sink int

// fields reads what a person sees of a certificate, as strings, the way inspect shows them.
func fields(c *x509.Certificate, raw []byte) []string {
	key := "unknown"
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		key = "RSA " + strconv.Itoa(k.N.BitLen())
	case *ecdsa.PublicKey:
		key = "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		key = "Ed25519"
	}
	sans := make([]string, 0, len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs)+len(c.EmailAddresses))
	for _, d := range c.DNSNames {
		sans = append(sans, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	for _, u := range c.URIs {
		sans = append(sans, "URI:"+u.String())
	}
	for _, e := range c.EmailAddresses {
		sans = append(sans, "email:"+e)
	}
	eku := make([]string, 0, len(c.ExtKeyUsage))
	for _, u := range c.ExtKeyUsage {
		eku = append(eku, strconv.Itoa(int(u)))
	}
	sum := sha256.Sum256(raw)
	sum1 := sha1.Sum(raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return []string{
		"Certificate " + c.Subject.String(),
		"  Issuer: " + c.Issuer.String(),
		"  Validity: " + c.NotBefore.UTC().Format(time.RFC3339) + " to " + c.NotAfter.UTC().Format(time.RFC3339),
		"  Key: " + key,
		"  SANs: " + strings.Join(sans, ", "),
		"  CA: " + strconv.FormatBool(c.IsCA) + " " + strconv.Itoa(c.MaxPathLen),
		"  Key usage: " + strconv.Itoa(int(c.KeyUsage)),
		"  Ext key usage: " + strings.Join(eku, ", "),
		"  CRL: " + strings.Join(c.CRLDistributionPoints, ", "),
		"  OCSP: " + strings.Join(c.OCSPServer, ", "),
		"  CA issuers: " + strings.Join(c.IssuingCertificateURL, ", "),
		"  Signature: " + c.SignatureAlgorithm.String(),
		"  Serial: " + c.SerialNumber.Text(16),
		"  Subject key ID: " + hex.EncodeToString(c.SubjectKeyId),
		"  Auth. key ID: " + hex.EncodeToString(c.AuthorityKeyId),
		"  SHA-256: " + hex.EncodeToString(sum[:]),
		"  SHA-1: " + hex.EncodeToString(sum1[:]),
		"  SPKI SHA-256: " + hex.EncodeToString(spki[:]),
	}
}

func parseCorpus(path string, rounds int) {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var ders [][]byte
	for len(data) >= 4 {
		n := binary.BigEndian.Uint32(data)
		ders = append(ders, data[4:4+n])
		data = data[4+n:]
	}
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				fail(err)
			}
			for _, f := range fields(c, d) {
				sink += len(f)
			}
		}
		fmt.Println(time.Since(t0).Nanoseconds())
	}
}

func inventory(roots []string) {
	out := bufio.NewWriterSize(os.Stdout, 64*1024)
	defer out.Flush()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(out, "%s\n  error: %v\n\n", p, err)
				return nil
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(out, "%s\n  error: %v\n\n", p, err)
				return nil
			}
			fmt.Fprintln(out, p)
			rest := data
			found := false
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" {
					continue
				}
				found = true
				show(out, b.Bytes)
			}
			if !found {
				show(out, data)
			}
			fmt.Fprintln(out)
			return nil
		})
		if err != nil {
			fail(err)
		}
	}
}

func show(out *bufio.Writer, der []byte) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		fmt.Fprintf(out, "  error: %v\n", err)
		return
	}
	for _, f := range fields(c, der) {
		out.WriteString("  ")
		out.WriteString(f)
		out.WriteByte('\n')
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peer:", err)
	os.Exit(2)
}

func main() {
	if len(os.Args) >= 4 && os.Args[1] == "parse" {
		rounds, err := strconv.Atoi(os.Args[3])
		if err != nil {
			fail(err)
		}
		parseCorpus(os.Args[2], rounds)
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "inventory" {
		inventory(os.Args[2:])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: peer parse <corpus> <rounds> | peer inventory <dir>...")
	os.Exit(2)
}
