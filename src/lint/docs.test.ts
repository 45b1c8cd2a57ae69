// docs/findings.md and docs/policy.md stay in step with the code: every lint and role documented with
// its severity, and the documented policies are valid (the annotated one is exactly the defaults).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { K8S_ROLE_LIST } from '../k8s/roles.ts';
import { CATALOG } from './catalog.ts';
import { DEFAULT_POLICY, parsePolicy } from './policy.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');
const findings = readFileSync(join(docs, 'findings.md'), 'utf8');
const policy = readFileSync(join(docs, 'policy.md'), 'utf8');

describe('docs', () => {
  it('findings.md lists every lint with its severity, and every role', () => {
    // Rows as `| id | severity | ...`, whatever padding the formatter adds.
    const rows = new Map([...findings.matchAll(/^\|\s*`([^`]+)`\s*\|\s*([a-z-]+)\s*\|/gm)].map((m) => [m[1] as string, m[2] as string]));
    for (const l of CATALOG) expect(rows.get(l.id), l.id).toBe(l.severity);
    expect([...rows.keys()].filter((k) => /^(x509|k8s)\./.test(k)).sort()).toEqual(CATALOG.map((l) => l.id).sort());
    for (const r of K8S_ROLE_LIST) expect(rows.get(r.name), r.name).toBe(r.profile);
  });

  it('policy.md shows the defaults exactly, and its examples are valid policies', () => {
    const blocks = [...policy.matchAll(/```(yaml|json)\n([\s\S]*?)```/g)].map((m) => parseYaml(m[2] as string) as unknown);
    expect(blocks.length).toBe(3);
    expect(parsePolicy(blocks[0], 'docs/policy.md')).toEqual(DEFAULT_POLICY);
    for (const b of blocks.slice(1)) expect(() => parsePolicy(b, 'docs/policy.md')).not.toThrow();
  });
});
