// Lazy start-up (src/cli/main.ts imports only the command being run) must not lose a command: every
// module in src/cli/commands is in its table, help lists every command, --version needs none.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const cli = (...args: string[]) => spawnSync(node, [main, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('lazy command loading', () => {
  it('main.ts loads every command module on demand', () => {
    const text = readFileSync(main, 'utf8');
    const lazy = [...text.matchAll(/import\('\.\/commands\/([^']+)'\)/g)].map((m) => m[1]).sort();
    const files = readdirSync(join(root, 'src', 'cli', 'commands'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .sort();
    expect(lazy).toEqual(files);
    expect(text).not.toMatch(/^import .* from '\.\/commands\//m);
  });

  it('help lists every command; --version prints the version; each command runs on its own', () => {
    const help = cli('--help');
    expect(help.status).toBe(0);
    for (const c of ['inspect', 'cert', 'verify', 'lint', 'pki', 'ca', 'nodes', 'bundle', 'controller', 'webhook', 'demo'])
      expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    const v = cli('--version');
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect([v.status, v.stdout]).toEqual([0, `${version}\n`]);
    const pkiHelp = cli('pki', '--help');
    expect(pkiHelp.status).toBe(0);
    expect(pkiHelp.stdout).toMatch(/^ {2}adopt\b/m);
    expect(pkiHelp.stdout).toMatch(/^ {2}init\b/m);
    const nodesHelp = cli('nodes', '--help');
    expect(nodesHelp.status).toBe(0);
    for (const c of ['plan', 'push', 'rollback', 'status', 'pull', 'history', 'verify'])
      expect(nodesHelp.stdout).toMatch(new RegExp(`^ {2}${c}\\b`, 'm'));
    const unknown = cli('inspekt', 'x');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'inspekt'.*\n.*inspect/s);
  });
});
