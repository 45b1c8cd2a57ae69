// The open-loop load generator of bench/webhook.bench.ts: what vegeta or hey do, in the standard library. A load
// generator must not be what limits the figure it measures: written in Node, in the bench process, its own
// event-loop turns and garbage collections were inside every latency it timed (the same tail showed for the
// Go webhook and for Anchorage's). Here each request is sent from its own goroutine at its due time, whatever
// the earlier ones are doing, and timed from its send to the end of its answer.
//
//	peer load [--warm=<seconds>] <url> <ca.pem> <rate> <seconds> <body-file>...
//	    POST the bodies in turn (content-type application/json) at <rate>/s for <seconds> over keep-alive
//	    HTTPS trusting <ca.pem>; an answer counts when its status is 200 and it carries a JSON patch. Prints
//	    one JSON line: {"us":[latency of each counted answer, microseconds],"errors":n,"achieved":requests/s,
//	    "warmed":answers to the warm-up}
//	    --warm: first send at the same rate for that many seconds over the same client, not timed: the timed
//	    requests then go over the connections (and TLS handshakes) the warm-up opened, as an API server's
//	    requests go over its pooled connections to a webhook, instead of each run starting with a burst of
//	    new handshakes.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func loadGen(url, caFile string, rate, seconds, warm int, bodyFiles []string) {
	caPem, err := os.ReadFile(caFile)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPem) {
		fail(fmt.Errorf("%s: no certificate", caFile))
	}
	bodies := make([][]byte, 0, len(bodyFiles))
	for _, f := range bodyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		bodies = append(bodies, b)
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			// At most 64 connections, as the Node client's agent had: past that a request waits for one (its
			// wait counts in its latency) instead of opening more TLS handshakes on a webhook already behind.
			MaxConnsPerHost:     64,
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	patch := []byte(`"patch"`)
	var warmed atomic.Int64
	if warm > 0 {
		var ww sync.WaitGroup
		w0 := time.Now()
		for i := 0; i < rate*warm; i++ {
			if d := time.Until(w0.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
			ww.Add(1)
			go func(i int) {
				defer ww.Done()
				if res, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)])); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					warmed.Add(1)
				}
			}(i)
		}
		ww.Wait()
	}
	total := rate * seconds
	lat := make([]int64, total)
	ok := make([]bool, total)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < total; i++ {
		due := t0.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := time.Now()
			res, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				return
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			lat[i] = time.Since(s).Microseconds()
			ok[i] = err == nil && res.StatusCode == 200 && bytes.Contains(body, patch)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(t0).Seconds()
	out := struct {
		Us       []int64 `json:"us"`
		Errors   int     `json:"errors"`
		Achieved float64 `json:"achieved"`
		Warmed   int64   `json:"warmed"`
	}{Us: make([]int64, 0, total), Warmed: warmed.Load()}
	for i := range lat {
		if ok[i] {
			out.Us = append(out.Us, lat[i])
		} else {
			out.Errors++
		}
	}
	out.Achieved = float64(total) / elapsed
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func loadMain(args []string) {
	warm := 0
	if len(args) > 0 && strings.HasPrefix(args[0], "--warm=") {
		w, err := strconv.Atoi(strings.TrimPrefix(args[0], "--warm="))
		if err != nil || w < 0 {
			fail(fmt.Errorf("load: --warm must be a number of seconds"))
		}
		warm, args = w, args[1:]
	}
	if len(args) < 5 {
		fail(fmt.Errorf("load [--warm=<seconds>] <url> <ca.pem> <rate> <seconds> <body-file>..."))
	}
	rate, err1 := strconv.Atoi(args[2])
	seconds, err2 := strconv.Atoi(args[3])
	if err1 != nil || err2 != nil || rate <= 0 || seconds <= 0 {
		fail(fmt.Errorf("load: rate and seconds must be positive integers"))
	}
	loadGen(args[0], args[1], rate, seconds, warm, args[4:])
}
