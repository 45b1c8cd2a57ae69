// The monitor's judging of one change, in process (no API server): BENCH_JUDGE_OBJECTS TLS Secrets (default
// 5,000) held by a ClusterState as the informers hand them over (src/monitor/extract.ts), 1,000 distinct
// leaf+chain pairs and keys cycled, in two shapes: every leaf from one CA carried in every Secret's chain
// (one group: the bench on the API server, serve.bench.ts), and each pair under a CA of its own (1,000 groups
// of 5). Per shape: the median time of a pass after one Secret changed (incremental judging,
// src/monitor/incremental.ts), against the median time of the same pass in a ClusterState that scans
// everything on every change (`full: true`, what a pass cost before) holding the same objects, in the same
// process, the two alternating.
import { ClusterState } from '../src/monitor/cluster.ts';
import { extract } from '../src/monitor/extract.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import type { BenchResult } from './harness.ts';

const N = Number(process.env.BENCH_JUDGE_OBJECTS ?? 5000);
const DISTINCT = 1000;
const ROUNDS = 7;
const NS = 'bench-judge';

function pairs(shared: boolean): { crt: string; key: string }[] {
  const root = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: { subject: 'CN=bench judge CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
    publicKey: root.publicKey,
    signingKey: root.privateKey,
  });
  return Array.from({ length: DISTINCT }, (_, i) => {
    let issuer = { cert: ca, key: root.privateKey };
    if (!shared) {
      const k = generateKey('ecdsa-p256');
      const own = issueCertificate({
        profile: { subject: `CN=bench judge CA ${i}`, ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
        publicKey: k.publicKey,
        signingKey: k.privateKey,
      });
      issuer = { cert: own, key: k.privateKey };
    }
    const kp = generateKey('ecdsa-p256');
    const leaf = issueCertificate({
      profile: {
        subject: `CN=svc-${i}.${NS}.svc`,
        sans: { dns: [`svc-${i}.${NS}.svc`] },
        keyUsage: ['digitalSignature'],
        extKeyUsage: ['serverAuth'],
        validity: { days: 30 },
      },
      publicKey: kp.publicKey,
      issuer,
    });
    return { crt: leaf.toPem() + issuer.cert.toPem(), key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
  });
}

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] as number;
const p = (a: number[], q: number): number => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) * q)] as number;

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const shared of [true, false]) {
    const list = pairs(shared);
    const secret = (i: number, x: { crt: string; key: string }) =>
      extract('Secret', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `tls-${i}`, namespace: NS },
        data: { 'tls.crt': Buffer.from(x.crt).toString('base64'), 'tls.key': Buffer.from(x.key).toString('base64') },
      });
    const c = new ClusterState({ name: 'bench', kind: 'kubeconfig', debounceMs: 3_600_000 });
    const f = new ClusterState({ name: 'bench', kind: 'kubeconfig', debounceMs: 3_600_000, full: true });
    try {
      for (let i = 0; i < N; i++) {
        const x = secret(i, list[i % DISTINCT] as { crt: string; key: string });
        c.setObject(`Secret|${NS}/tls-${i}`, x);
        f.setObject(`Secret|${NS}/tls-${i}`, x);
      }
      c.rescan();
      f.rescan();
      const inc: number[] = [];
      const full: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const i = Math.floor(Math.random() * N);
        const x = secret(i, list[(i + 1 + r) % DISTINCT] as { crt: string; key: string });
        c.setObject(`Secret|${NS}/tls-${i}`, x);
        f.setObject(`Secret|${NS}/tls-${i}`, x);
        let t = performance.now();
        c.rescan();
        inc.push(performance.now() - t);
        t = performance.now();
        f.rescan();
        full.push(performance.now() - t);
      }
      const shape = shared
        ? `${N.toLocaleString('en-US')} TLS Secrets, one CA in every chain (${c.lastJudged.groups} group)`
        : `${N.toLocaleString('en-US')} TLS Secrets, 1,000 CAs (${c.lastJudged.groups} groups)`;
      out.push({
        name: `serve: judge one changed Secret, ${shape}`,
        unit: 'ms',
        value: median(inc),
        spread: `p25-p75 ${p(inc, 0.25).toFixed(0)}-${p(inc, 0.75).toFixed(0)} ms, ${ROUNDS} changes`,
        baseline: {
          name: 'the same pass scanning everything (every pass before)',
          value: median(full),
          spread: `p25-p75 ${p(full, 0.25).toFixed(0)}-${p(full, 0.75).toFixed(0)} ms`,
        },
        lowerIsBetter: true,
      });
    } finally {
      c.stop();
      f.stop();
    }
  }
  return out;
}
