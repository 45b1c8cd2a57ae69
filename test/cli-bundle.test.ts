// The bundle `npm run build:cli` makes (scripts/build-cli.ts), which bin/anchorage.js runs for `anchorage pki …`
// in a checkout, against the TypeScript sources the rest of the tests run: the same output, error lines, exit
// codes and files; and bin/anchorage.js takes it only while every file it was built from is unchanged.
// Built in a temp folder laid out like a checkout (bin/, .bundle/, package.json, node_modules and src linked).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../scripts/build-cli.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
let tmp = '';
let bundled = '';

const CONFIG = [
  'apiVersion: anchorage.dev/v1alpha1',
  'kind: ClusterPKI',
  'controlPlaneEndpoint: cp.example.com:6443',
  'keyAlgorithm: ecdsa-p256',
  'controlPlane: [{name: cp-1, ips: [10.0.0.1]}]',
  'workers: [{name: w-1, ips: [10.0.1.1]}]',
  '',
].join('\n');

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pki1-bundle-'));
  mkdirSync(join(tmp, 'bin'));
  copyFileSync(join(root, 'bin', 'anchorage.js'), join(tmp, 'bin', 'anchorage.js'));
  copyFileSync(join(root, 'package.json'), join(tmp, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'));
  symlinkSync(join(root, 'src'), join(tmp, 'src'));
  await buildCli(join(tmp, '.bundle'));
  bundled = join(tmp, '.bundle', 'cli', 'main.js');
  writeFileSync(join(tmp, 'cluster.yaml'), CONFIG);
  writeFileSync(join(tmp, 'bad.yaml'), CONFIG.replace('ecdsa-p256', 'dsa-1024').replace('10.0.1.1', '10.0.1.300'));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(entry: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(node, [entry, ...args], { cwd: tmp, encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every path under `dir` with its mode (keys and certificates differ from run to run; names and modes must not). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = statSync(p);
      out.push(`${relative(dir, p)} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('the pki bundle', () => {
  it('the tests themselves run the sources (vitest.config.ts)', () => {
    expect(process.env.ANCHORAGE_NO_BUNDLE).toBe('1');
  });

  it('prints, writes and exits as the sources do', () => {
    const sources = join(root, 'src', 'cli', 'main.ts');
    const same = (args: (out: string) => string[], name: string): void => {
      const a = run(bundled, args(`${name}-bundle`));
      const b = run(sources, args(`${name}-src`));
      expect({ ...a, stdout: a.stdout.replaceAll(`${name}-bundle`, 'OUT') }).toEqual({
        ...b,
        stdout: b.stdout.replaceAll(`${name}-src`, 'OUT'),
      });
    };
    same((out) => ['pki', 'init', '--config', 'cluster.yaml', '--out', out], 'init');
    expect(tree(join(tmp, 'init-bundle'))).toEqual(tree(join(tmp, 'init-src')));
    const manifest = (d: string) =>
      (JSON.parse(readFileSync(join(tmp, d, 'manifest.json'), 'utf8')) as { files: { path: string }[] }).files.map((f) => f.path);
    expect(manifest('init-bundle')).toEqual(manifest('init-src'));
    // Again: everything kept.
    same((out) => ['pki', 'init', '--config', 'cluster.yaml', '--out', out], 'init');
    same(() => ['pki', 'plan', '--config', 'cluster.yaml', '-o', 'json'], 'plan');
    same(() => ['pki', 'plan', '--config', 'cluster.yaml'], 'plan');
    // zod's error lines, a missing file, a missing option, commander's help.
    same((out) => ['pki', 'init', '--config', 'bad.yaml', '--out', out], 'bad');
    same((out) => ['pki', 'init', '--config', 'missing.yaml', '--out', out], 'missing');
    same(() => ['pki', 'init', '--config', 'cluster.yaml'], 'noout');
    same(() => ['pki', '--help'], 'help');
    // The readers src/common/lazy.ts loads: adopting a node tree reads kubeconfigs.
    same((out) => ['pki', 'adopt', join('init-src', 'nodes', 'cp-1'), '--out', out, '--dry-run'], 'adopt');
  });

  it('bin/anchorage.js runs it for pki while its inputs are unchanged, and the sources otherwise', () => {
    const hook = join(tmp, 'hook.mjs');
    writeFileSync(
      hook,
      "import { registerHooks } from 'node:module';\nregisterHooks({ load(url, c, next) { if (url.includes('/cli/main.')) process.stderr.write('MAIN ' + url + '\\n'); return next(url, c); } });\n",
    );
    const env = { ...process.env };
    delete env.ANCHORAGE_NO_BUNDLE;
    const main = (args: string[], e = env): string => {
      const r = spawnSync(node, ['--import', hook, join(tmp, 'bin', 'anchorage.js'), ...args], { cwd: tmp, encoding: 'utf8', env: e });
      expect(r.status).toBe(0);
      return /MAIN (\S+)/.exec(r.stderr)?.[1] ?? '';
    };
    const plan = ['pki', 'plan', '--config', 'cluster.yaml'];
    expect(main(plan)).toMatch(/\/\.bundle\/cli\/main\.js$/);
    expect(main(plan, { ...env, ANCHORAGE_NO_BUNDLE: '1' })).toMatch(/\/src\/cli\/main\.ts$/);
    expect(main(['inspect', join('init-src', 'nodes', 'cp-1', 'etc', 'kubernetes', 'pki', 'ca.crt')])).toMatch(/\/src\/cli\/main\.ts$/);
    // One input recorded with another mtime, as after an edit: the sources.
    const inputs = join(tmp, '.bundle', 'inputs.json');
    const record = JSON.parse(readFileSync(inputs, 'utf8')) as { files: [string, number, number][] };
    const edited = record.files.findIndex(([p]) => p.endsWith(join('src', 'pki', 'config.ts')));
    expect(edited).toBeGreaterThanOrEqual(0);
    (record.files[edited] as [string, number, number])[2] -= 1000;
    writeFileSync(inputs, JSON.stringify(record));
    expect(main(plan)).toMatch(/\/src\/cli\/main\.ts$/);
  });
});
