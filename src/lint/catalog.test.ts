// Every lint in the catalog has a certificate that makes it fire and one that keeps it quiet
// (test/support/lint-cases.ts). The table is checked against the catalog, so a new lint without both cases fails here.
import { describe, expect, it } from 'vitest';
import { CASES, type Fixture } from '../../test/support/lint-cases.ts';
import { NOW } from '../../test/support/lint-testkit.ts';
import { CATALOG } from './catalog.ts';
import { lintCertificates } from './engine.ts';
import { DEFAULT_POLICY } from './policy.ts';

function run(fx: Fixture, id: string) {
  const report = lintCertificates(fx.targets, { now: fx.now ?? NOW, policy: fx.policy ?? DEFAULT_POLICY });
  return report.findings.filter((f) => f.lintId === id);
}

describe('lint catalog', () => {
  it('has a fire and a quiet case for every lint, and no case for an unknown lint', () => {
    const ids = CATALOG.map((l) => l.id);
    expect(ids.filter((id) => !CASES[id])).toEqual([]);
    expect(Object.keys(CASES).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it('documents every lint with an id, a one-line description and a remediation', () => {
    for (const l of CATALOG) {
      expect(l.id).toMatch(/^(x509|k8s)\.[a-z0-9-]+(\.[a-z0-9-]+)+$/);
      expect(l.description).not.toMatch(/\n/);
      expect(l.remediation).not.toMatch(/\n/);
      expect(l.description.length).toBeGreaterThan(10);
      expect(l.remediation.length).toBeGreaterThan(10);
    }
  });

  for (const lint of CATALOG) {
    const c = CASES[lint.id];
    if (!c) continue;
    describe(lint.id, () => {
      it('fires', () => {
        const found = run(c.fire(), lint.id);
        expect(found.length).toBeGreaterThan(0);
        for (const f of found) {
          expect(f.severity).toBe(lint.severity);
          expect(f.message.length).toBeGreaterThan(5);
          expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
        }
      });
      it('stays quiet', () => {
        expect(run(c.quiet(), lint.id)).toEqual([]);
      });
    });
  }
});
