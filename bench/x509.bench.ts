// Parse and issuance throughput, each beside its baseline measured in the same run.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { generateKey, type KeyType } from '../src/x509/keys.ts';
import { type BenchResult, bestRate } from './harness.ts';

function kubeletCerts(n: number): Uint8Array[] {
  const caKp = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: { subject: 'CN=kubernetes', ca: true, keyUsage: ['keyCertSign'], validity: { days: 3650 } },
    publicKey: caKp.publicKey,
    signingKey: caKp.privateKey,
  });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const kp = generateKey('ecdsa-p256');
    out.push(
      issueCertificate({
        profile: {
          subject: `O=system:nodes,CN=system:node:worker-${i}`,
          sans: { dns: [`worker-${i}`, `worker-${i}.cluster.local`], ip: [`10.0.${i >> 8}.${i & 255}`] },
          keyUsage: ['digitalSignature'],
          extKeyUsage: ['serverAuth', 'clientAuth'],
          validity: { days: 365 },
        },
        publicKey: kp.publicKey,
        issuer: { cert: ca, key: caKp.privateKey },
      }).der,
    );
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const ders = kubeletCerts(2000);
  const bufs = ders.map((d) => Buffer.from(d));
  let sink = 0;
  const nodeParse = bestRate(() => {
    for (const b of bufs) {
      const c = new X509Certificate(b);
      sink += c.subject.length + (c.subjectAltName?.length ?? 0) + c.validTo.length + c.fingerprint256.length;
    }
    return bufs.length;
  });
  const ourParse = bestRate(() => {
    for (const d of ders) {
      const c = new Certificate(d);
      sink += c.subject.length + c.sans.dns.length + c.notAfter.getTime() + c.sha256.length;
    }
    return ders.length;
  });
  const ourParseLazy = bestRate(() => {
    for (const d of ders) sink += new Certificate(d).notAfter.getTime();
    return ders.length;
  });
  if (sink === 0) throw new Error('unreachable');

  const results: BenchResult[] = [
    {
      name: 'parse: new Certificate + subject, SANs, notAfter, SHA-256',
      unit: 'certs/s',
      value: ourParse,
      baseline: { name: 'node:crypto new X509Certificate + subject, SAN, validTo, fingerprint256', value: nodeParse },
    },
    {
      name: 'parse: new Certificate + notAfter only (lazy fields untouched)',
      unit: 'certs/s',
      value: ourParseLazy,
      baseline: { name: 'node:crypto new X509Certificate + the same four fields', value: nodeParse },
    },
  ];

  const caKp = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: { subject: 'CN=bench-ca', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
    publicKey: caKp.publicKey,
    signingKey: caKp.privateKey,
  });
  const leaf = (kt: KeyType, i: number): Certificate => {
    const kp = generateKey(kt);
    return issueCertificate({
      profile: {
        subject: `CN=leaf-${i}`,
        sans: { dns: [`leaf-${i}.example`] },
        keyUsage: ['digitalSignature'],
        extKeyUsage: ['serverAuth'],
        validity: { days: 30 },
      },
      publicKey: kp.publicKey,
      issuer: { cert: ca, key: caKp.privateKey },
    });
  };
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-subj',
        '/CN=bench-ca',
        '-days',
        '30',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const opensslLeaf = (newkey: string[]) => (): number => {
      execFileSync(
        'sh',
        [
          '-c',
          `openssl req -new ${newkey.join(' ')} -nodes -keyout l.key -subj /CN=leaf 2>/dev/null | openssl x509 -req -CA ca.crt -CAkey ca.key -days 30 -out l.crt 2>/dev/null`,
        ],
        { cwd: dir },
      );
      return 1;
    };
    for (const [kt, args, rounds] of [
      ['ecdsa-p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 20],
      ['rsa-2048', ['-newkey', 'rsa:2048'], 10],
    ] as const) {
      let i = 0;
      const ours = bestRate(() => {
        const n = kt === 'ecdsa-p256' ? 2000 : 10;
        for (let k = 0; k < n; k++) leaf(kt, i++);
        return n;
      });
      const base = bestRate(opensslLeaf([...args]), 3, rounds);
      results.push({
        name: `issue ${kt} leaf (key generation included), one core`,
        unit: 'leaves/s',
        value: ours,
        baseline: { name: 'openssl req -newkey | openssl x509 -req, per leaf', value: base },
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
