// Profile specs: the text a person types becomes a CertProfile. Expectations come from RFC 5280 and
// from openssl's reading of certificates issued with the assembled profiles.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from './build.ts';
import { generateKey } from './keys.ts';
import {
  caProfile,
  csrSigningPolicy,
  leafProfile,
  parseConstraintSet,
  parseDays,
  parseExtKeyUsages,
  parseKeyType,
  parseKeyUsages,
  parseNameConstraints,
  parsePathLen,
  parseSans,
} from './profile-spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-profile-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function opensslText(pem: string): string {
  const p = join(dir, 'c.pem');
  writeFileSync(p, pem);
  return execFileSync('openssl', ['x509', '-in', p, '-noout', '-text'], { encoding: 'utf8' });
}

describe('parsing', () => {
  it('SANs: typed, untyped, comma separated and repeated', () => {
    expect(parseSans(['DNS:a.example,IP:10.0.0.1', ' b.example ', '2001:db8::1', 'URI:spiffe://td/ns/x', 'email:a@b.example'])).toEqual({
      dns: ['a.example', 'b.example'],
      ip: ['10.0.0.1', '2001:db8::1'],
      uri: ['spiffe://td/ns/x'],
      email: ['a@b.example'],
      other: [],
    });
    expect(() => parseSans(['IP:10.0.0.300'])).toThrow(/SAN 'IP:10.0.0.300': not an IP address/);
    expect(() => parseSans(['DNS:'])).toThrow(/has no value/);
    expect(() => parseSans(['DNS:a b'])).toThrow(/not a DNS name/);
    expect(() => parseSans(['URI:no-scheme'])).toThrow(/not a URI/);
  });

  it('key types, usages, EKUs, days and path lengths, each refused with the value named', () => {
    expect(parseKeyType('ed25519')).toBe('ed25519');
    expect(() => parseKeyType('rsa-1024')).toThrow(/key type 'rsa-1024' is not one of rsa-2048/);
    expect(parseKeyUsages('digitalsignature, keyCertSign')).toEqual(['digitalSignature', 'keyCertSign']);
    expect(() => parseKeyUsages('sign')).toThrow(/key usage 'sign'/);
    expect(parseExtKeyUsages('serverAuth,1.3.6.1.5.5.7.3.9')).toEqual(['serverAuth', '1.3.6.1.5.5.7.3.9']);
    expect(() => parseExtKeyUsages('serverAuth,srvAuth')).toThrow(/extended key usage 'srvAuth'/);
    expect(parseDays(undefined, 365)).toBe(365);
    expect(parseDays('0.5', 365)).toBe(0.5);
    for (const bad of ['-3', '0', 'x', '99999999']) expect(() => parseDays(bad, 1)).toThrow(InputError);
    expect(parsePathLen('0')).toBe(0);
    for (const bad of ['-1', '1.5', 'x', '']) expect(() => parsePathLen(bad)).toThrow(/path length/);
  });

  it('name constraints: typed and untyped subtrees; CIDRs are checked', () => {
    expect(
      parseConstraintSet(
        'example.com, .corp.example, 10.0.0.0/8, 192.168.1.1, fd00::/8, ops@example.com, IP:172.16.0.0/12, URI:.example.net',
      ),
    ).toEqual({
      dns: ['example.com', '.corp.example'],
      ip: ['10.0.0.0/8', '192.168.1.1', 'fd00::/8', '172.16.0.0/12'],
      email: ['ops@example.com'],
      uri: ['.example.net'],
      directory: [],
    });
    expect(() => parseConstraintSet('10.0.0.0/33')).toThrow(/name constraint '10.0.0.0\/33': not an IP address or CIDR range/);
    expect(() => parseConstraintSet('exa mple.com')).toThrow(/not a DNS name/);
    expect(parseNameConstraints(undefined, undefined)).toBeUndefined();
    expect(() => parseNameConstraints(' , ', undefined)).toThrow(/at least one/);
  });
});

describe('assembled profiles, as openssl reads the certificates', () => {
  it('a CA with path length and name constraints (RFC 5280 4.2.1.10: IP subtrees as address/mask)', () => {
    const profile = caProfile({
      subject: 'CN=Constrained CA',
      pathLen: '0',
      permit: 'example.com,10.0.0.0/8',
      exclude: 'bad.example.com',
      days: '30',
    });
    const kp = generateKey('ecdsa-p256');
    const text = opensslText(issueCertificate({ profile, publicKey: kp.publicKey, signingKey: kp.privateKey }).toPem());
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Permitted:\s+DNS:example.com\s+IP:10.0.0.0\/255.0.0.0/);
    expect(text).toMatch(/Excluded:\s+DNS:bad.example.com/);
  });

  it('a leaf from a preset: peer gets both EKUs; explicit usages win', () => {
    const kp = generateKey('ecdsa-p256');
    const ca = generateKey('ecdsa-p256');
    const issue = (p: ReturnType<typeof leafProfile>) =>
      opensslText(issueCertificate({ profile: p, publicKey: kp.publicKey, signingKey: ca.privateKey }).toPem());
    const peer = issue(leafProfile({ subject: 'CN=etcd', profile: 'peer', sans: ['etcd.local', '127.0.0.1'] }));
    expect(peer).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(peer).toMatch(/DNS:etcd.local, IP Address:127.0.0.1/);
    expect(peer).toMatch(/Digital Signature, Key Encipherment/);
    const custom = issue(leafProfile({ subject: 'CN=x', profile: 'client', usage: 'digitalSignature', eku: 'codeSigning' }));
    expect(custom).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(custom).toMatch(/Code Signing/);
    expect(() => leafProfile({ subject: 'CN=x', profile: 'serve' })).toThrow(/profile 'serve' is not one of server, client, peer/);
    expect(() => leafProfile({ subject: 'CN=x', crlUrls: ['not a url'] })).toThrow(/CRL URL 'not a url'/);
  });

  it('signing a CSR: explicit overrides, then what the CSR asked for, then the preset', () => {
    const asked = { subject: 'CN=x', validity: { days: 1 }, extKeyUsage: ['clientAuth'] };
    expect(csrSigningPolicy({ profile: 'server' })(asked).extKeyUsage).toEqual(['clientAuth']);
    expect(csrSigningPolicy({ profile: 'server' })({ subject: 'CN=x', validity: { days: 1 } }).extKeyUsage).toEqual(['serverAuth']);
    const o = csrSigningPolicy({ eku: 'serverAuth', usage: 'digitalSignature', sans: ['DNS:y'] })(asked);
    expect(o).toMatchObject({ extKeyUsage: ['serverAuth'], keyUsage: ['digitalSignature'], sans: { dns: ['y'] } });
  });
});
