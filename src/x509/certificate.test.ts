// Certificates made by openssl parse with the fields openssl reports; certificates we make satisfy openssl.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate } from './build.ts';
import { Certificate } from './certificate.ts';
import { generateKey, KEY_TYPES, keyMatchesSpki, loadPrivateKey } from './keys.ts';
import { scanPem } from './pem.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-cert-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ossl = (...args: string[]): string =>
  execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const der = (pemFile: string): Uint8Array => (scanPem(readFileSync(join(dir, pemFile), 'latin1'))[0] as { der: Uint8Array }).der;

function opensslFields(file: string): { subject: string; issuer: string; serial: string; fp: string; startdate: string; enddate: string } {
  const out = ossl(
    'x509',
    '-in',
    file,
    '-noout',
    '-subject',
    '-issuer',
    '-serial',
    '-fingerprint',
    '-sha256',
    '-startdate',
    '-enddate',
    '-nameopt',
    'RFC2253,-esc_msb,utf8',
  );
  const get = (k: string): string => (new RegExp(`^${k}=\\s*(.*)$`, 'm').exec(out)?.[1] ?? '').trim();
  return {
    subject: get('subject'),
    issuer: get('issuer'),
    serial: get('serial'),
    fp: get('sha256 Fingerprint'),
    startdate: get('notBefore'),
    enddate: get('notAfter'),
  };
}

describe('parsing openssl-made certificates', () => {
  const cases: { name: string; keyArgs: string[]; extra: string[] }[] = [
    {
      name: 'rsa',
      keyArgs: ['-newkey', 'rsa:2048'],
      extra: ['-addext', 'subjectAltName=DNS:a.example,IP:10.0.0.1,IP:fd00::1,URI:spiffe://td/ns/x,email:a@b.example'],
    },
    {
      name: 'ec',
      keyArgs: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
      extra: ['-addext', 'extendedKeyUsage=serverAuth,clientAuth', '-addext', 'keyUsage=critical,digitalSignature'],
    },
    {
      name: 'ed25519',
      keyArgs: ['-newkey', 'ed25519'],
      extra: [
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:2',
        '-addext',
        'nameConstraints=critical,permitted;DNS:.example.com,permitted;IP:10.0.0.0/255.0.0.0,excluded;email:bad@example.com',
      ],
    },
    {
      name: 'crldp',
      keyArgs: ['-newkey', 'rsa:2048'],
      extra: [
        '-addext',
        'crlDistributionPoints=URI:http://crl.example/ca.crl',
        '-addext',
        'authorityInfoAccess=OCSP;URI:http://ocsp.example,caIssuers;URI:http://ca.example/ca.crt',
        '-addext',
        'certificatePolicies=1.2.3.4',
      ],
    },
  ];
  for (const c of cases) {
    it(`reads ${c.name} like openssl does`, () => {
      ossl(
        'req',
        '-x509',
        ...c.keyArgs,
        '-nodes',
        '-keyout',
        `${c.name}.key`,
        '-out',
        `${c.name}.pem`,
        '-days',
        '30',
        '-utf8',
        '-subj',
        '/C=US/O=Acme, Inc./OU=Ops+OU=Sec/CN=test é',
        ...c.extra,
      );
      const cert = new Certificate(der(`${c.name}.pem`));
      const o = opensslFields(`${c.name}.pem`);
      expect(cert.subject).toBe(o.subject);
      expect(cert.issuer).toBe(o.issuer);
      expect(cert.serialNumber.toUpperCase()).toBe(o.serial);
      expect(cert.sha256.toUpperCase()).toBe(o.fp.replaceAll(':', ''));
      expect(cert.notBefore.getTime()).toBe(Date.parse(o.startdate));
      expect(cert.notAfter.getTime()).toBe(Date.parse(o.enddate));
      expect(cert.selfSigned).toBe(true);
      expect(cert.warnings).toEqual([]);
      const key = loadPrivateKey(readFileSync(join(dir, `${c.name}.key`)));
      expect(keyMatchesSpki(key, cert.spki)).toBe(true);
      // Cross-check the remaining fields against Node's OpenSSL-backed parser.
      const node = new X509Certificate(Buffer.from(cert.der));
      expect(cert.subjectKeyId?.toUpperCase()).toBe(
        /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/
          .exec(ossl('x509', '-in', `${c.name}.pem`, '-noout', '-text'))?.[1]
          ?.replaceAll(':', ''),
      );
      expect(node.serialNumber).toBe(cert.serialNumber.toUpperCase());
      expect(node.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(cert.spki))).toBe(true);
    });
  }

  it('decodes SANs, EKU, KU, basic constraints, name constraints, CRL DP, AIA, policies', () => {
    const a = new Certificate(der('rsa.pem'));
    expect(a.sans).toEqual({
      dns: ['a.example'],
      ip: ['10.0.0.1', 'fd00::1'],
      uri: ['spiffe://td/ns/x'],
      email: ['a@b.example'],
      other: [],
    });
    expect(a.keyInfo).toEqual({ algorithm: 'RSA', size: 2048, exponent: 65537 });
    const b = new Certificate(der('ec.pem'));
    expect(b.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
    expect(b.keyUsage).toEqual(['digitalSignature']);
    expect(b.isCritical('2.5.29.15')).toBe(true);
    expect(b.keyInfo).toEqual({ algorithm: 'EC', size: 384, curve: 'P-384' });
    const c = new Certificate(der('ed25519.pem'));
    expect(c.basicConstraints).toEqual({ ca: true, pathLen: 2 });
    expect(c.nameConstraints?.permitted).toEqual({ dns: ['.example.com'], ip: ['10.0.0.0/8'], uri: [], email: [], directory: [] });
    expect(c.nameConstraints?.excluded.email).toEqual(['bad@example.com']);
    expect(c.keyInfo.algorithm).toBe('Ed25519');
    const d = new Certificate(der('crldp.pem'));
    expect(d.crlDistributionPoints).toEqual(['http://crl.example/ca.crl']);
    expect(d.authorityInfoAccess).toEqual({ ocsp: ['http://ocsp.example'], caIssuers: ['http://ca.example/ca.crt'] });
    expect(d.policies).toEqual(['1.2.3.4']);
  });
});

describe('issuing certificates openssl accepts', () => {
  for (const kt of KEY_TYPES) {
    it(`${kt}: CA -> intermediate -> leaf verifies with openssl verify -x509_strict`, () => {
      const rootKp = generateKey(kt);
      const root = issueCertificate({
        profile: { subject: `CN=root ${kt},O=Anchorage`, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 10 } },
        publicKey: rootKp.publicKey,
        signingKey: rootKp.privateKey,
      });
      const intKp = generateKey('ecdsa-p256');
      const inter = issueCertificate({
        profile: {
          subject: 'CN=intermediate',
          ca: true,
          pathLen: 0,
          keyUsage: ['keyCertSign', 'cRLSign'],
          validity: { days: 5 },
          nameConstraints: { permitted: { dns: ['example.com'], ip: ['10.0.0.0/8'] } },
        },
        publicKey: intKp.publicKey,
        issuer: { cert: root, key: rootKp.privateKey },
      });
      const leafKp = generateKey('ecdsa-p256');
      const leaf = issueCertificate({
        profile: {
          subject: 'CN=svc.example.com',
          sans: { dns: ['svc.example.com'], ip: ['10.1.2.3'] },
          keyUsage: ['digitalSignature'],
          extKeyUsage: ['serverAuth'],
          validity: { hours: 24 },
        },
        publicKey: leafKp.publicKey,
        issuer: { cert: inter, key: intKp.privateKey },
      });
      writeFileSync(join(dir, `root-${kt}.pem`), root.toPem());
      writeFileSync(join(dir, `int-${kt}.pem`), inter.toPem());
      writeFileSync(join(dir, `leaf-${kt}.pem`), leaf.toPem());
      const out = ossl(
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-verify_hostname',
        'svc.example.com',
        '-CAfile',
        `root-${kt}.pem`,
        '-untrusted',
        `int-${kt}.pem`,
        `leaf-${kt}.pem`,
      );
      expect(out.trim()).toBe(`leaf-${kt}.pem: OK`);
      expect(leaf.verifiedBy(inter.publicKey)).toBe(true);
      expect(leaf.verifiedBy(root.publicKey)).toBe(false);
      expect(leaf.authorityKeyId).toBe(inter.subjectKeyId);
      // Serial: positive, at least 63 bits.
      expect(BigInt(`0x${leaf.serialNumber}`) >= 2n ** 62n).toBe(true);
      const text = ossl('x509', '-in', `leaf-${kt}.pem`, '-noout', '-text');
      expect(text).toContain('DNS:svc.example.com, IP Address:10.1.2.3');
      expect(text).toContain('TLS Web Server Authentication');
    });
  }

  it('openssl rejects a leaf outside the intermediate name constraints, as expected', () => {
    const rootKp = generateKey('ecdsa-p256');
    const root = issueCertificate({
      profile: {
        subject: 'CN=root',
        ca: true,
        keyUsage: ['keyCertSign'],
        validity: { days: 1 },
        nameConstraints: { permitted: { dns: ['example.com'] } },
      },
      publicKey: rootKp.publicKey,
      signingKey: rootKp.privateKey,
    });
    const leafKp = generateKey('ecdsa-p256');
    const leaf = issueCertificate({
      profile: { subject: 'CN=evil.org', sans: { dns: ['evil.org'] }, validity: { days: 1 } },
      publicKey: leafKp.publicKey,
      issuer: { cert: root, key: rootKp.privateKey },
    });
    writeFileSync(join(dir, 'nc-root.pem'), root.toPem());
    writeFileSync(join(dir, 'nc-leaf.pem'), leaf.toPem());
    expect(() => ossl('verify', '-CAfile', 'nc-root.pem', 'nc-leaf.pem')).toThrow(/name constraints|permitted subtree/i);
  });

  it('backdates notBefore by 5 minutes and counts validity from now, like kubeadm', () => {
    const kp = generateKey('ed25519');
    const now = new Date('2030-01-01T00:00:00Z');
    const c = issueCertificate({
      profile: { subject: 'CN=x', validity: { days: 365 } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
      now,
    });
    expect(c.notBefore.toISOString()).toBe('2029-12-31T23:55:00.000Z');
    expect(c.notAfter.toISOString()).toBe('2031-01-01T00:00:00.000Z');
  });

  it('uses GeneralizedTime from 2050 as RFC 5280 requires', () => {
    const kp = generateKey('ecdsa-p256');
    const c = issueCertificate({
      profile: { subject: 'CN=far', validity: { notBefore: new Date('2049-12-31T00:00:00Z'), notAfter: new Date('2051-06-01T12:00:00Z') } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    writeFileSync(join(dir, 'far.pem'), c.toPem());
    expect(opensslFields('far.pem').enddate).toBe('Jun  1 12:00:00 2051 GMT');
    expect(new Certificate(c.der).notAfter.toISOString()).toBe('2051-06-01T12:00:00.000Z');
  });
});

describe('signature algorithm confusion', () => {
  it('an RSA signature labelled ECDSA does not verify, though the bytes are a valid RSA signature', async () => {
    const { sign } = await import('node:crypto');
    const { bitString, oid, parse, seq } = await import('./der.ts');
    const { OID } = await import('./oids.ts');
    const kp = generateKey('rsa-2048');
    const honest = issueCertificate({
      profile: { subject: 'CN=confused', validity: { days: 1 } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    const fields = parse(honest.tbs).children();
    const ecdsaAlg = seq(oid(OID.ecdsaWithSHA256));
    const tbs = seq(...fields.map((f, i) => (i === 2 ? ecdsaAlg : f.raw)));
    const forged = new Certificate(seq(tbs, ecdsaAlg, bitString(sign('sha256', tbs, kp.privateKey))));
    expect(forged.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(forged.verifiedBy(kp.publicKey)).toBe(false);
    expect(honest.verifiedBy(kp.publicKey)).toBe(true);
  });
});
