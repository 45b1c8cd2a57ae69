import { describe, expect, it } from 'vitest';
import { issueCertificate } from '../x509/build.ts';
import { readNode } from '../x509/der.ts';
import { generateKey } from '../x509/keys.ts';
import { writePkcs7 } from '../x509/pkcs7.ts';
import { writePkcs12 } from '../x509/pkcs12.ts';
import { readObjects } from './read.ts';

/** Re-encode the outermost SEQUENCE with an indefinite length, as BER writers do. */
function outerIndefinite(der: Uint8Array): Uint8Array {
  const n = readNode(der, 0);
  return Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(n.valueStart, n.end), Buffer.from([0, 0])]);
}

describe('readObjects format detection', () => {
  const kp = generateKey('ecdsa-p256');
  const cert = issueCertificate({
    profile: { subject: 'CN=ber', validity: { days: 1 } },
    publicKey: kp.publicKey,
    signingKey: kp.privateKey,
  });

  it('reads BER (indefinite-length) PKCS#7 and PKCS#12 containers', () => {
    const p7 = readObjects(outerIndefinite(writePkcs7([cert.der])));
    expect(p7.format).toBe('pkcs7');
    expect(p7.objects.map((o) => o.kind)).toEqual(['certificate']);
    const p12 = readObjects(outerIndefinite(writePkcs12({ key: kp.privateKey, cert: cert.der, password: 'pw', profile: 'modern' })), {
      password: 'pw',
    });
    expect(p12.format).toBe('pkcs12');
    expect(p12.objects.map((o) => o.kind).sort()).toEqual(['certificate', 'private-key']);
  });

  it('reads DER certificates, SPKI public keys and PKCS#8 keys by structure', () => {
    expect(readObjects(cert.der).objects[0]?.kind).toBe('certificate');
    expect(readObjects(cert.spki).objects[0]?.kind).toBe('public-key');
    expect(readObjects(kp.privateKey.export({ type: 'pkcs8', format: 'der' })).objects[0]?.kind).toBe('private-key');
    expect(readObjects(kp.privateKey.export({ type: 'sec1', format: 'der' })).objects[0]?.kind).toBe('private-key');
  });

  it('refuses plain text and empty input with one line', () => {
    expect(() => readObjects(Buffer.from('hello world\n'))).toThrow('no PEM block, DER structure or kubeconfig found (plain text input)');
    expect(() => readObjects(new Uint8Array())).toThrow('empty input');
  });
});
