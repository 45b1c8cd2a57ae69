// Go peers for Anchorage's benchmarks (bench/peers.bench.ts), standard library only: crypto/x509 is what
// every Kubernetes component parses certificates with.
//
//	peer parse <corpus> <rounds>  parse every certificate of the corpus (u32 big-endian length + DER,
//	                              repeated) and read every field a person sees, key included; prints the
//	                              nanoseconds of each round, wall then CPU (user + system), one round a line
//	peer issue <alg> <n> <rounds> issue n leaves per round (alg: ecdsa-p256 | rsa-2048), each with a fresh
//	                              key, signed by an ECDSA P-256 CA: prints "wall cpu" nanoseconds per round
//	peer verify <dir> <unix> <rounds>
//	                              <dir>/root.pem, int.pem and leaf-*.pem: per round, cold (every chain read
//	                              from its PEM bytes and verified with fresh pools, as a new process would)
//	                              then warm (the parsed certificates and one pool reused): "cold warm
//	                              coldCpu warmCpu" ns
//	peer inventory <dir>...       walk the directories (sorted, dot entries skipped, symlinked dirs not
//	                              followed), read every file, decode PEM blocks or DER, parse each
//	                              certificate and print what `anchorage inspect` prints about it
//	peer scan <dir>...            what `anchorage scan` does with a tree of certificate files, in Go: walk and
//	                              read every file, parse every PEM certificate, keep each once by SHA-256 with
//	                              its places, then verify every non-self-signed one against the roots and
//	                              intermediates found (crypto/x509 Verify: path building and signatures);
//	                              prints the counts and the number that do not verify
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var sink int

// cpuNs is the CPU time (user + system) this process has used, all threads: on a machine shared with
// other work, CPU time per operation is steadier than wall time (which counts waiting for a core).
func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

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
		t0, c0 := time.Now(), cpuNs()
		for _, d := range ders {
			c, err := x509.ParseCertificate(d)
			if err != nil {
				fail(err)
			}
			for _, f := range fields(c, d) {
				sink += len(f)
			}
		}
		fmt.Println(time.Since(t0).Nanoseconds(), cpuNs()-c0)
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

func issue(alg string, n, rounds int) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fail(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench-ca"},
		NotBefore: now, NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	caDer, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		fail(err)
	}
	ca, err := x509.ParseCertificate(caDer)
	if err != nil {
		fail(err)
	}
	for r := 0; r < rounds; r++ {
		t0, c0 := time.Now(), cpuNs()
		for i := 0; i < n; i++ {
			var pub any
			switch alg {
			case "ecdsa-p256":
				k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					fail(err)
				}
				pub = &k.PublicKey
			case "rsa-2048":
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					fail(err)
				}
				pub = &k.PublicKey
			default:
				fail(fmt.Errorf("unknown key type %s", alg))
			}
			serial := make([]byte, 16)
			if _, err := rand.Read(serial); err != nil {
				fail(err)
			}
			serial[0] &= 0x7f
			tmpl := &x509.Certificate{
				SerialNumber: new(big.Int).SetBytes(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("leaf-%d", i)},
				DNSNames: []string{fmt.Sprintf("leaf-%d.example", i)}, NotBefore: now, NotAfter: now.Add(30 * 24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				BasicConstraintsValid: true,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
			if err != nil {
				fail(err)
			}
			sink += len(der)
		}
		fmt.Println(time.Since(t0).Nanoseconds(), cpuNs()-c0)
	}
}

func pemCert(data []byte) *x509.Certificate {
	b, _ := pem.Decode(data)
	if b == nil {
		fail(fmt.Errorf("no PEM block"))
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		fail(err)
	}
	return c
}

func verifyChains(dir string, at int64, rounds int) {
	read := func(p string) []byte {
		d, err := os.ReadFile(p)
		if err != nil {
			fail(err)
		}
		return d
	}
	leafFiles, err := filepath.Glob(filepath.Join(dir, "leaf-*.pem"))
	if err != nil || len(leafFiles) == 0 {
		fail(fmt.Errorf("no leaves in %s", dir))
	}
	rootFile, intFile := filepath.Join(dir, "root.pem"), filepath.Join(dir, "int.pem")
	when := time.Unix(at, 0)
	opts := func(roots, ints *x509.CertPool) x509.VerifyOptions {
		return x509.VerifyOptions{Roots: roots, Intermediates: ints, CurrentTime: when, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	}
	roots, ints := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(pemCert(read(rootFile)))
	ints.AddCert(pemCert(read(intFile)))
	leaves := make([]*x509.Certificate, len(leafFiles))
	for i, f := range leafFiles {
		leaves[i] = pemCert(read(f))
	}
	for r := 0; r < rounds; r++ {
		t0, c0 := time.Now(), cpuNs()
		for _, f := range leafFiles {
			rp, ip := x509.NewCertPool(), x509.NewCertPool()
			rp.AddCert(pemCert(read(rootFile)))
			ip.AddCert(pemCert(read(intFile)))
			if _, err := pemCert(read(f)).Verify(opts(rp, ip)); err != nil {
				fail(err)
			}
		}
		cold, coldCpu := time.Since(t0).Nanoseconds(), cpuNs()-c0
		t0, c0 = time.Now(), cpuNs()
		for _, l := range leaves {
			if _, err := l.Verify(opts(roots, ints)); err != nil {
				fail(err)
			}
		}
		fmt.Println(cold, time.Since(t0).Nanoseconds(), coldCpu, cpuNs()-c0)
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
	if len(os.Args) >= 5 && os.Args[1] == "issue" {
		n, err1 := strconv.Atoi(os.Args[3])
		rounds, err2 := strconv.Atoi(os.Args[4])
		if err1 != nil || err2 != nil {
			fail(fmt.Errorf("issue <alg> <n> <rounds>"))
		}
		issue(os.Args[2], n, rounds)
		return
	}
	if len(os.Args) >= 5 && os.Args[1] == "verify" {
		at, err1 := strconv.ParseInt(os.Args[3], 10, 64)
		rounds, err2 := strconv.Atoi(os.Args[4])
		if err1 != nil || err2 != nil {
			fail(fmt.Errorf("verify <dir> <unix> <rounds>"))
		}
		verifyChains(os.Args[2], at, rounds)
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "scan" {
		scanTree(os.Args[2:])
		return
	}
	if len(os.Args) >= 3 && os.Args[1] == "inventory" {
		inventory(os.Args[2:])
		return
	}
	if len(os.Args) >= 2 && os.Args[1] == "load" {
		loadMain(os.Args[2:])
		return
	}
	if len(os.Args) >= 5 && os.Args[1] == "webhook" {
		serveWebhook(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: peer parse <corpus> <rounds> | peer issue <alg> <n> <rounds> | peer verify <dir> <unix> <rounds> | peer inventory <dir>... | peer webhook <cert> <key> <port> | peer load [--warm=<s>] <url> <ca> <rate> <seconds> <body>...")
	os.Exit(2)
}

func scanTree(roots []string) {
	type entry struct {
		cert   *x509.Certificate
		places []string
	}
	seen := map[[32]byte]*entry{}
	var order []*entry
	files := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			rest := data
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" {
					continue
				}
				k := sha256.Sum256(b.Bytes)
				if e := seen[k]; e != nil {
					e.places = append(e.places, p)
					continue
				}
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					continue
				}
				e := &entry{cert: c, places: []string{p}}
				seen[k] = e
				order = append(order, e)
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
	}
	rootPool, intPool := x509.NewCertPool(), x509.NewCertPool()
	for _, e := range order {
		if !e.cert.IsCA {
			continue
		}
		if bytes.Equal(e.cert.RawIssuer, e.cert.RawSubject) && e.cert.CheckSignatureFrom(e.cert) == nil {
			rootPool.AddCert(e.cert)
		} else {
			intPool.AddCert(e.cert)
		}
	}
	untrusted := 0
	for _, e := range order {
		if bytes.Equal(e.cert.RawIssuer, e.cert.RawSubject) {
			continue
		}
		if _, err := e.cert.Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: intPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			untrusted++
		}
	}
	fmt.Printf("files %d certificates %d untrusted %d\n", files, len(order), untrusted)
}
