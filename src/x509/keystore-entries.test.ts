// Keystore planning: keys get their chains, the rest are trusted entries, aliases are stable.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueCertificate } from './build.ts';
import type { Certificate } from './certificate.ts';
import { generateKey } from './keys.ts';
import { contentAlias, planKeystore } from './keystore-entries.ts';

const rootKp = generateKey('ecdsa-p256');
const root = issueCertificate({
  profile: { subject: 'CN=Root CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 10 } },
  publicKey: rootKp.publicKey,
  signingKey: rootKp.privateKey,
});
const intKp = generateKey('ecdsa-p256');
const int = issueCertificate({
  profile: { subject: 'CN=Int CA', ca: true, keyUsage: ['keyCertSign'], validity: { days: 10 } },
  publicKey: intKp.publicKey,
  issuer: { cert: root, key: rootKp.privateKey },
});
const leafKp = generateKey('ecdsa-p256');
const leaf = issueCertificate({
  profile: { subject: 'O=Acme,CN=Web Server', validity: { days: 10 } },
  publicKey: leafKp.publicKey,
  issuer: { cert: int, key: intKp.privateKey },
});
const fp8 = (c: Certificate): string => createHash('sha256').update(c.der).digest('hex').slice(0, 8);

describe('planKeystore', () => {
  it('gives a key its chain in issuer order whatever the input order, and keeps the rest as trusted entries', () => {
    const other = issueCertificate({
      profile: { subject: 'CN=Other Root', ca: true, validity: { days: 1 } },
      publicKey: generateKey('ecdsa-p256').publicKey,
      signingKey: rootKp.privateKey,
    });
    const plan = planKeystore([{ cert: root }, { cert: other }, { cert: leaf }, { cert: int }], [{ key: leafKp.privateKey }]);
    expect(plan.keys.map((k) => k.chain.map((c) => c.sha256))).toEqual([[leaf.sha256, int.sha256, root.sha256]]);
    expect(plan.trusted.map((t) => t.cert.subject)).toEqual(['CN=Other Root']);
  });

  it('aliases: the input alias, else the one name for a single entry, else CN and SHA-256 prefix', () => {
    expect(contentAlias(leaf)).toBe(`web-server-${fp8(leaf)}`);
    expect(planKeystore([{ cert: leaf, alias: 'tls' }], [{ key: leafKp.privateKey }]).keys[0]?.alias).toBe('tls');
    expect(planKeystore([{ cert: leaf }], [{ key: leafKp.privateKey, alias: 'from-key' }], 'name').keys[0]?.alias).toBe('from-key');
    expect(planKeystore([{ cert: leaf }], [{ key: leafKp.privateKey }], 'name').keys[0]?.alias).toBe('name');
    expect(planKeystore([{ cert: root }], [], 'trust').trusted[0]?.alias).toBe('trust');
    const two = planKeystore([{ cert: root }, { cert: int }], [], 'trust');
    expect(two.trusted.map((t) => t.alias)).toEqual([`trust-${fp8(root)}`, `trust-${fp8(int)}`]);
    expect(planKeystore([{ cert: root }, { cert: int }], []).trusted.map((t) => t.alias)).toEqual([
      `root-ca-${fp8(root)}`,
      `int-ca-${fp8(int)}`,
    ]);
    // Adding a certificate does not rename the others.
    const three = planKeystore([{ cert: root }, { cert: leaf }, { cert: int }], [], 'trust');
    expect(three.trusted.filter((t) => t.cert !== leaf).map((t) => t.alias)).toEqual(two.trusted.map((t) => t.alias));
  });

  it('merges a certificate given twice, keeping its alias', () => {
    const plan = planKeystore([{ cert: root }, { cert: root, alias: 'root' }], []);
    expect(plan.trusted.map((t) => t.alias)).toEqual(['root']);
  });

  it('refuses a key without its certificate instead of dropping it', () => {
    expect(() => planKeystore([{ cert: root }], [{ key: leafKp.privateKey, alias: 'web' }])).toThrow(
      "private key 'web' has no matching certificate among the inputs",
    );
  });
});
