// The verify command, driven through its exported functions and its commander registration.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { signTbs, tbsOf } from '../../test/support/der-tree.ts';
import { askGo } from '../../test/support/go-oracle.ts';
import { AT, ca, leaf } from '../../test/support/trust-fixtures.ts';
import { exitCodeOf, parseAt, register, renderVerify, verifyFiles } from '../cli/commands/verify.ts';
import { InputError } from '../common/errors.ts';
import { Certificate, toPem } from '../x509/certificate.ts';
import { createCrl } from '../x509/crl.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-verify-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const root = ca('CN=CLI Root');
const int = ca('CN=CLI Int', root);
const web = leaf('CN=web', int, { extKeyUsage: ['serverAuth'], sans: { dns: ['web.example.com'] } });
const roots = file('roots.pem', root.cert.toPem());
const inters = file('int.pem', int.cert.toPem());
const leafPem = file('leaf.pem', web.cert.toPem());
const at = String(AT.getTime() / 1000);

describe('anchorage verify', () => {
  it('trusts a good chain and renders the path', () => {
    const r = verifyFiles(leafPem, { roots: [roots], intermediates: [inters], purpose: 'server', host: 'web.example.com', at });
    expect(exitCodeOf(r)).toBe(0);
    const text = renderVerify(r);
    expect(text).toMatch(/^TRUSTED: CN=web \(profile kubernetes, purpose serverAuth, host web.example.com, at 2025-06-01 00:00 UTC\)/);
    expect(text).toMatch(/anchor\s+CN=CLI Root/);
  });

  it('uses extra certificates in the leaf file as intermediates', () => {
    const bundle = file('bundle.pem', web.cert.toPem() + int.cert.toPem());
    expect(verifyFiles(bundle, { roots: [roots], at }).trusted).toBe(true);
  });

  it('accepts a bare public key as a root', () => {
    const key = file('root.pub', toPem('PUBLIC KEY', root.pair.publicKey.export({ type: 'spki', format: 'der' })));
    expect(verifyFiles(leafPem, { roots: [key], intermediates: [inters], at }).trusted).toBe(true);
  });

  it('exits 1 with reasons when not trusted', () => {
    const r = verifyFiles(leafPem, { roots: [roots], intermediates: [inters], host: 'other.example.com', at });
    expect(exitCodeOf(r)).toBe(1);
    expect(r.code).toBe('HOST_MISMATCH');
    expect(renderVerify(r)).toContain('step 0 HOST_MISMATCH: `CN=web` is not valid for host other.example.com');
  });

  it('checks revocation against --crl', () => {
    const crl = createCrl({
      issuer: int,
      entries: [{ serial: web.cert.serialNumber, revokedAt: new Date(AT.getTime() - 1000) }],
      thisUpdate: new Date(AT.getTime() - 86400000),
      nextUpdate: new Date(AT.getTime() + 86400000),
      crlNumber: 1,
    });
    const crlFile = file('int.crl', crl.toPem());
    expect(verifyFiles(leafPem, { roots: [roots], intermediates: [inters], crl: [crlFile], at }).code).toBe('REVOKED');
    expect(
      verifyFiles(leafPem, { roots: [roots], intermediates: [inters], crl: [crlFile], at, requireCrl: true }).candidates[0]?.failures.map(
        (f) => f.code,
      ),
    ).toEqual(['REVOKED', 'CRL_MISSING']);
  });

  it('turns bad input into InputError (exit 2)', () => {
    expect(() => verifyFiles(join(dir, 'missing.pem'), { roots: [roots] })).toThrow(InputError);
    expect(() => verifyFiles(leafPem, { roots: [file('empty.pem', 'nothing here\n')] })).toThrow(InputError);
    expect(() => verifyFiles(leafPem, { roots: [roots], at: 'yesterday-ish' })).toThrow(InputError);
    expect(() => verifyFiles(leafPem, { roots: [roots], purpose: 'sever' })).toThrow(InputError);
    expect(() => verifyFiles(leafPem, { roots: [roots], maxDepth: 'x' })).toThrow(InputError);
    expect(() => verifyFiles(roots, { roots: [roots], crl: [roots] })).toThrow(/no CRL found/);
  });

  it('parses --at as Unix seconds or ISO 8601', () => {
    expect(parseAt('1748736000').toISOString()).toBe('2025-06-01T00:00:00.000Z');
    expect(parseAt('@1748736000').toISOString()).toBe('2025-06-01T00:00:00.000Z');
    expect(parseAt('2025-06-01T00:00:00Z').toISOString()).toBe('2025-06-01T00:00:00.000Z');
  });

  it('registers a commander command that prints JSON and sets the exit code', async () => {
    const program = new Command().exitOverride();
    register(program);
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    await program.parseAsync(
      ['verify', leafPem, '--roots', roots, '--intermediates', inters, '--purpose', 'client', '--at', at, '-o', 'json'],
      {
        from: 'user',
      },
    );
    const json = JSON.parse(out) as { trusted: boolean; code: string };
    expect(json).toMatchObject({ trusted: false, code: 'EKU_MISMATCH' });
    expect(process.exitCode).toBe(1);
  });

  it('falls back to the bundled Mozilla roots without --roots', () => {
    const r = verifyFiles(leafPem, { intermediates: [inters], at });
    expect(r.code).toBe('ISSUER_NOT_FOUND');
  });

  describe('profiles: which clients accept the certificate', () => {
    // A SHA-1-signed leaf: Go (every Kubernetes component) refuses it, OpenSSL accepts it.
    const sha1 = new Certificate(
      signTbs(
        tbsOf(leaf('CN=old', int, { extKeyUsage: ['serverAuth'], sans: { dns: ['old.example.com'] } }).cert.der),
        'ecdsa-sha1',
        int.key,
      ),
    );
    const sha1Pem = file('sha1.pem', sha1.toPem());

    it('the oracles agree: Go refuses, openssl verify accepts', () => {
      const [a] = askGo([{ id: 'sha1', leaf: sha1.der, roots: [root.cert.der], intermediates: [int.cert.der], time: AT, eku: ['server'] }]);
      expect(a?.verify?.error).toMatch(/insecure algorithm ECDSA-SHA1|unknown authority/);
      const out = execFileSync('openssl', ['verify', '-attime', at, '-CAfile', roots, '-untrusted', inters, sha1Pem], { encoding: 'utf8' });
      expect(out.trim()).toBe(`${sha1Pem}: OK`);
    });

    it('defaults to kubernetes and shows every profile', () => {
      const r = verifyFiles(sha1Pem, { roots: [roots], intermediates: [inters], purpose: 'server', at });
      expect(r.profile).toBe('kubernetes');
      expect(exitCodeOf(r)).toBe(1);
      expect(r.code).toBe('INSECURE_SIGNATURE_ALGORITHM');
      expect(r.profiles).toEqual([
        {
          profile: 'kubernetes',
          clients: 'Go-based clients such as kubelet',
          trusted: false,
          code: 'INSECURE_SIGNATURE_ALGORITHM',
          reason: 'SHA-1 signature',
        },
        { profile: 'openssl', clients: 'OpenSSL-based clients', trusted: true, code: null, reason: null },
        {
          profile: 'strict',
          clients: 'RFC 5280 + CA/B strict profile',
          trusted: false,
          code: 'PROFILE_VIOLATION',
          reason: 'a SHA-1 signature (strict.weak-signature)',
        },
      ]);
      const text = renderVerify(r);
      expect(text).toMatch(/Go-based clients such as kubelet \(kubernetes\): +refused, SHA-1 signature\n/);
      expect(text).toMatch(/OpenSSL-based clients \(openssl\): +trusted\n/);
    });

    it('--profile openssl decides the exit code; json and yaml carry the profiles', async () => {
      expect(exitCodeOf(verifyFiles(sha1Pem, { roots: [roots], intermediates: [inters], at, profile: 'openssl' }))).toBe(0);
      for (const format of ['json', 'yaml']) {
        const program = new Command().exitOverride();
        register(program);
        let out = '';
        vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
          out += String(s);
          return true;
        });
        await program.parseAsync(
          ['verify', sha1Pem, '--roots', roots, '--intermediates', inters, '--at', at, '--profile', 'openssl', '-o', format],
          {
            from: 'user',
          },
        );
        vi.restoreAllMocks();
        const doc = (format === 'json' ? JSON.parse(out) : parseYaml(out)) as {
          trusted: boolean;
          profile: string;
          profiles: { profile: string; trusted: boolean }[];
        };
        expect(doc.trusted).toBe(true);
        expect(doc.profile).toBe('openssl');
        expect(doc.profiles.map((p) => [p.profile, p.trusted])).toEqual([
          ['kubernetes', false],
          ['openssl', true],
          ['strict', false],
        ]);
        expect(process.exitCode).toBe(0);
      }
    });

    it('refuses an unknown profile (exit 2)', () => {
      expect(() => verifyFiles(leafPem, { roots: [roots], profile: 'browser' })).toThrow(/unknown profile 'browser'/);
    });
  });
});
