// ca-tls-client: one HTTPS request the way a Go program makes it, for the CA service's tests.
// Go's crypto/tls sends a client certificate only when its issuer is among the CA names the server's
// CertificateRequest lists (tls.CertificateRequestInfo.SupportsCertificate), which is what the tests
// check `ca serve` keeps current. Prints the HTTP status on the first line, the body after it.
//
//	ca-tls-client -url https://127.0.0.1:8443/v1/renew -ca api-root.pem [-cert c.pem -key k.pem] [-body body.json]
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	url := flag.String("url", "", "https URL")
	caFile := flag.String("ca", "", "PEM of the server's trust anchor")
	certFile := flag.String("cert", "", "client certificate (PEM, chain)")
	keyFile := flag.String("key", "", "client key (PEM)")
	bodyFile := flag.String("body", "", "POST this file's content (default: GET)")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "ca-tls-client:", err)
		os.Exit(2)
	}
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	if !roots.AppendCertsFromPEM(pem) {
		fail(fmt.Errorf("%s: no certificate", *caFile))
	}
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 120 * time.Second}
	var res *http.Response
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fail(err)
		}
		res, err = client.Post(*url, "application/json", bytes.NewReader(b))
		if err != nil {
			fail(err)
		}
	} else {
		res, err = client.Get(*url)
		if err != nil {
			fail(err)
		}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n%s", res.StatusCode, b)
}
