// Parse throughput beside Node's built-in X509Certificate, measured in the same run (issuance: peers.bench.ts).
import { X509Certificate } from 'node:crypto';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { generateKey } from '../src/x509/keys.ts';
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

  // Issuance is measured beside Go's crypto/x509 in peers.bench.ts (the openssl CLI baseline here timed
  // two process start-ups per leaf, not issuance).
  return results;
}
