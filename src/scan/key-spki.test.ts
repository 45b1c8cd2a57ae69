// The public half read from a private key's own DER must be byte for byte what openssl derives
// (`openssl pkey -pubout -outform DER`); a key that does not carry it answers undefined (node:crypto then).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanPem } from '../x509/pem.ts';
import { privateKeySpki } from './key-spki.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-key-spki-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ossl = (...a: string[]): Buffer => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function keyFile(name: string, make: string[][]): { label: string; der: Uint8Array; spki: Buffer } {
  for (const args of make) ossl(...args);
  const block = scanPem(readFileSync(join(dir, name), 'latin1'))[0];
  if (!block) throw new Error(`no PEM in ${name}`);
  return { label: block.label, der: block.der, spki: ossl('pkey', '-in', name, '-pubout', '-outform', 'DER') };
}

describe('privateKeySpki', () => {
  const cases: [string, string, string[][]][] = [
    ['RSA PKCS#1', 'rsa1.pem', [['genrsa', '-traditional', '-out', 'rsa1.pem', '2048']]],
    ['RSA PKCS#8', 'rsa8.pem', [['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa8.pem']]],
    [
      'RSA exponent 3',
      'rsa3.pem',
      [['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-pkeyopt', 'rsa_keygen_pubexp:3', '-out', 'rsa3.pem']],
    ],
    ['EC P-256 SEC1', 'ec1.pem', [['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec1.pem']]],
    ['EC P-384 PKCS#8', 'ec8.pem', [['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'ec8.pem']]],
    ['EC P-521 PKCS#8', 'ec5.pem', [['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521', '-out', 'ec5.pem']]],
  ];
  for (const [name, file, make] of cases)
    it(`${name}: the same SPKI as openssl`, () => {
      const k = keyFile(file, make);
      expect(Buffer.from(privateKeySpki(k.label, k.der) ?? []).toString('hex')).toBe(k.spki.toString('hex'));
    });

  it('an Ed25519 key without its public half, or a truncated key: undefined', () => {
    const k = keyFile('ed.pem', [['genpkey', '-algorithm', 'ED25519', '-out', 'ed.pem']]);
    expect(privateKeySpki(k.label, k.der)).toBeUndefined();
    const ec = keyFile('ec1.pem', []);
    expect(privateKeySpki(ec.label, ec.der.subarray(0, 20))).toBeUndefined();
    expect(privateKeySpki('ENCRYPTED PRIVATE KEY', ec.der)).toBeUndefined();
  });
});
