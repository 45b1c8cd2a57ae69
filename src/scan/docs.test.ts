// docs/findings.md documents every scan.* finding with its severity, and no other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCAN_FINDINGS } from './scan.ts';

const findings = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'findings.md'), 'utf8');

describe('docs', () => {
  it('findings.md lists every scan finding with its severity', () => {
    const rows = new Map(
      [...findings.matchAll(/^\|\s*`(scan\.[^`]+)`\s*\|\s*([a-z-]+)\s*\|/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    expect([...rows.keys()].sort()).toEqual(Object.keys(SCAN_FINDINGS).sort());
    for (const [id, d] of Object.entries(SCAN_FINDINGS)) expect(rows.get(id), id).toBe(d.severity);
  });
});
