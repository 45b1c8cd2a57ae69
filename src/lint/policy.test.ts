// Policy files: defaults in code, YAML/JSON on top, one-line errors that name the file and the field.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DAY, issue, NOW, newCa } from '../../test/support/lint-testkit.ts';
import { InputError } from '../common/errors.ts';
import { failsAt, lintCertificates } from './engine.ts';
import { DEFAULT_POLICY, loadPolicy, parsePolicy } from './policy.ts';
import { PolicySchema } from './policy-schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    const m = (e as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('expected an InputError');
}

describe('policy', () => {
  it('has sensible defaults without a file', () => {
    const p = loadPolicy();
    expect(p).toBe(DEFAULT_POLICY);
    expect(p.expiry).toEqual({ warningDays: 28, criticalDays: 14, caWarningDays: 90, caCriticalDays: 30 });
    expect(p.keys.minRsaBits).toBe(2048);
    expect(p.keys.allowedCurves).toEqual(['P-256', 'P-384', 'P-521']);
    expect(p.kubernetes).toEqual({ dnsDomain: 'cluster.local', serviceCIDR: '10.96.0.0/12' });
    expect(p.signatures.allowed).toContain('ecdsa-with-SHA256');
  });

  it('writes out the defaults the schema makes of an empty policy (zod loads only to validate one)', () => {
    expect(DEFAULT_POLICY).toStrictEqual(PolicySchema.parse({}));
  });

  it('reads YAML and JSON, keeping defaults for what the file leaves out', () => {
    const y = loadPolicy(file('p.yaml', 'expiry:\n  warningDays: 45 # renew early\nkubernetes:\n  dnsDomain: corp.internal\n'));
    expect(y.expiry.warningDays).toBe(45);
    expect(y.expiry.criticalDays).toBe(14);
    expect(y.kubernetes).toEqual({ dnsDomain: 'corp.internal', serviceCIDR: '10.96.0.0/12' });
    const j = loadPolicy(file('p.json', JSON.stringify({ keys: { minRsaBits: 3072 }, lints: { disabled: ['x509.leaf.ski-missing'] } })));
    expect(j.keys.minRsaBits).toBe(3072);
    expect(j.lints.disabled).toEqual(['x509.leaf.ski-missing']);
    expect(loadPolicy(file('empty.yaml', ''))).toEqual(DEFAULT_POLICY);
  });

  it('names the file and the field of a bad value', () => {
    const p = file('bad.yaml', 'expiry:\n  warningDays: -3\n');
    expect(errorOf(() => loadPolicy(p))).toBe(`${p}: expiry.warningDays: Too small: expected number to be >=0`);
    const q = file('bad2.yaml', 'keys:\n  allowedCurves: [P-256, 7]\n');
    expect(errorOf(() => loadPolicy(q))).toMatch(/bad2\.yaml: keys\.allowedCurves\[1\]: .*expected string/);
  });

  it('rejects misspelt fields instead of ignoring them', () => {
    expect(errorOf(() => parsePolicy({ expiry: { warnDays: 10 } }, 'p.yaml'))).toBe('p.yaml: expiry.warnDays: unknown field');
    expect(errorOf(() => parsePolicy({ expiri: {} }, 'p.yaml'))).toBe('p.yaml: expiri: unknown field');
  });

  it('checks relations, CIDRs, algorithms and lint ids', () => {
    expect(errorOf(() => parsePolicy({ expiry: { warningDays: 10, criticalDays: 20 } }, 'p'))).toBe(
      'p: expiry.criticalDays: criticalDays must not exceed warningDays',
    );
    expect(errorOf(() => parsePolicy({ kubernetes: { serviceCIDR: '10.96.0.0' } }, 'p'))).toMatch(
      /^p: kubernetes\.serviceCIDR: expected a CIDR/,
    );
    expect(parsePolicy({ kubernetes: { serviceCIDR: '10.96.0.0/12,fd00::/108' } }, 'p').kubernetes.serviceCIDR).toContain('fd00');
    expect(errorOf(() => parsePolicy({ signatures: { allowed: ['sha256'] } }, 'p'))).toMatch(
      /^p: signatures\.allowed\[0\]: unknown signature algorithm/,
    );
    expect(parsePolicy({ signatures: { allowed: ['1.2.840.10045.4.3.2'] } }, 'p').signatures.allowed).toEqual(['1.2.840.10045.4.3.2']);
    expect(errorOf(() => parsePolicy({ lints: { disabled: ['x509.nope'] } }, 'p'))).toBe(
      "p: lints.disabled[0]: unknown lint id 'x509.nope' (see docs/findings.md)",
    );
    expect(errorOf(() => parsePolicy({ lints: { severity: { 'x509.leaf.ski-missing': 'fatal' } } }, 'p'))).toMatch(
      /^p: lints\.severity\.x509\.leaf\.ski-missing: Invalid option/,
    );
  });

  it('reports unreadable and malformed files in one line', () => {
    expect(errorOf(() => loadPolicy(join(dir, 'missing.yaml')))).toMatch(/cannot read policy file .*missing\.yaml: no such file/);
    expect(errorOf(() => loadPolicy(file('list.yaml', '- a\n- b\n')))).toMatch(/list\.yaml: a policy must be a mapping/);
    expect(errorOf(() => loadPolicy(file('broken.yaml', 'expiry: [\n')))).toMatch(/broken\.yaml: not valid YAML or JSON/);
  });

  it('disables lints and overrides severities', () => {
    const ca = newCa();
    const cert = issue(ca, { subjectKeyId: false });
    const base = lintCertificates([{ cert }], { now: NOW });
    expect(base.findings.map((f) => [f.lintId, f.severity])).toEqual([['x509.leaf.ski-missing', 'notice']]);
    expect(failsAt(base, 'notice')).toBe(true);
    expect(failsAt(base, 'warning')).toBe(false);
    const strict = lintCertificates([{ cert }], { now: NOW, policy: parsePolicy({ profile: 'strict' }, 'p') });
    expect(strict.findings.map((f) => f.severity)).toEqual(['warning']);
    expect(failsAt(strict, 'warning')).toBe(true);
    const off = lintCertificates([{ cert }], { now: NOW, policy: parsePolicy({ lints: { disabled: ['x509.leaf.ski-missing'] } }, 'p') });
    expect(off.findings).toEqual([]);
    const up = lintCertificates([{ cert }], {
      now: NOW,
      policy: parsePolicy({ lints: { severity: { 'x509.leaf.ski-missing': 'error' } } }, 'p'),
    });
    expect(up.findings[0]?.severity).toBe('error');
    expect(up.summary).toEqual({ error: 1, warning: 0, notice: 0 });
    expect(failsAt(up, 'error')).toBe(true);
  });

  it('moves the expiry windows', () => {
    const cert = issue(newCa(), { validity: { days: 200 } });
    const now = new Date(NOW.getTime() + 160 * DAY);
    expect(lintCertificates([{ cert }], { now }).findings).toEqual([]);
    const early = parsePolicy({ expiry: { warningDays: 60 } }, 'p');
    expect(lintCertificates([{ cert }], { now, policy: early }).findings.map((f) => f.lintId)).toEqual(['x509.validity.expiring-soon']);
  });
});
