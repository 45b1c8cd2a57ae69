// Lint throughput: parse + the whole catalog (with set context and role detection) per certificate,
// beside Node's own parser reading the same certificates in the same run; and `anchorage lint <dir>` as a
// whole process beside zlint (test/zlint's zlint-batch, one process over the same files), repeated.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LintTarget, lintCertificates } from '../src/lint/engine.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { generateKey } from '../src/x509/keys.ts';
import { randomOdd, rsaSpki } from '../test/support/lint-testkit.ts';
import { zlintBinary } from '../test/zlint/zlint.ts';
import { type BenchResult, bestRate, spreadText, timeProcesses } from './harness.ts';

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
  // Whole processes over one folder of the ECDSA set: `anchorage lint` (its streaming walk, every lint of
  // its catalog) beside zlint-batch reading the same files (all of zlint's certificate lints: it has no
  // switch for the ones both tools have, so the row compares the whole runs, start-up included).
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-lint-'));
  try {
    writeFileSync(join(dir, 'ca.crt'), new Certificate(ec.ca).toPem());
    ec.leaves.forEach((d, i) => {
      writeFileSync(join(dir, `worker-${String(i).padStart(5, '0')}.crt`), new Certificate(d).toPem());
    });
    const bin = join(import.meta.dirname, '..', 'bin', 'anchorage.js');
    const st = timeProcesses(
      [
        { label: 'zlint', cmd: 'sh', args: ['-c', 'find "$1" -type f | sort | "$0" >/dev/null', zlintBinary(), dir] },
        // Exit 1 (findings at --fail-on) is an answer here, not a failure.
        { label: 'anchorage', cmd: 'sh', args: ['-c', '"$0" "$1" lint "$2" -o json >/dev/null; [ $? -le 1 ]', process.execPath, bin, dir] },
      ],
      Number(process.env.BENCH_LINT_RUNS ?? 7),
    );
    const z = st.get('zlint');
    const a = st.get('anchorage');
    if (!z || !a) throw new Error('no lint process figures');
    results.push({
      name: `anchorage lint <dir> over ${N + 1} PEM files (whole process)`,
      unit: 'ms',
      value: a.median,
      spread: spreadText(a, 'ms'),
      baseline: { name: 'zlint-batch over the same files (all its lints)', value: z.median, spread: spreadText(z, 'ms') },
      lowerIsBetter: true,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
