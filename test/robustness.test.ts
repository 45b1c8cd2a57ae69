// Thousands of truncated, bit-flipped, spliced and retagged inputs of every format (seeded, bounded): the
// reader may refuse them, but only with a one-line InputError/DerError, and every object it does return
// must render, lint and verify without throwing anything else.
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/common/errors.ts';
import { readObjects } from '../src/inventory/read.ts';
import { buildReport } from '../src/inventory/report.ts';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import { lintCertificates } from '../src/lint/engine.ts';
import { verifyChain } from '../src/trust/verify.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { type Certificate, Certificate as CertificateClass } from '../src/x509/certificate.ts';
import { createCrl } from '../src/x509/crl.ts';
import { createCsr } from '../src/x509/csr.ts';
import { DerError, readNode } from '../src/x509/der.ts';
import { writeJksKeystore, writeJksTruststore } from '../src/x509/jks.ts';
import { generateKey } from '../src/x509/keys.ts';
import { writePkcs7 } from '../src/x509/pkcs7.ts';
import { writePkcs12 } from '../src/x509/pkcs12.ts';
import { rng } from './support/mutations.ts';

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
  const ecKp = generateKey('ecdsa-p256');
  const edKp = generateKey('ed25519');
  const pemOf = (label: string, der: Uint8Array): Buffer =>
    Buffer.from(`-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`);
  return [
    { name: 'cert PEM', data: Buffer.from(leaf.toPem()) },
    { name: 'CSR PEM', data: Buffer.from(csr.toPem()) },
    { name: 'CRL PEM', data: pemOf('X509 CRL', crl.der) },
    { name: 'PKCS#7 PEM', data: pemOf('PKCS7', writePkcs7([leaf.der, ca.der], [crl.der])) },
    { name: 'PKCS#1 RSA key', data: Buffer.from(leafKp.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string) },
    { name: 'SEC1 EC key', data: Buffer.from(ecKp.privateKey.export({ type: 'sec1', format: 'pem' }) as string) },
    { name: 'PKCS#8 DER key', data: ecKp.privateKey.export({ type: 'pkcs8', format: 'der' }) },
    { name: 'Ed25519 key', data: Buffer.from(edKp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) },
    { name: 'public key PEM', data: Buffer.from(leafKp.publicKey.export({ type: 'spki', format: 'pem' }) as string) },
    { name: 'public key DER', data: ecKp.publicKey.export({ type: 'spki', format: 'der' }) },
    {
      name: 'JKS keystore',
      data: writeJksKeystore({ alias: 'svc', key: leafKp.privateKey, chain: [leaf.der, ca.der] }, 'pw'),
      password: 'pw',
    },
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
  // retagging: a TLV's tag replaced by another universal type (strings of every kind, INTEGER, BIT
  // STRING, times...): type confusion the byte-level mutations rarely reach.
  const positions = tagPositions(data);
  if (positions.length > 0)
    for (let i = 0; i < count / 4; i++) {
      const m = data.slice();
      const p = positions[Math.floor(rand() * positions.length)] as number;
      m[p] = RETAGS[Math.floor(rand() * RETAGS.length)] as number;
      out.push(m);
    }
  return out;
}

const RETAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1a, 0x1c, 0x1e, 0x30, 0x31];

/** Offsets of every primitive TLV's tag in a DER input (none for text formats). */
function tagPositions(data: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (pos: number, end: number, depth: number): void => {
    while (pos < end && depth < 32) {
      let n: ReturnType<typeof readNode>;
      try {
        n = readNode(data, pos, end);
      } catch {
        return;
      }
      if (n.constructed) walk(n.valueStart, n.end, depth + 1);
      else out.push(n.start);
      pos = n.end;
    }
  };
  if (data[0] === 0x30) walk(0, data.length, 0);
  return out;
}

/** Lint and verify what was read: neither may throw anything but InputError/DerError. */
function exercise(result: ReturnType<typeof readObjects>, anchor: Certificate): void {
  const certs = result.objects.flatMap((o) => (o.kind === 'certificate' ? [o.cert] : []));
  if (certs.length === 0) return;
  lintCertificates(
    certs.map((cert) => ({ cert, source: 'fuzz' })),
    { now: new Date() },
  );
  for (const leaf of certs.slice(0, 2)) {
    try {
      verifyChain({ leaf, anchors: [anchor], intermediates: certs, purpose: 'server', host: 'svc.example.com' });
    } catch (e) {
      if (!(e instanceof InputError || e instanceof DerError)) throw e;
    }
  }
}

describe('robustness of the readers', () => {
  const items = corpus();
  const anchor = new CertificateClass((items.find((i) => i.name === 'CA DER') as { data: Uint8Array }).data);
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
          exercise(result, anchor);
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
