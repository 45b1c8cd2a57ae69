// Anchorage's own output lints clean under its default policy: `pki init` from docs/examples/cluster.yaml
// (ECDSA, a 20-year offline root) and with RSA keys, and `cert ca` + `cert issue` with ECDSA keys. No
// error, no warning; zlint agrees with Anchorage on every certificate written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lintPaths } from '../support/lint-report.ts';
import { ZLINT_GROUPS } from './mapping.ts';
import { runZlint, zlintFired } from './zlint.ts';

const repo = join(import.meta.dirname, '..', '..');
const main = join(repo, 'src', 'cli', 'main.ts');
const node = existsSync(join(repo, 'node_modules', '.bin', 'node')) ? join(repo, 'node_modules', '.bin', 'node') : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'anchorage-own-lint-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function anchorage(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[]): string {
  const r = anchorage(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
function walk(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function expectClean(dir: string): void {
  const out = lintPaths([dir]);
  expect(out.certificates).toBeGreaterThan(0);
  expect(out.findings.filter((f) => f.severity !== 'notice').map((f) => `${f.severity} ${f.lintId} ${f.source}: ${f.message}`)).toEqual([]);
  // The CLI agrees: exit 0 even with --fail-on warning.
  const r = anchorage(['lint', dir, '--fail-on', 'warning']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // zlint agrees with Anchorage on every certificate file.
  const files = walk(dir).filter((f) => /\.(crt|pem)$/.test(f) && readFileSync(f, 'utf8').includes('BEGIN CERTIFICATE'));
  const z = runZlint(files);
  const findings = lintPaths(files);
  const diffs: string[] = [];
  for (const f of files) {
    const r = z.get(f);
    if (!r || r.parseError !== undefined) {
      diffs.push(`${f}: zlint could not read it (${r?.parseError})`);
      continue;
    }
    const fired = new Set(findings.findings.filter((x) => x.source === f).map((x) => x.lintId));
    for (const [names, ids] of ZLINT_GROUPS) {
      const zf = names.some((n) => zlintFired(r, n) === true);
      const af = ids.some((id) => fired.has(id));
      if (zf !== af) diffs.push(`${f}: zlint ${names.join('|')} ${zf}; Anchorage ${ids.join('|')} ${af}`);
    }
  }
  expect(diffs).toEqual([]);
}

describe("Anchorage's own output lints clean", () => {
  it('pki init from docs/examples/cluster.yaml (ECDSA P-256, 20-year offline root)', () => {
    const out = join(tmp, 'example');
    ok(['pki', 'init', '--config', join(repo, 'docs', 'examples', 'cluster.yaml'), '--out', out]);
    expectClean(out);
  }, 300_000);

  it('pki init with RSA keys', () => {
    const cfg = join(tmp, 'rsa.yaml');
    writeFileSync(
      cfg,
      readFileSync(join(repo, 'docs', 'examples', 'cluster.yaml'), 'utf8').replace(/^keyAlgorithm: .*$/m, 'keyAlgorithm: rsa-2048'),
    );
    const out = join(tmp, 'rsa');
    ok(['pki', 'init', '--config', cfg, '--out', out]);
    expectClean(out);
  }, 300_000);

  it('cert ca + cert issue with ECDSA keys (server and client profiles)', () => {
    const d = join(tmp, 'certs');
    mkdirSync(d);
    ok(['cert', 'ca', '--subject', 'CN=Own CA', '--out', join(d, 'ca.crt'), '--key-out', join(d, 'ca.key'), '--key-type', 'ecdsa-p256']);
    for (const [name, profile, san] of [
      ['web', 'server', 'DNS:web.example.com'],
      ['app', 'client', 'DNS:app.example.com'],
    ] as const)
      ok([
        'cert',
        'issue',
        '--ca',
        join(d, 'ca.crt'),
        '--ca-key',
        join(d, 'ca.key'),
        '--subject',
        `CN=${name}.example.com`,
        '--san',
        san,
        '--profile',
        profile,
        '--key-type',
        'ecdsa-p256',
        '--out',
        join(d, `${name}.crt`),
        '--key-out',
        join(d, `${name}.key`),
      ]);
    expectClean(d);
  }, 120_000);
});
