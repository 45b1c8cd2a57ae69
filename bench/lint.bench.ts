// Lint throughput: parse + the whole catalog (with set context and role detection) per certificate,
// beside Node's own parser reading the same certificates in the same run.
import { X509Certificate } from 'node:crypto';
import { type LintTarget, lintCertificates } from '../src/lint/engine.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { generateKey } from '../src/x509/keys.ts';
import { randomOdd, rsaSpki } from '../test/support/lint-testkit.ts';
import { type BenchResult, bestRate } from './harness.ts';

const N = 2000;

/** Kubelet-style leaves from one CA; `rsa` swaps in distinct RSA-2048 public keys (the weak-key tests then run). */
function kubeletCerts(n: number, rsa: boolean): { ca: Uint8Array; leaves: Uint8Array[] } {
  const caKp = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: { subject: 'CN=kubernetes', ca: true, keyUsage: ['keyCertSign', 'digitalSignature'], validity: { days: 3650 } },
    publicKey: caKp.publicKey,
    signingKey: caKp.privateKey,
  });
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const publicKey = rsa ? rsaSpki(randomOdd(2048), 65537n) : generateKey('ecdsa-p256').publicKey;
    leaves.push(
      issueCertificate({
        profile: {
          subject: `O=system:nodes,CN=system:node:worker-${i}`,
          sans: { dns: [`worker-${i}`, `worker-${i}.cluster.local`], ip: [`10.0.${i >> 8}.${i & 255}`] },
          keyUsage: ['digitalSignature'],
          extKeyUsage: ['clientAuth'],
          validity: { days: 365 },
        },
        publicKey,
        issuer: { cert: ca, key: caKp.privateKey },
      }).der,
    );
  }
  return { ca: ca.der, leaves };
}

function lintRate(set: { ca: Uint8Array; leaves: Uint8Array[] }): number {
  const now = new Date();
  return bestRate(() => {
    // Fresh objects every round: the model caches decoded fields, a re-lint would measure the cache.
    const targets: LintTarget[] = [{ cert: new Certificate(set.ca), source: '/etc/kubernetes/pki/ca.crt' }];
    set.leaves.forEach((d, i) => {
      targets.push({ cert: new Certificate(d), source: `/nodes/worker-${i}/var/lib/kubelet/pki/kubelet-client-current.pem` });
    });
    const r = lintCertificates(targets, { now });
    if (r.certificates !== targets.length) throw new Error('lint skipped certificates');
    return set.leaves.length;
  });
}

export async function run(): Promise<BenchResult[]> {
  const ec = kubeletCerts(N, false);
  const rsa = kubeletCerts(N, true);
  const bufs = ec.leaves.map((d) => Buffer.from(d));
  let sink = 0;
  const nodeParse = bestRate(() => {
    for (const b of bufs) {
      const c = new X509Certificate(b);
      sink += c.subject.length + (c.subjectAltName?.length ?? 0) + c.validTo.length + c.fingerprint256.length;
    }
    return bufs.length;
  });
  const baseline = { name: 'node:crypto X509Certificate parse + subject, SAN, fingerprint', value: nodeParse };
  const results: BenchResult[] = [
    { name: `lint ${N} kubelet client certificates, ECDSA P-256 (parse + full catalog)`, unit: 'certs/s', value: lintRate(ec), baseline },
    {
      name: `lint ${N} kubelet client certificates, RSA-2048 (adds Fermat and ROCA tests)`,
      unit: 'certs/s',
      value: lintRate(rsa),
      baseline,
    },
  ];
  if (sink < 0) throw new Error('unreachable');
  return results;
}
