// The published package works where users install it: in node_modules, where Node does not strip types.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack, install, run', () => {
  it('installs from the tarball and runs the compiled CLI', () => {
    const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` };
    execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(existsSync(join(root, 'dist')), 'postpack removes dist from the checkout').toBe(false);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz')) as string;
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
    execFileSync('npm', ['install', join(dir, tarball), '--no-audit', '--no-fund', '--silent', '--engine-strict=false'], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pkg = join(app, 'node_modules', 'anchorage');
    expect(existsSync(join(pkg, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
    const r = spawnSync(node, [join(app, 'node_modules', '.bin', 'anchorage'), 'demo', '--dir', app], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Certificate CN=kubernetes');
  }, 180_000);
});
