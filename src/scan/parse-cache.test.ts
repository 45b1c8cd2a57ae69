// The scan parses each distinct value once (a SHA-256-keyed cache within one scan): the same chain in many
// Secrets, kube-root-ca.crt in every namespace. Every place is still recorded, and a value that does not parse
// is reported at each of its places, as without the cache.
import { describe, expect, it } from 'vitest';
import { issueCertificate } from '../x509/build.ts';
import { generateKey } from '../x509/keys.ts';
import { Scanner } from './scan.ts';

describe('the parse cache of one scan', () => {
  it('parses identical bytes once and keeps every place', () => {
    const kp = generateKey('ecdsa-p256');
    const ca = issueCertificate({
      profile: { subject: 'CN=cache CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    const pem = Buffer.from(ca.toPem());
    const key = Buffer.from(kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const bad = Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const s = new Scanner();
    const namespaces = ['a', 'b', 'c', 'd'];
    for (const ns of namespaces) {
      // A fresh copy each time: the cache keys on the bytes, not on the buffer.
      s.add({ source: `${ns}/ConfigMap/kube-root-ca.crt[ca.crt]`, data: Buffer.from(pem) });
      s.add({ source: `${ns}/Secret/ca[tls.key]`, data: Buffer.from(key) });
      s.add({ source: `${ns}/Secret/broken[tls.crt]`, data: Buffer.from(bad) });
    }
    expect(s.parseCacheHits).toBe(3 * (namespaces.length - 1));
    const r = s.finish({ now: new Date() });
    expect(r.certificates.length).toBe(1);
    expect(r.certificates[0]?.locations.map((l) => l.source)).toEqual(namespaces.map((ns) => `${ns}/ConfigMap/kube-root-ca.crt[ca.crt]`));
    expect(r.certificates[0]?.keyLocations).toEqual(namespaces.map((ns) => `${ns}/Secret/ca[tls.key]`));
    const skipped = r.skipped.filter((x) => x.source.endsWith('broken[tls.crt]'));
    expect(skipped.map((x) => x.source)).toEqual(namespaces.map((ns) => `${ns}/Secret/broken[tls.crt]`));
    expect(new Set(skipped.map((x) => x.reason)).size).toBe(1);
  });
});
