// The webhook peer (bench/webhook.bench.ts): the same trust mutation as `anchorage webhook`, written the way a
// Go admission webhook is (net/http over crypto/tls, encoding/json; what controller-runtime's webhook server
// does underneath), so its latency at the same rate, on the same cores, in the same run, is the floor this
// machine allows an HTTPS admission webhook.
//
//	peer webhook <cert.pem> <key.pem> <port>  serve POST /mutate on 127.0.0.1:<port> until killed; prints
//	                                          "listening" once it accepts connections
package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type container struct {
	Name         string            `json:"name"`
	Env          []json.RawMessage `json:"env,omitempty"`
	VolumeMounts []json.RawMessage `json:"volumeMounts,omitempty"`
}

type podSpec struct {
	Containers     []container       `json:"containers"`
	InitContainers []container       `json:"initContainers,omitempty"`
	Volumes        []json.RawMessage `json:"volumes,omitempty"`
}

type pod struct {
	Metadata struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec podSpec `json:"spec"`
}

type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID       string `json:"uid"`
		Namespace string `json:"namespace"`
		Operation string `json:"operation"`
		Object    pod    `json:"object"`
	} `json:"request"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

const trustDir = "/etc/anchorage/trust"

var trustVars = []envVar{
	{"SSL_CERT_FILE", trustDir + "/ca-certificates.crt"},
	{"SSL_CERT_DIR", trustDir},
	{"NODE_EXTRA_CA_CERTS", trustDir + "/ca-certificates.crt"},
	{"REQUESTS_CA_BUNDLE", trustDir + "/ca-certificates.crt"},
	{"CURL_CA_BUNDLE", trustDir + "/ca-certificates.crt"},
	{"GIT_SSL_CAINFO", trustDir + "/ca-certificates.crt"},
}

// mutate: the trust bundle into every container (variables it does not set, the mount), and for a pod that
// asks, its identity Secret's volume: the patch `anchorage webhook` answers for the same pod.
func mutate(p *pod) []patchOp {
	var ops []patchOp
	groups := []struct {
		name string
		cs   []container
	}{{"containers", p.Spec.Containers}, {"initContainers", p.Spec.InitContainers}}
	identity := p.Metadata.Annotations["identity.anchorage.dev/enabled"] == "true"
	for _, g := range groups {
		for i, c := range g.cs {
			have := map[string]bool{}
			for _, raw := range c.Env {
				var e envVar
				if json.Unmarshal(raw, &e) == nil {
					have[e.Name] = true
				}
			}
			var env []envVar
			for _, v := range trustVars {
				if !have[v.Name] {
					env = append(env, v)
				}
			}
			base := fmt.Sprintf("/spec/%s/%d", g.name, i)
			if len(c.Env) == 0 {
				ops = append(ops, patchOp{"add", base + "/env", env})
			} else {
				for _, e := range env {
					ops = append(ops, patchOp{"add", base + "/env/-", e})
				}
			}
			mounts := []map[string]any{{"name": "anchorage-trust", "mountPath": trustDir, "readOnly": true}}
			if identity {
				mounts = append(mounts, map[string]any{"name": "anchorage-identity", "mountPath": "/var/run/anchorage/identity", "readOnly": true})
			}
			if len(c.VolumeMounts) == 0 {
				ops = append(ops, patchOp{"add", base + "/volumeMounts", mounts})
			} else {
				for _, m := range mounts {
					ops = append(ops, patchOp{"add", base + "/volumeMounts/-", m})
				}
			}
		}
	}
	volumes := []any{map[string]any{"name": "anchorage-trust", "projected": map[string]any{"defaultMode": 0o444, "sources": []any{
		map[string]any{"configMap": map[string]any{"name": "anchorage-trust", "items": []any{map[string]any{"key": "ca.crt", "path": "ca-certificates.crt"}}}},
	}}}}
	annotations := map[string]string{"trust.anchorage.dev/injected": "default"}
	if identity {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		base := p.Metadata.Name
		if base == "" {
			base = strings.TrimRight(p.Metadata.GenerateName, "-")
		}
		secret := base + "-identity-" + hex.EncodeToString(b)
		volumes = append(volumes, map[string]any{"name": "anchorage-identity", "secret": map[string]any{"secretName": secret}})
		annotations["identity.anchorage.dev/secret"] = secret
	}
	if len(p.Spec.Volumes) == 0 {
		ops = append(ops, patchOp{"add", "/spec/volumes", volumes})
	} else {
		for _, v := range volumes {
			ops = append(ops, patchOp{"add", "/spec/volumes/-", v})
		}
	}
	if p.Metadata.Annotations == nil {
		ops = append(ops, patchOp{"add", "/metadata/annotations", annotations})
	} else {
		for k, v := range annotations {
			ops = append(ops, patchOp{"add", "/metadata/annotations/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), v})
		}
	}
	return ops
}

func serveWebhook(certFile, keyFile, port string) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var rv review
		if err := json.Unmarshal(body, &rv); err != nil || rv.Request == nil || rv.Request.UID == "" {
			http.Error(w, "expected an admission.k8s.io/v1 AdmissionReview", http.StatusBadRequest)
			return
		}
		patch, _ := json.Marshal(mutate(&rv.Request.Object))
		out, _ := json.Marshal(map[string]any{
			"apiVersion": "admission.k8s.io/v1",
			"kind":       "AdmissionReview",
			"response": map[string]any{
				"uid":       rv.Request.UID,
				"allowed":   true,
				"patchType": "JSONPatch",
				"patch":     base64.StdEncoding.EncodeToString(patch),
			},
		})
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(out)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fail(err)
	}
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       65 * time.Second,
	}
	fmt.Println("listening")
	_ = os.Stdout.Sync()
	if err := srv.ServeTLS(ln, "", ""); err != nil {
		fail(err)
	}
}
