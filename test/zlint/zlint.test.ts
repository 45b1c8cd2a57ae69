// zlint as an oracle. The corpus: every fire and quiet case of the lint catalog (test/support/lint-cases.ts,
// each planting one fault or none). zlint v3.7.3 (built once by test/zlint/build.sh) reads them all in one
// process; wherever zlint has an Anchorage counterpart (mapping.ts), both fire or both stay quiet on every
// certificate, apart from the differences listed below, each with its reason (also in docs/findings.md).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintCertificates } from '../../src/lint/engine.ts';
import { DEFAULT_POLICY } from '../../src/lint/policy.ts';
import type { Certificate } from '../../src/x509/certificate.ts';
import { CASES } from '../support/lint-cases.ts';
import { NOW } from '../support/lint-testkit.ts';
import { ZLINT_COUNTERPARTS, ZLINT_GROUPS } from './mapping.ts';
import { runZlint, type ZlintRecord, zlintBinary, zlintFired } from './zlint.ts';

/**
 * Known, deliberate differences: "<case>/<fire|quiet>/<zlint lint>" -> why. Each one must still happen
 * (a stale entry fails the test).
 */
const DIFFERENCES: Record<string, string> = {
  'x509.ca.basic-constraints-missing/fire/e_ext_authority_key_identifier_no_key_identifier':
    'zlint exempts only self-signed certificates with cA=TRUE from the AKI rule; Anchorage exempts every self-issued certificate (RFC 5280 4.2.1.1 allows omitting AKI when self-signed): the "Shadow CA" here is self-signed without cA',
  'x509.ca.ca-false/fire/e_ext_authority_key_identifier_no_key_identifier': 'as above: a self-signed certificate with cA=FALSE and no AKI',
};

const dir = mkdtempSync(join(tmpdir(), 'anchorage-zlint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Entry {
  label: string;
  cert: Certificate;
  file: string;
  fired: Set<string>;
}
const entries: Entry[] = [];
let zl = new Map<string, ZlintRecord>();

beforeAll(() => {
  let n = 0;
  for (const [id, c] of Object.entries(CASES))
    for (const kind of ['fire', 'quiet'] as const) {
      const fx = c[kind]();
      const report = lintCertificates(fx.targets, { now: fx.now ?? NOW, policy: fx.policy ?? DEFAULT_POLICY });
      fx.targets.forEach((t, i) => {
        const file = join(dir, `${n++}.pem`);
        writeFileSync(file, t.cert.toPem());
        const fired = new Set(report.findings.filter((f) => f.sha256 === t.cert.sha256).map((f) => f.lintId));
        entries.push({ label: `${id}/${kind}#${i}`, cert: t.cert, file, fired });
      });
    }
  zl = runZlint(entries.map((e) => e.file));
}, 600_000);

describe('zlint agreement on the generated corpus', () => {
  it('zlint read every corpus certificate in one process', () => {
    expect(zl.size).toBe(entries.length);
    // What zcrypto cannot parse at all is a certificate Anchorage reports as malformed.
    const unparsed = entries.filter((e) => zl.get(e.file)?.parseError !== undefined);
    // zcrypto refuses a few certificates outright: those Anchorage reports as malformed, and keys on curves
    // zcrypto does not know (Anchorage reads them and reports the curve).
    const unexplained = unparsed.filter(
      (e) => !['x509.der.malformed', 'x509.validity.malformed-time', 'x509.key.ec-curve-not-allowed'].some((id) => e.fired.has(id)),
    );
    expect(unexplained.map((e) => `${e.label}: ${zl.get(e.file)?.parseError}`)).toEqual([]);
  });

  it('every mapped or documented zlint lint exists in zlint v3.7.3, and docs/findings.md accounts for each RFC 5280 one', () => {
    const all = execFileSync(zlintBinary(), ['-list'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { name: string; source: string });
    const names = new Set(all.map((l) => l.name));
    expect(Object.keys(ZLINT_COUNTERPARTS).filter((n) => !names.has(n))).toEqual([]);
    const findings = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'findings.md'), 'utf8');
    // Every zlint name the docs cite is real (one that is not was once cited here).
    const cited = new Set([...findings.matchAll(/\b([ewn]_[a-z0-9_]+)\b/g)].map((m) => m[1] as string));
    expect([...cited].filter((n) => !names.has(n))).toEqual([]);
    // Every RFC 5280 lint has a row: a counterpart, or the reason there is none.
    const rows = new Map(
      [...findings.matchAll(/^\| `([ewn]_[a-z0-9_]+)` \| [^|]+ \| (.+) \|$/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    const rfc = all.filter((l) => l.source === 'RFC5280').map((l) => l.name);
    expect(rfc.length).toBe(115);
    expect(rfc.filter((n) => !rows.has(n))).toEqual([]);
    for (const [n, ids] of Object.entries(ZLINT_COUNTERPARTS)) expect(rows.get(n), n).toBe(ids.map((i) => `\`${i}\``).join(', '));
  });

  it('fires exactly where Anchorage fires, lint by lint, certificate by certificate', () => {
    const diffs: string[] = [];
    const seen = new Set<string>();
    let compared = 0;
    for (const e of entries) {
      const r = zl.get(e.file);
      if (!r || r.parseError !== undefined) continue;
      for (const [names, ids] of ZLINT_GROUPS) {
        const verdicts = names.map((n) => zlintFired(r, n));
        if (verdicts.includes(undefined)) continue;
        compared++;
        const z = verdicts.includes(true);
        const a = ids.some((id) => e.fired.has(id));
        if (a === z) continue;
        const name = names.join('|');
        const key = `${e.label.replace(/#\d+$/, '')}/${name}`;
        if (DIFFERENCES[key] !== undefined) {
          seen.add(key);
          continue;
        }
        diffs.push(`${e.label}: zlint ${name} ${z ? 'fired' : 'quiet'}; Anchorage ${ids.join('|')} ${a ? 'fired' : 'quiet'}`);
      }
    }
    expect(diffs).toEqual([]);
    expect(Object.keys(DIFFERENCES).filter((k) => !seen.has(k))).toEqual([]);
    expect(compared).toBeGreaterThan(entries.length * 30);
  });

  it('exercises every group: some zlint lint of it fires on at least one corpus certificate', () => {
    const unexercised = ZLINT_GROUPS.map(([names]) => names).filter(
      (names) =>
        !entries.some((e) => {
          const r = zl.get(e.file);
          return r !== undefined && names.some((n) => zlintFired(r, n) === true);
        }),
    );
    expect(unexercised).toEqual([]);
  });
});
