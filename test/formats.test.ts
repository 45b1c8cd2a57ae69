// Every key and certificate encoding openssl writes is read, with the fields openssl reports, and each
// private key is matched to its certificate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readObjects } from '../src/inventory/read.ts';
import { buildReport } from '../src/inventory/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ossl = (...args: string[]): string =>
  execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const file = (f: string): Buffer => readFileSync(join(dir, f));

describe('formats openssl writes', () => {
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa8.key', '-out', 'rsa.pem', '-days', '5', '-subj', '/CN=rsa.example');
  ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec-sec1.key');
  ossl('req', '-x509', '-key', 'ec-sec1.key', '-out', 'ec.pem', '-days', '5', '-subj', '/CN=ec.example');
  const fingerprint = (f: string, form = 'PEM'): string =>
    (ossl('x509', '-in', f, '-inform', form, '-noout', '-fingerprint', '-sha256').split('=')[1] as string)
      .trim()
      .replaceAll(':', '')
      .toLowerCase();

  it('DER certificates and TRUSTED CERTIFICATE blocks', () => {
    ossl('x509', '-in', 'rsa.pem', '-outform', 'DER', '-out', 'rsa.der');
    ossl('x509', '-in', 'rsa.pem', '-addtrust', 'serverAuth', '-out', 'trusted.pem');
    expect(file('trusted.pem').toString()).toContain('BEGIN TRUSTED CERTIFICATE');
    for (const [f, format] of [
      ['rsa.der', 'der'],
      ['trusted.pem', 'pem'],
    ] as const) {
      const r = readObjects(file(f));
      expect(r.format).toBe(format);
      const o = r.objects[0];
      expect(o?.kind === 'certificate' && o.cert.sha256).toBe(fingerprint('rsa.pem'));
    }
  });

  it('PKCS#1, SEC1, PKCS#8 (PEM and DER), encrypted PKCS#8 and legacy encrypted PEM keys, each matched to its certificate', () => {
    ossl('pkey', '-in', 'rsa8.key', '-traditional', '-out', 'rsa1.key');
    expect(file('rsa1.key').toString()).toContain('BEGIN RSA PRIVATE KEY');
    expect(file('ec-sec1.key').toString()).toContain('BEGIN EC PRIVATE KEY');
    ossl('pkey', '-in', 'rsa8.key', '-outform', 'DER', '-out', 'rsa8.der');
    ossl('pkcs8', '-topk8', '-in', 'ec-sec1.key', '-v2', 'aes-256-cbc', '-passout', 'pass:s3cret', '-out', 'ec-enc.key');
    ossl('rsa', '-in', 'rsa8.key', '-traditional', '-aes256', '-passout', 'pass:s3cret', '-out', 'rsa-legacy-enc.key');
    expect(file('rsa-legacy-enc.key').toString()).toContain('Proc-Type: 4,ENCRYPTED');
    ossl('pkey', '-in', 'rsa8.key', '-pubout', '-out', 'rsa.pub');
    const cases: [string, string, string | undefined][] = [
      ['rsa1.key', 'rsa.pem', undefined],
      ['rsa8.key', 'rsa.pem', undefined],
      ['rsa8.der', 'rsa.pem', undefined],
      ['ec-sec1.key', 'ec.pem', undefined],
      ['ec-enc.key', 'ec.pem', 's3cret'],
      ['rsa-legacy-enc.key', 'rsa.pem', 's3cret'],
      ['rsa.pub', 'rsa.pem', undefined],
    ];
    for (const [keyFile, certFile, password] of cases) {
      const opts = password === undefined ? {} : { password };
      const report = buildReport(
        [
          { source: certFile, result: readObjects(file(certFile)) },
          { source: keyFile, result: readObjects(file(keyFile), opts) },
        ],
        new Date(),
      );
      const key = report.sources[1]?.objects[0] as { kind: string; matchesCertificates: { sha256: string }[] };
      expect(key.kind, keyFile).toBe(keyFile.endsWith('.pub') ? 'public-key' : 'private-key');
      expect(
        key.matchesCertificates.map((m) => m.sha256),
        keyFile,
      ).toEqual([fingerprint(certFile)]);
    }
    expect(() => readObjects(file('rsa-legacy-enc.key'))).toThrow(/password is needed/);
    expect(() => readObjects(file('rsa-legacy-enc.key'), { password: 'nope' })).toThrow(/wrong password/);
  });
});
