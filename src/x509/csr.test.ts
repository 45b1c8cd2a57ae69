import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import type { Certificate } from './certificate.ts';
import { Csr, createCsr, parseCsr, signCsr } from './csr.ts';
import { bitString, DerError, oid, parse, seq } from './der.ts';
import { formatIp, parseIp, type SubjectAltNames } from './extensions.ts';
import { generateKey, type KeyType, signerFor } from './keys.ts';
import { OID } from './oids.ts';

const KEY_TYPES: KeyType[] = ['rsa-2048', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'];
const NEWKEY: Record<string, string[]> = {
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'ecdsa-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ecdsa-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-newkey', 'ed25519'],
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-csr-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openssl(...args: string[]): { out: string; err: string; status: number | null } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status };
}
function write(name: string, data: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

// ---------- reading openssl's text output ----------

/** The line after `heading` in openssl -text output. */
function after(text: string, heading: string): string | undefined {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(heading));
  return i < 0 ? undefined : lines[i + 1]?.trim();
}
function opensslSans(text: string): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [], uri: [], email: [], other: [] };
  for (const part of (after(text, 'X509v3 Subject Alternative Name') ?? '').split(', ').filter(Boolean)) {
    if (part.startsWith('DNS:')) out.dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) out.ip.push(formatIp(parseIp(part.slice(11))));
    else if (part.startsWith('URI:')) out.uri.push(part.slice(4));
    else if (part.startsWith('email:')) out.email.push(part.slice(6));
    else out.other.push(part);
  }
  return out;
}
const EKU_TEXT: Record<string, string> = {
  'TLS Web Server Authentication': 'serverAuth',
  'TLS Web Client Authentication': 'clientAuth',
  'Code Signing': 'codeSigning',
  'E-mail Protection': 'emailProtection',
};
const KU_TEXT: Record<string, string> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
};
const listAfter = (text: string, heading: string, names: Record<string, string>): string[] =>
  (after(text, heading) ?? '')
    .split(', ')
    .filter(Boolean)
    .map((x) => names[x] ?? x);

function opensslSpkiSha256(reqPath: string): string {
  const pem = openssl('req', '-in', reqPath, '-noout', '-pubkey').out;
  return createHash('sha256')
    .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
/** openssl 3.0 exits 0 even when the self-signature fails, so read the verdict. */
function opensslVerifies(reqPath: string): boolean {
  const v = openssl('req', '-in', reqPath, '-noout', '-verify');
  return v.status === 0 && /verify OK/.test(v.out + v.err) && !/failure/.test(v.out + v.err);
}
function opensslSubject(reqPath: string): string {
  return openssl('req', '-in', reqPath, '-noout', '-subject', '-nameopt', 'RFC2253')
    .out.trim()
    .replace(/^subject=/, '');
}

function makeCa(type: KeyType): { cert: Certificate; key: KeyObject; path: string } {
  const kp = generateKey(type);
  const cert = issueCertificate({
    profile: {
      subject: `CN=CSR Test CA ${type},O=Anchorage`,
      ca: true,
      keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
      validity: { days: 30 },
    },
    publicKey: kp.publicKey,
    signingKey: kp.privateKey,
  });
  return { cert, key: kp.privateKey, path: write(`ca-${type}.pem`, cert.toPem()) };
}

const SANS = {
  dns: ['api.example.com', '*.api.example.com'],
  ip: ['10.0.0.1', '2001:db8::1'],
  email: ['ops@example.com'],
  uri: ['spiffe://cluster.local/ns/default/sa/api'],
};

describe('createCsr', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: openssl verifies it and reads the same subject, SANs, usages and key`, () => {
      const kp = generateKey(type);
      const csr = createCsr({
        subject: 'CN=api.example.com,OU=Platform,O=Acme Inc,C=US',
        privateKey: kp.privateKey,
        sans: SANS,
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        extKeyUsage: ['serverAuth', 'clientAuth'],
        challengePassword: 'p4ss word',
      });
      const path = write(`made-${type}.csr`, csr.toPem());
      expect(opensslVerifies(path)).toBe(true);

      const text = openssl('req', '-in', path, '-noout', '-text').out;
      expect(opensslSubject(path)).toBe('CN=api.example.com,OU=Platform,O=Acme Inc,C=US');
      expect(opensslSans(text)).toEqual({ ...SANS, other: [] });
      expect(listAfter(text, 'X509v3 Extended Key Usage', EKU_TEXT)).toEqual(['serverAuth', 'clientAuth']);
      expect(listAfter(text, 'X509v3 Key Usage', KU_TEXT)).toEqual(['digitalSignature', 'keyEncipherment']);
      expect(text).toMatch(/challengePassword\s*:p4ss word/);
      expect(opensslSpkiSha256(path)).toBe(csr.spkiSha256);

      // Our own reading of what we wrote, from PEM and DER.
      for (const back of [parseCsr(csr.toPem()), parseCsr(csr.der)]) {
        expect(back.subject).toBe('CN=api.example.com,OU=Platform,O=Acme Inc,C=US');
        expect(back.sans).toEqual({ ...SANS, other: [] });
        expect(back.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
        expect(back.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
        expect(back.challengePassword).toBe('p4ss word');
        expect(back.verifySignature()).toBe(true);
        expect(back.warnings).toEqual([]);
      }
      const json = csr.toJSON();
      expect(json.kind).toBe('csr');
      expect(json.signatureValid).toBe(true);
      expect(json.challengePassword).toBe(true);
      expect(JSON.stringify(json)).not.toContain('p4ss');
      expect(json.attributes.sort()).toEqual(['challengePassword', 'extensionRequest']);
    });
  }

  it('writes a minimal request (no extensions, no attributes) that openssl verifies', () => {
    const csr = createCsr({ subject: 'CN=bare', privateKey: generateKey('ecdsa-p256').privateKey });
    const path = write('bare.csr', csr.toPem());
    expect(opensslVerifies(path)).toBe(true);
    expect(csr.extensions).toEqual([]);
    expect(csr.attributes).toEqual([]);
    expect(csr.warnings).toEqual([]);
  });

  it('marks SANs critical for an empty subject and requests basicConstraints', () => {
    const csr = createCsr({
      subject: '',
      privateKey: generateKey('ed25519').privateKey,
      sans: { dns: ['x.example'] },
      basicConstraints: { ca: true, pathLen: 0 },
    });
    expect(csr.extensionSummaries()).toEqual([
      { oid: OID.subjectAltName, name: 'subjectAltName', critical: true },
      { oid: OID.basicConstraints, name: 'basicConstraints', critical: true },
    ]);
    expect(csr.basicConstraints).toEqual({ ca: true, pathLen: 0 });
    const path = write('empty-subject.csr', csr.toPem());
    expect(opensslVerifies(path)).toBe(true);
  });

  it('rejects bad input with InputError', () => {
    const { privateKey, publicKey } = generateKey('ecdsa-p256');
    expect(() => createCsr({ subject: 'CN=x', privateKey: publicKey })).toThrow(InputError);
    expect(() => createCsr({ subject: 'NOPE', privateKey })).toThrow(InputError);
    expect(() => createCsr({ subject: 'CN=x', privateKey, extKeyUsage: ['frobnicate'] })).toThrow(InputError);
  });
});

describe('parsing CSRs made by openssl', () => {
  for (const type of KEY_TYPES) {
    it(`${type}: fields match what openssl reports, and the signature verifies`, () => {
      const path = join(dir, `ossl-${type}.csr`);
      const r = openssl(
        'req',
        '-new',
        ...NEWKEY[type]!,
        '-nodes',
        '-keyout',
        join(dir, `ossl-${type}.key`),
        '-subj',
        '/C=DE/O=Acme Corp/OU=Nodes/CN=node-1',
        '-addext',
        'subjectAltName=DNS:node-1.example,DNS:node-1,IP:192.168.1.10,IP:fd00::5,URI:spiffe://x/y,email:a@b.example',
        '-addext',
        'extendedKeyUsage=serverAuth,clientAuth',
        '-addext',
        'keyUsage=critical,digitalSignature',
        '-out',
        path,
      );
      expect(r.status, r.err).toBe(0);
      const text = openssl('req', '-in', path, '-noout', '-text').out;
      const csr = parseCsr(readFileSync(path));

      expect(csr.subject).toBe(opensslSubject(path));
      expect(csr.subject).toBe('CN=node-1,OU=Nodes,O=Acme Corp,C=DE');
      expect(csr.commonName).toBe('node-1');
      expect(csr.sans).toEqual(opensslSans(text));
      expect(csr.sans.ip).toEqual(['192.168.1.10', 'fd00::5']);
      expect(csr.extKeyUsage).toEqual(listAfter(text, 'X509v3 Extended Key Usage', EKU_TEXT));
      expect(csr.keyUsage).toEqual(listAfter(text, 'X509v3 Key Usage', KU_TEXT));
      expect(csr.spkiSha256).toBe(opensslSpkiSha256(path));
      expect(csr.signatureAlgorithm).toBe(/Signature Algorithm: (\S+)/.exec(text)?.[1]);
      const bits = /Public-Key: \((\d+) bit\)/.exec(text)?.[1];
      expect(csr.keyInfo.size).toBe(type === 'ed25519' ? 256 : Number(bits));
      expect(csr.keyInfo.algorithm).toBe(type.startsWith('rsa') ? 'RSA' : type.startsWith('ecdsa') ? 'EC' : 'Ed25519');
      expect(csr.version).toBe(1);
      expect(csr.verifySignature()).toBe(true);
      expect(csr.unknownCriticalExtensions).toEqual([]);
      expect(csr.warnings).toEqual([]);
      const json = csr.toJSON();
      expect(json).toMatchObject({
        kind: 'csr',
        signatureValid: true,
        subject: csr.subject,
        extendedKeyUsage: ['serverAuth', 'clientAuth'],
      });
      expect(json.publicKey.spkiSha256).toBe(csr.spkiSha256);
    });
  }

  it('verifies an RSA-PSS signed request', () => {
    const path = join(dir, 'pss.csr');
    const r = openssl(
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'pss.key'),
      '-subj',
      '/CN=pss',
      '-sha256',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:32',
      '-out',
      path,
    );
    expect(r.status, r.err).toBe(0);
    const csr = parseCsr(readFileSync(path, 'utf8'));
    expect(csr.signatureAlgorithm).toBe('rsassaPss');
    expect(csr.verifySignature()).toBe(true);
  });
});

describe('proof of possession', () => {
  const made = (): { csr: Csr; path: string } => {
    const path = join(dir, 'pop.csr');
    expect(
      openssl('req', '-new', ...NEWKEY['ecdsa-p256']!, '-nodes', '-keyout', join(dir, 'pop.key'), '-subj', '/CN=node-1', '-out', path)
        .status,
    ).toBe(0);
    return { csr: parseCsr(readFileSync(path)), path };
  };

  it('fails for a tampered subject, and openssl agrees', () => {
    const { csr } = made();
    const der = Buffer.from(csr.der);
    const at = der.indexOf('node-1');
    expect(at).toBeGreaterThan(0);
    der[at] = 'm'.charCodeAt(0);
    const tampered = new Csr(der);
    expect(tampered.commonName).toBe('mode-1');
    expect(tampered.verifySignature()).toBe(false);
    expect(tampered.toJSON().signatureValid).toBe(false);
    const p = write('tampered.csr', tampered.toPem());
    // openssl 3.0 exits 0 here: read its verdict instead.
    const v = openssl('req', '-in', p, '-noout', '-verify');
    expect(v.out + v.err).toContain('verify failure');
    expect(v.out + v.err).not.toContain('verify OK');
  });

  it('fails for a flipped signature bit', () => {
    const { csr } = made();
    const der = Buffer.from(csr.der);
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
    expect(new Csr(der).verifySignature()).toBe(false);
  });

  it('fails when another key signed the request', () => {
    const mine = generateKey('ecdsa-p256');
    const other = generateKey('ecdsa-p256');
    const csr = createCsr({ subject: 'CN=victim', privateKey: mine.privateKey });
    const info = parse(csr.der).child(0).raw;
    const s = signerFor(other.privateKey);
    const forged = new Csr(seq(info, s.algorithmId, bitString(s.sign(info))));
    expect(forged.verifySignature()).toBe(false);
  });

  it('fails when the signature algorithm does not match the key', () => {
    const { privateKey } = generateKey('rsa-2048');
    const csr = createCsr({ subject: 'CN=label', privateKey });
    const info = parse(csr.der).child(0).raw;
    const rsaSig = signerFor(privateKey).sign(info);
    const relabelled = new Csr(seq(info, seq(oid(OID.ecdsaWithSHA256)), bitString(rsaSig)));
    expect(relabelled.verifySignature()).toBe(false);
  });
});

describe('signCsr', () => {
  for (const type of KEY_TYPES) {
    it(`${type} CA: the certificate passes openssl verify and carries the request`, () => {
      const ca = makeCa(type);
      const path = join(dir, `leaf-${type}.csr`);
      const r = openssl(
        'req',
        '-new',
        ...NEWKEY[type]!,
        '-nodes',
        '-keyout',
        join(dir, `leaf-${type}.key`),
        '-subj',
        '/O=Acme/CN=leaf.example',
        '-addext',
        'subjectAltName=DNS:leaf.example,IP:10.9.8.7',
        '-addext',
        'extendedKeyUsage=serverAuth',
        '-out',
        path,
      );
      expect(r.status, r.err).toBe(0);
      const csr = parseCsr(readFileSync(path));
      const cert = signCsr({ csr, issuer: ca, validity: { days: 10 }, overrides: { keyUsage: ['digitalSignature'] } });
      const certPath = write(`leaf-${type}.pem`, cert.toPem());
      const v = openssl('verify', '-CAfile', ca.path, certPath);
      expect(v.status, v.out + v.err).toBe(0);
      expect(v.out).toContain(': OK');
      expect(cert.subject).toBe('CN=leaf.example,O=Acme');
      // Same name; string types may differ (openssl writes UTF8String, the builder PrintableString where it can).
      expect(cert.subjectRdns).toEqual(csr.subjectRdns);
      expect(cert.spkiSha256).toBe(csr.spkiSha256);
      expect(cert.sans.dns).toEqual(['leaf.example']);
      expect(cert.sans.ip).toEqual(['10.9.8.7']);
      expect(cert.extKeyUsage).toEqual(['serverAuth']);
      expect(cert.keyUsage).toEqual(['digitalSignature']);
      expect(cert.isCA).toBe(false);
      expect(cert.authorityKeyId).toBe(ca.cert.subjectKeyId);
    });
  }

  it('refuses a request whose signature does not verify', () => {
    const ca = makeCa('ecdsa-p256');
    const csr = createCsr({ subject: 'CN=node-1', privateKey: generateKey('ecdsa-p256').privateKey });
    const der = Buffer.from(csr.der);
    der[der.indexOf('node-1')] = 'x'.charCodeAt(0);
    expect(() => signCsr({ csr: new Csr(der), issuer: ca, validity: { days: 1 } })).toThrow(/proof of possession/);
    expect(() => signCsr({ csr: new Csr(der), issuer: ca, validity: { days: 1 } })).toThrow(InputError);
  });

  it('lets overrides win and ignores a requested CA bit unless the caller grants it', () => {
    const ca = makeCa('ecdsa-p256');
    const csr = createCsr({
      subject: 'CN=sneaky',
      privateKey: generateKey('ecdsa-p256').privateKey,
      sans: { dns: ['sneaky.example'] },
      basicConstraints: { ca: true },
      keyUsage: ['digitalSignature', 'keyCertSign'],
      extKeyUsage: ['serverAuth'],
    });
    const leaf = signCsr({ csr, issuer: ca, validity: { days: 1 }, overrides: { extKeyUsage: ['clientAuth'] } });
    expect(leaf.isCA).toBe(false);
    expect(leaf.keyUsage).toEqual(['digitalSignature']);
    expect(leaf.extKeyUsage).toEqual(['clientAuth']);
    expect(leaf.sans.dns).toEqual(['sneaky.example']);

    const sub = signCsr({ csr, issuer: ca, validity: { days: 1 }, overrides: { ca: true, pathLen: 0 } });
    expect(sub.basicConstraints).toEqual({ ca: true, pathLen: 0 });
    expect(sub.keyUsage).toEqual(['digitalSignature', 'keyCertSign']);
    const subPath = write('sub.pem', sub.toPem());
    expect(openssl('verify', '-CAfile', ca.path, subPath).status).toBe(0);
  });

  it('runs the policy hook, which can alter or reject', () => {
    const ca = makeCa('ed25519');
    const csr = createCsr({
      subject: 'CN=web',
      privateKey: generateKey('ecdsa-p384').privateKey,
      sans: { dns: ['web.example', 'evil.example'] },
    });
    const seen: string[] = [];
    const cert = signCsr({
      csr,
      issuer: ca,
      validity: { days: 1 },
      policy: (c, p) => {
        seen.push(c.subject, ...(p.sans?.dns ?? []));
        return { ...p, sans: { dns: (p.sans?.dns ?? []).filter((d) => !d.startsWith('evil')) }, extKeyUsage: ['serverAuth'] };
      },
    });
    expect(seen).toEqual(['CN=web', 'web.example', 'evil.example']);
    expect(cert.sans.dns).toEqual(['web.example']);
    expect(cert.extKeyUsage).toEqual(['serverAuth']);
    expect(openssl('verify', '-CAfile', ca.path, write('policy.pem', cert.toPem())).status).toBe(0);

    const deny = (): Certificate =>
      signCsr({
        csr,
        issuer: ca,
        validity: { days: 1 },
        policy: (_c, p) => {
          if (p.sans?.dns?.some((d) => d.endsWith('evil.example'))) throw new InputError('policy: evil.example is not ours');
          return p;
        },
      });
    expect(deny).toThrow('policy: evil.example is not ours');
  });

  it('refuses a request with neither subject nor SANs', () => {
    const ca = makeCa('ecdsa-p256');
    const csr = createCsr({ subject: '', privateKey: generateKey('ecdsa-p256').privateKey });
    expect(() => signCsr({ csr, issuer: ca, validity: { days: 1 } })).toThrow(/neither a subject nor subjectAltNames/);
  });
});

describe('garbage', () => {
  it('gives one-line InputErrors from parseCsr', () => {
    const cases: (string | Uint8Array)[] = [
      '',
      'hello',
      new Uint8Array(0),
      Uint8Array.of(0x30, 0x03, 0x02, 0x01),
      Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n'),
      '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n',
      makeCa('ecdsa-p256').cert.toPem(),
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        parseCsr(c);
      } catch (e) {
        err = e;
      }
      expect(err, String(c)).toBeInstanceOf(InputError);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('rejects a certificate given as DER with a DerError', () => {
    expect(() => new Csr(makeCa('ecdsa-p256').cert.der)).toThrow(DerError);
  });

  it('never throws anything but DerError/InputError on truncated or mutated requests', () => {
    const csr = createCsr({
      subject: 'CN=fuzz,O=Anchorage',
      privateKey: generateKey('ecdsa-p256').privateKey,
      sans: SANS,
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['clientAuth'],
      challengePassword: 'x',
    });
    const tryAll = (b: Uint8Array): void => {
      try {
        new Csr(b).toJSON();
      } catch (e) {
        if (!(e instanceof DerError || e instanceof InputError))
          throw new Error(`unexpected ${(e as Error).name}: ${(e as Error).message}`);
      }
    };
    for (let n = 0; n < csr.der.length; n++) expect(() => new Csr(csr.der.subarray(0, n))).toThrow(DerError);
    let seed = 0x5eed;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 8;
    };
    for (let i = 0; i < 2000; i++) {
      const b = Uint8Array.from(csr.der);
      for (let k = 0; k <= rand() % 3; k++) b[rand() % b.length] = rand() & 0xff;
      tryAll(b);
    }
  });
});
