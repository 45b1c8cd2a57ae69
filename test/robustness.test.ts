// Thousands of truncated, bit-flipped and spliced inputs of every format: the reader may refuse them,
// but only with InputError/DerError, and every object it does return must render without throwing.
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/common/errors.ts';
import { readObjects } from '../src/inventory/read.ts';
import { buildReport } from '../src/inventory/report.ts';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { createCrl } from '../src/x509/crl.ts';
import { createCsr } from '../src/x509/csr.ts';
import { DerError } from '../src/x509/der.ts';
import { writeJksTruststore } from '../src/x509/jks.ts';
import { generateKey } from '../src/x509/keys.ts';
import { writePkcs7 } from '../src/x509/pkcs7.ts';
import { writePkcs12 } from '../src/x509/pkcs12.ts';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function corpus(): { name: string; data: Uint8Array; password?: string }[] {
  const caKp = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: {
      subject: 'CN=fuzz-ca,O=Anchorage',
      ca: true,
      pathLen: 1,
      keyUsage: ['keyCertSign', 'cRLSign'],
      validity: { days: 30 },
      nameConstraints: { permitted: { dns: ['example.com'], ip: ['10.0.0.0/8'] } },
    },
    publicKey: caKp.publicKey,
    signingKey: caKp.privateKey,
  });
  const leafKp = generateKey('rsa-2048');
  const leaf = issueCertificate({
    profile: {
      subject: 'CN=svc.example.com,O=x',
      sans: { dns: ['svc.example.com'], ip: ['10.0.0.1', 'fd00::1'], uri: ['spiffe://example.com/a'], email: ['a@example.com'] },
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['serverAuth', 'clientAuth'],
      validity: { days: 10 },
      crlDistributionPoints: ['http://crl.example.com/ca.crl'],
      authorityInfoAccess: { ocsp: ['http://ocsp.example.com'], caIssuers: ['http://example.com/ca.crt'] },
      policies: ['2.5.29.32.0'],
    },
    publicKey: leafKp.publicKey,
    issuer: { cert: ca, key: caKp.privateKey },
  });
  const csr = createCsr({
    subject: 'CN=req',
    privateKey: leafKp.privateKey,
    sans: { dns: ['req.example.com'] },
    extKeyUsage: ['clientAuth'],
  });
  const crl = createCrl({
    issuer: { cert: ca, key: caKp.privateKey },
    entries: [{ serial: leaf.serialNumber, revokedAt: new Date(), reason: 'keyCompromise' }],
    nextUpdate: new Date(Date.now() + 86400000),
    crlNumber: 7,
  });
  const keyPem = leafKp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const enc = leafKp.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
  return [
    { name: 'cert DER', data: leaf.der },
    { name: 'CA DER', data: ca.der },
    { name: 'PEM bundle', data: Buffer.from(leaf.toPem() + ca.toPem() + keyPem) },
    { name: 'CSR DER', data: csr.der },
    { name: 'CRL DER', data: crl.der },
    { name: 'PKCS#7', data: writePkcs7([leaf.der, ca.der]) },
    {
      name: 'PKCS#12',
      data: writePkcs12({ key: leafKp.privateKey, cert: leaf.der, chain: [ca.der], password: 'pw', profile: 'modern' }),
      password: 'pw',
    },
    {
      name: 'PKCS#12 legacy',
      data: writePkcs12({ key: leafKp.privateKey, cert: leaf.der, password: 'pw', profile: 'legacy' }),
      password: 'pw',
    },
    { name: 'JKS', data: writeJksTruststore([{ alias: 'ca', der: ca.der }], 'pw'), password: 'pw' },
    { name: 'encrypted key', data: Buffer.from(enc), password: 'pw' },
    {
      name: 'kubeconfig',
      data: Buffer.from(
        writeKubeconfig({
          clusterName: 'c',
          server: 'https://127.0.0.1:6443',
          caPem: ca.toPem(),
          userName: 'u',
          clientCertPem: leaf.toPem(),
          clientKeyPem: keyPem,
        }),
      ),
    },
  ];
}

function mutations(data: Uint8Array, rand: () => number, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const n = data.length;
  // truncations, spread over the whole length
  for (let i = 0; i < count / 4; i++) out.push(data.slice(0, Math.floor(rand() * n)));
  // single bit flips
  for (let i = 0; i < count / 2; i++) {
    const m = data.slice();
    const p = Math.floor(rand() * n);
    m[p] = (m[p] as number) ^ (1 << Math.floor(rand() * 8));
    out.push(m);
  }
  // bursts of random bytes, and splices that shift everything after a point
  for (let i = 0; i < count / 8; i++) {
    const m = data.slice();
    const p = Math.floor(rand() * n);
    for (let k = 0; k < 8 && p + k < n; k++) m[p + k] = Math.floor(rand() * 256);
    out.push(m);
    const q = Math.floor(rand() * n);
    out.push(Buffer.concat([data.subarray(0, q), Buffer.from([Math.floor(rand() * 256)]), data.subarray(q + Math.floor(rand() * 3))]));
  }
  return out;
}

describe('robustness of the readers', () => {
  const items = corpus();
  for (const [idx, item] of items.entries()) {
    it(`${item.name}: mutated inputs never crash`, () => {
      const rand = rng(Number(process.env.FUZZ_SEED ?? 1000) + idx);
      let refused = 0;
      let accepted = 0;
      const inputs = mutations(item.data, rand, 480);
      for (const input of inputs) {
        try {
          const result = readObjects(input, item.password === undefined ? {} : { password: item.password });
          // Rendering touches every lazy field: that must not throw either.
          JSON.stringify(buildReport([{ source: 'fuzz', result }], new Date()));
          accepted++;
        } catch (e) {
          if (e instanceof InputError || e instanceof DerError) {
            refused++;
            expect(e.message).not.toContain('\n');
            continue;
          }
          throw new Error(`${item.name}: ${(e as Error).name}: ${(e as Error).message} on input ${Buffer.from(input).toString('base64')}`);
        }
      }
      expect(refused + accepted).toBe(inputs.length);
      expect(refused).toBeGreaterThan(0);
    });
  }
});
