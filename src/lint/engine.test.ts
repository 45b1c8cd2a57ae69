// The engine: context from the set (issuers, shared keys), time from the caller, robustness against
// undecodable parts, and the SARIF rendering of a report.
import { describe, expect, it } from 'vitest';
import { CASES } from '../../test/support/lint-cases.ts';
import { DAY, issue, NOW, newCa, rebuild } from '../../test/support/lint-testkit.ts';
import { generateKey } from '../x509/keys.ts';
import { CATALOG, LINTS_BY_ID } from './catalog.ts';
import { activeLints, failsAt, lintCertificates } from './engine.ts';
import { DEFAULT_POLICY, parsePolicy } from './policy.ts';
import { toSarif } from './sarif.ts';

describe('lint engine', () => {
  it("reports the same on copies (lintCopies), and leaves the caller's certificates without the fields the lints decode", () => {
    let fired = 0;
    for (const [id, { fire, quiet }] of Object.entries(CASES))
      for (const make of [fire, quiet]) {
        const fixture = make();
        const opts = { now: fixture.now ?? NOW, ...(fixture.policy && { policy: fixture.policy }) };
        const want = lintCertificates(fixture.targets, opts);
        // The same certificates again, as objects nothing has decoded yet.
        const fresh = fixture.targets.map((t) => ({ ...t, cert: t.cert.undecoded() }));
        expect(lintCertificates(fresh, { ...opts, lintCopies: true }), id).toEqual(want);
        fired += want.findings.length;
        // The set's lookups read names and keys; the subjectAltNames only a lint reads.
        for (const t of fresh) expect((t.cert as unknown as { _sans?: unknown })._sans, id).toBeUndefined();
      }
    expect(fired).toBeGreaterThan(100);
  });

  it('stamps findings with the lint, the certificate identity and where it was found', () => {
    const ca = newCa();
    const cert = issue(ca, {
      subject: 'CN=old.example.com',
      sans: { dns: ['old.example.com'] },
      validity: { notBefore: new Date(NOW.getTime() - 100 * DAY), notAfter: new Date(NOW.getTime() - DAY) },
    });
    const r = lintCertificates([{ cert, source: 'certs/bundle.pem', location: 'block 2 (line 20)' }], { now: NOW });
    expect(r.findings).toEqual([
      {
        lintId: 'x509.validity.expired',
        severity: 'error',
        message: 'expired on 2026-01-14T12:00:00Z, 1 day ago',
        subject: 'CN=old.example.com',
        sha256: cert.sha256,
        source: 'certs/bundle.pem',
        location: 'block 2 (line 20)',
      },
    ]);
    expect(r.certificates).toBe(1);
    expect(r.summary).toEqual({ error: 1, warning: 0, notice: 0 });
  });

  it('lists, for each holder of a shared key, the first ten other subjects in the order of the set, and counts the rest', () => {
    const ca = newCa('CN=sharers CA');
    const kp = generateKey('ecdsa-p256');
    const names = Array.from({ length: 15 }, (_, i) => `CN=holder-${String(i).padStart(2, '0')}`);
    // Holder 3 twice (a renewal): one subject, two certificates.
    const certs = [...names, names[3] as string].map((subject) => issue(ca, { subject, sans: { dns: ['x.example'] } }, { key: kp }));
    const report = lintCertificates(
      certs.map((cert) => ({ cert })),
      { now: NOW },
    );
    const shared = report.findings.filter((f) => f.lintId === 'k8s.key.shared-across-roles');
    expect(shared).toHaveLength(16);
    for (const f of shared) {
      const others = names.filter((n) => n !== f.subject);
      expect(f.message, f.subject).toBe(`same public key as ${others.slice(0, 10).join('; ')} and 4 more`);
    }
  });

  it('takes the time from the caller, never from the clock', () => {
    const cert = issue(newCa(), { validity: { days: 300 } });
    const at = (d: number) => lintCertificates([{ cert }], { now: new Date(NOW.getTime() + d * DAY) }).findings.map((f) => f.lintId);
    expect(at(0)).toEqual([]);
    expect(at(280)).toEqual(['x509.validity.expiring-soon']);
    expect(at(290)).toEqual(['x509.validity.expiring-critical']);
    expect(at(301)).toEqual(['x509.validity.expired']);
    expect(at(-2)).toEqual(['x509.validity.not-yet-valid']);
  });

  it('uses longer expiry windows for CAs', () => {
    const ca = newCa('CN=Short CA', { validity: { days: 365 } });
    const later = new Date(NOW.getTime() + 300 * DAY);
    expect(lintCertificates([{ cert: ca.cert }], { now: later }).findings.map((f) => f.lintId)).toEqual(['x509.validity.expiring-soon']);
    // A leaf with the same 65 days left is outside its 28-day window.
    expect(lintCertificates([{ cert: issue(ca, { validity: { days: 365 } }) }], { now: later }).findings).toEqual([]);
  });

  it('does not call a fresh short-lived certificate expiring (windows are at most a third of the lifetime)', () => {
    // A fresh 90-day CA: 90 days left equals the CA warning window, but it was issued today.
    const ca = newCa('CN=Fresh 90-day CA', { validity: { days: 90 } });
    expect(lintCertificates([{ cert: ca.cert }], { now: NOW }).findings).toEqual([]);
    const late = lintCertificates([{ cert: ca.cert }], { now: new Date(NOW.getTime() + 65 * DAY) }).findings.map((f) => f.lintId);
    expect(late).toEqual(['x509.validity.expiring-soon']);
  });

  it('gives an issuer without basicConstraints the CA validity limit, not the leaf one', () => {
    const key = generateKey('ecdsa-p256');
    const cert = issue(
      null,
      { subject: 'CN=Old CA', sans: {}, extKeyUsage: [], basicConstraints: false, validity: { days: 3000 } },
      { key },
    );
    const ref = { cert, key: key.privateKey };
    const r = lintCertificates([{ cert }, { cert: issue(ref) }], { now: NOW });
    expect(r.findings.filter((f) => f.lintId === 'x509.validity.too-long')).toEqual([]);
    expect(r.findings.map((f) => f.lintId)).toContain('x509.ca.basic-constraints-missing');
  });

  it('matches issuers by key identifier when two CAs share a name (rotation)', () => {
    const old = newCa('CN=cluster-ca', { validity: { days: 30 } }, new Date(NOW.getTime() - 300 * DAY));
    const fresh = newCa('CN=cluster-ca');
    const leaf = issue(fresh, { validity: { days: 90 } });
    const r = lintCertificates([{ cert: old.cert }, { cert: fresh.cert }, { cert: leaf }], { now: NOW });
    // Against the old CA the leaf would outlive its issuer; against the right one it does not.
    expect(r.findings.filter((f) => f.sha256 === leaf.sha256)).toEqual([]);
    const wrong = lintCertificates(
      [{ cert: old.cert }, { cert: issue(old, { validity: { days: 90 } }, { now: new Date(NOW.getTime() - 300 * DAY) }) }],
      {
        now: new Date(NOW.getTime() - 300 * DAY),
      },
    );
    expect(wrong.findings.map((f) => f.lintId)).toContain('x509.validity.outlives-issuer');
  });

  it('reports an undecodable part once and keeps linting the rest', () => {
    const ca = newCa();
    const bad = rebuild(issue(ca), ca.key, (f) => f.map((x, i) => (i === 6 ? Uint8Array.of(0x30, 0x03, 0x30, 0x01, 0x05) : x)));
    const r = lintCertificates([{ cert: bad }, { cert: issue(ca) }], { now: NOW });
    const ids = r.findings.map((f) => f.lintId);
    expect(ids).toContain('x509.der.malformed');
    expect(ids.filter((id) => id === 'x509.der.malformed')).toHaveLength(1);
    expect(r.certificates).toBe(2);
  });

  it('runs only the active lints', () => {
    const p = parsePolicy({ lints: { disabled: ['x509.validity.expired'] } }, 'p');
    expect(activeLints(p).length).toBe(CATALOG.length - 1);
    expect(activeLints(DEFAULT_POLICY)).toEqual(CATALOG);
    const only = LINTS_BY_ID.get('x509.leaf.ski-missing');
    const r = lintCertificates([{ cert: issue(newCa(), { subjectKeyId: false, validity: { days: 5 } }) }], {
      now: NOW,
      lints: only ? [only] : [],
    });
    expect(r.findings.map((f) => f.lintId)).toEqual(['x509.leaf.ski-missing']);
    expect(failsAt(r, 'notice')).toBe(true);
  });
});

describe('SARIF', () => {
  it('has one rule per lint and results that point at the rule, the file and the certificate', () => {
    const cert = issue(newCa(), { subjectKeyId: false, validity: { days: 30 } });
    const now = new Date(NOW.getTime() + 25 * DAY);
    const r = lintCertificates([{ cert, source: 'pki dir\\leaf.crt', location: 'block 1' }], { now });
    const log = toSarif(r) as unknown as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string; defaultConfiguration: { level: string }; help: { text: string } }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          message: { text: string };
          locations: unknown[];
          partialFingerprints: Record<string, string>;
        }[];
      }[];
    };
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0];
    const rules = run?.tool.driver.rules ?? [];
    expect(rules.map((x) => x.id)).toEqual(CATALOG.map((l) => l.id));
    expect(rules.find((x) => x.id === 'x509.ca.pathlen-on-root')?.defaultConfiguration.level).toBe('note');
    expect(rules.every((x) => x.help.text.length > 0)).toBe(true);
    const results = run?.results ?? [];
    expect(results.map((x) => [x.ruleId, x.level])).toEqual([
      ['x509.validity.expiring-critical', 'error'],
      ['x509.leaf.ski-missing', 'note'],
    ]);
    for (const x of results) {
      expect(rules[x.ruleIndex]?.id).toBe(x.ruleId);
      expect(x.partialFingerprints['certificateSha256/v1']).toBe(cert.sha256);
      expect(x.message.text).toContain(cert.sha256);
      expect(x.locations).toEqual([
        { physicalLocation: { artifactLocation: { uri: 'pki%20dir/leaf.crt' } }, logicalLocations: [{ name: 'block 1', kind: 'element' }] },
      ]);
    }
  });
});
