// Anchorage beside Go's crypto/x509 (bench/go: the library every Kubernetes component parses with), in
// the same run, on a mixed corpus: RSA-2048/3072/4096, ECDSA P-256/P-384 and Ed25519 keys, signed by
// RSA, ECDSA and Ed25519 CAs, 4-50 SANs, long distinguished names, AIA, CRL distribution points and
// policies on some. Each figure is the median of repeated runs, with its spread.
//   parse:     in one process, every field a person sees (what `inspect` shows), public key included
//   inventory: `anchorage inspect <dir>` against the Go walker printing the same fields, whole processes
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { generateKey, KEY_TYPES, type KeyPair, type KeyType } from '../src/x509/keys.ts';
import { type BenchResult, type Stats, spreadText, stats, timeProcesses } from './harness.ts';

const root = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_PEERS_CERTS ?? 3000);
const ROUNDS = Number(process.env.BENCH_PEERS_ROUNDS ?? 9);

/** The mixed corpus, DER, deterministic in shape (keys and serials are random). */
export function corpus(n: number): Uint8Array[] {
  const keys = new Map<KeyType, KeyPair>(KEY_TYPES.map((t) => [t, generateKey(t)]));
  const key = (t: KeyType): KeyPair => keys.get(t) as KeyPair;
  const cas = (['ecdsa-p256', 'rsa-2048', 'ecdsa-p384', 'ed25519'] as const).map((t) => {
    const kp = key(t);
    const cert = issueCertificate({
      profile: {
        subject: `C=DE,ST=Berlin,L=Berlin,O=Anchorage Benchmark Certificate Authority ${t},OU=Platform Engineering,CN=Anchorage bench intermediate CA ${t}`,
        ca: true,
        keyUsage: ['keyCertSign', 'cRLSign'],
        validity: { days: 3650 },
      },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    return { cert, key: kp.privateKey };
  });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const t = KEY_TYPES[i % KEY_TYPES.length] as KeyType;
    const sans = 4 + ((i * 7) % 47); // 4..50
    const dns = Array.from({ length: sans - 1 }, (_, j) => `svc-${j}.namespace-${i % 97}.svc.cluster.local`);
    const rich = i % 3 === 0;
    out.push(
      issueCertificate({
        profile: {
          subject:
            i % 2
              ? `O=system:nodes,CN=system:node:worker-${i}`
              : `C=US,ST=California,L=San Francisco,O=Example Platform Infrastructure Incorporated,OU=Kubernetes Control Plane Services,CN=kube-apiserver-${i}.control-plane.us-west-2.compute.internal`,
          sans: { dns, ip: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] },
          keyUsage: ['digitalSignature', ...(t.startsWith('rsa') ? (['keyEncipherment'] as const) : [])],
          extKeyUsage: ['serverAuth', 'clientAuth'],
          validity: { days: 365 },
          ...(rich
            ? {
                authorityInfoAccess: { ocsp: ['http://ocsp.example.com'], caIssuers: ['http://pki.example.com/ca.crt'] },
                crlDistributionPoints: ['http://pki.example.com/ca.crl'],
                policies: ['2.23.140.1.2.2'],
              }
            : {}),
        },
        publicKey: key(t).publicKey,
        issuer: cas[i % cas.length] as { cert: Certificate; key: KeyPair['privateKey'] },
      }).der,
    );
  }
  return out;
}

const perSecond = (st: Stats, ops: number): { value: number; spread: string } => {
  // Rates from round times: the median round is the median rate; the quartiles swap ends.
  const rate = (ms: number): number => ops / (ms / 1000);
  return {
    value: rate(st.median),
    spread: `p25-p75 ${Math.round(rate(st.p75)).toLocaleString('en-US')}-${Math.round(rate(st.p25)).toLocaleString('en-US')}, ${st.runs} rounds`,
  };
};

export async function run(): Promise<BenchResult[]> {
  const peer = execFileSync('bash', [join(root, 'bench/go/build.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  const tmp = mkdtempSync(join(tmpdir(), 'anchorage-bench-peers-'));
  try {
    const ders = corpus(N);
    const corpusFile = join(tmp, 'corpus.bin');
    const parts: Uint8Array[] = [];
    for (const d of ders) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, d.length);
      parts.push(len, d);
    }
    writeFileSync(corpusFile, Buffer.concat(parts));
    const tree = join(tmp, 'tree');
    for (const [i, d] of ders.entries()) {
      const sub = join(tree, `ns-${String(i % 30).padStart(2, '0')}`);
      if (i < 30) mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `cert-${String(i).padStart(5, '0')}.crt`), new Certificate(d).toPem());
    }

    // Parse, interleaved: one Go round (in a process that ran one warm-up round first), one of ours.
    const goMs: number[] = [];
    const ourMs: number[] = [];
    const now = new Date();
    let sink = 0;
    for (const d of ders) sink += JSON.stringify(new Certificate(d).toJSON(now)).length; // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const lines = execFileSync(peer, ['parse', corpusFile, '2'], { encoding: 'utf8' }).trim().split('\n');
      goMs.push(Number(lines[1]) / 1e6);
      const t0 = process.hrtime.bigint();
      for (const d of ders) {
        const j = new Certificate(d).toJSON(now);
        sink += j.subject.length + j.publicKey.algorithm.length + j.fingerprints.sha256.length;
      }
      ourMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    if (sink === 0) throw new Error('nothing parsed');
    const goParse = perSecond(stats(goMs), ders.length);
    const ourParse = perSecond(stats(ourMs), ders.length);

    // Directory inventory: whole processes over the same tree, output discarded.
    const procs = [
      { label: 'go', cmd: peer, args: ['inventory', tree] },
      { label: 'anchorage', cmd: process.execPath, args: [join(root, 'bin', 'anchorage.js'), 'inspect', tree] },
    ];
    const st = timeProcesses(procs, Number(process.env.BENCH_PEERS_RUNS ?? 5), { rss: true });
    const get = (k: string): Stats => st.get(k) as Stats;
    const mib = (k: string): string => (st.has(k) ? `, peak RSS median ${get(k).median.toFixed(0)} MiB` : '');
    return [
      {
        name: `parse ${ders.length} mixed certificates, every field inspect shows (key included), one core`,
        unit: 'certs/s',
        ...ourParse,
        baseline: { name: 'Go crypto/x509 ParseCertificate + the same fields', ...goParse },
      },
      {
        name: `inspect a directory of ${ders.length} mixed PEM files (whole process, output discarded)`,
        unit: 'ms',
        value: get('anchorage').median,
        spread: `${spreadText(get('anchorage'), 'ms')}${mib('anchorage rss')}`,
        baseline: {
          name: 'Go walker printing the same fields',
          value: get('go').median,
          spread: `${spreadText(get('go'), 'ms')}${mib('go rss')}`,
        },
        lowerIsBetter: true,
      },
    ];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
