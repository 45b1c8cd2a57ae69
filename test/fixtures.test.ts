// The broken-PKI fixtures recorded from the real components (test/cluster/broken.test.ts) are ground
// truth: a static lint of the broken files, at the time they were recorded, reports each failure.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintPaths } from './support/lint-report.ts';

const root = join(import.meta.dirname, 'fixtures', 'broken-pki');

describe('broken-PKI fixtures are found by anchorage lint', () => {
  for (const name of readdirSync(root).sort()) {
    const fixture = JSON.parse(readFileSync(join(root, name, 'failure.json'), 'utf8')) as {
      findings: string[];
      recordedAt: string;
      brokenFiles: string[];
    };
    it(`${name}: ${fixture.findings.join(', ')}`, () => {
      const report = lintPaths([join(root, name)], {}, new Date(fixture.recordedAt));
      const errors = report.findings.filter((f) => f.severity === 'error');
      for (const id of fixture.findings) {
        const hits = errors.filter((f) => f.lintId === id);
        expect(hits.length, `${id} in ${JSON.stringify(errors.map((f) => f.lintId))}`).toBeGreaterThan(0);
        for (const h of hits) expect(fixture.brokenFiles.some((b) => (h.source ?? '').endsWith(b))).toBe(true);
      }
      // Nothing else is an error: the intact certificates around the broken one are clean.
      expect(errors.map((f) => f.lintId).sort()).toEqual([...fixture.findings].sort());
    });
  }
});
