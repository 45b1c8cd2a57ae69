// The published package works where users install it: in node_modules, where Node does not strip types.
// It carries only product code, and `anchorage --version` is the version in package.json.
// The two packs run one after the other (one file): both build dist/ in the checkout and remove it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const dir = mkdtempSync(join(tmpdir(), 'anchorage-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every product module under src/, as the path the compiled package holds it at. */
function productModules(folder = 'src'): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((e) => {
    const path = `${folder}/${e.name}`;
    if (e.isDirectory()) return productModules(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [`dist/${path.slice(4, -3)}.js`] : [];
  });
}

describe('npm pack', () => {
  it('--dry-run: the package holds the compiled product modules, the CLI entry, the built dashboard, the docs and deploy/, and no test or benchmark code', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(existsSync(join(root, 'dist')), 'postpack removes dist from the checkout').toBe(false);
    const files = (JSON.parse(out.slice(out.indexOf('['))) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    // The docs and the manifests users apply (deploy/: the CRDs `anchorage controller` needs).
    const docs = ['docs', 'deploy'].flatMap((d) =>
      readdirSync(join(root, d), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(root.length + 1)),
    );
    // The web dashboard, built by prepack (npm run build:web) into web/dist.
    const web = readdirSync(join(root, 'web/dist'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1));
    expect(web).toContain('web/dist/index.html');
    expect(files.sort()).toEqual(['LICENSE', 'README.md', 'package.json', 'bin/anchorage.js', ...productModules(), ...docs, ...web].sort());
    // The same, said as the rule: nothing from test/ or bench/, no test file, no source map or type stub.
    expect(files.filter((f) => /^(test|bench|src)\/|\.test\.|\.spec\.|\.map$|\.d\.ts$|fixtures?|testkit|scenario/.test(f))).toEqual([]);
  }, 600_000);

  it('installs from the tarball and runs the compiled CLI, whose --version is the package.json version', () => {
    execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(existsSync(join(root, 'dist')), 'postpack removes dist from the checkout').toBe(false);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz')) as string;
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
    // --omit=optional: pkcs11js (PKCS#11 CA keys, test/ca-pkcs11.test.ts) is a native build of ~45 s under load
    // that this check of the packed CLI does not use.
    execFileSync(
      'npm',
      ['install', join(dir, tarball), '--no-audit', '--no-fund', '--silent', '--engine-strict=false', '--omit=optional'],
      {
        cwd: app,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const installed = join(app, 'node_modules', 'anchorage');
    const bin = join(app, 'node_modules', '.bin', 'anchorage');
    expect(existsSync(join(installed, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    // The demo from the installed package: a cluster PKI with planted faults, scanned (ids from docs/findings.md).
    const r = spawnSync(node, [bin, 'demo', '--dir', join(dir, 'demo')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const id of ['scan.key.ca-key-on-worker', 'scan.kubeconfig.ca-did-not-sign-server', 'x509.validity.expired'])
      expect(r.stdout).toContain(id);

    expect(spawnSync(node, [bin, '--version'], { encoding: 'utf8' }).stdout).toBe(`${pkg.version}\n`);
    // Read from the installed package.json when it runs, not written into the code: change it, and --version follows.
    const manifest = join(installed, 'package.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(`"version": "${pkg.version}"`, '"version": "9.8.7-changed"'));
    expect(spawnSync(node, [bin, '--version'], { encoding: 'utf8' }).stdout).toBe('9.8.7-changed\n');
  }, 600_000);
});

describe('anchorage --version in a checkout', () => {
  it('prints the package.json version, from bin/anchorage.js and from src/cli/main.ts', () => {
    for (const entry of [join(root, 'bin', 'anchorage.js'), join(root, 'src', 'cli', 'main.ts')]) {
      for (const flag of ['--version', '-V']) {
        const r = spawnSync(node, [entry, flag], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toBe(`${pkg.version}\n`);
      }
    }
  });
});
