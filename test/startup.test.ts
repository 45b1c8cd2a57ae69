// Lazy start-up (src/cli/main.ts imports only the command being run) must not lose a command: every
// module in src/cli/commands is in its table, help lists every command, --version needs none.
// `inspect` of paths alone runs without commander and prints what it printed through commander, and a PEM
// certificate loads none of the container readers (issue #12; the timings are in docs/benchmarks.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, modulesFor, plainInspect } from '../src/cli/main.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';

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

  it('a command split over modules: each lists exactly the subcommands it registers; `pki init` loads pki.ts alone', async () => {
    const split = [...new Set(COMMANDS.map((c) => c.name))].filter((n) => COMMANDS.filter((c) => c.name === n).length > 1);
    expect(split).toEqual(['pki']);
    for (const name of split) {
      const program = new Command();
      const seen: string[] = [];
      for (const c of COMMANDS.filter((x) => x.name === name)) {
        (await c.load()).register(program);
        const parent = program.commands.find((x) => x.name() === name) as Command;
        const added = parent.commands.map((x) => x.name()).filter((n) => !seen.includes(n));
        expect(added.sort()).toEqual([...(c.subcommands ?? [])].sort());
        seen.push(...added);
      }
    }
    const pki = COMMANDS.filter((c) => c.name === 'pki');
    expect(modulesFor(['pki', 'init', '--config', 'x'])).toEqual([pki[0]]);
    expect(modulesFor(['pki', 'adopt', 'dir'])).toEqual([pki[0], pki[1]]);
    expect(modulesFor(['pki', 'root-key', 'export'])).toEqual([pki[0], pki[2]]);
    for (const argv of [['pki'], ['pki', '--help'], ['pki', 'help', 'init'], ['pki', 'adpot']]) expect(modulesFor(argv)).toEqual(pki);
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

describe('inspect without commander', () => {
  let dir = '';
  let pem = '';
  const bin = join(root, 'bin', 'anchorage.js');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'startup12-'));
    const kp = generateKey('ecdsa-p256');
    const cert = issueCertificate({
      profile: { subject: 'CN=kube-apiserver', sans: { dns: ['kubernetes'], ip: ['10.96.0.1'] }, validity: { days: 30 } },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    pem = join(dir, 'apiserver.crt');
    writeFileSync(pem, cert.toPem());
    // A hook that lists every module the process loads, on stderr at exit.
    writeFileSync(
      join(dir, 'hook.mjs'),
      [
        "import { registerHooks } from 'node:module';",
        'const seen = [];',
        'registerHooks({ load(url, c, next) { seen.push(url); return next(url, c); } });',
        // Node's own modules (process.moduleLoadList), listed before stderr's stream is made.
        "process.on('exit', () => { const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));",
        "  process.stderr.write('LOADED ' + JSON.stringify({ seen, builtins }) + '\\n'); });",
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes paths and at most one -o; anything else goes through commander', () => {
    expect(plainInspect(['inspect', 'a.pem', '-'])).toEqual({ paths: ['a.pem', '-'], output: 'table' });
    expect(plainInspect(['inspect', '-o', 'json', 'a'])).toEqual({ paths: ['a'], output: 'json' });
    expect(plainInspect(['inspect', 'a', '--output', 'yaml'])).toEqual({ paths: ['a'], output: 'yaml' });
    expect(plainInspect(['inspect', '--output=ndjson', 'a'])).toEqual({ paths: ['a'], output: 'ndjson' });
    for (const argv of [
      ['inspect'],
      ['inspect', '-o', 'json'],
      ['inspect', 'a', '--password', 'x'],
      ['inspect', 'a', '-o', 'json', '-o', 'yaml'],
      ['inspect', 'a', '-o'],
      ['inspect', 'a', '-o', '-x'],
      ['inspect', '-ojson', 'a'],
      ['inspect', '--', 'a'],
      ['inspect', '--help'],
      ['inspect', 'a', '-h'],
      ['lint', 'a'],
      ['--version'],
    ])
      expect(plainInspect(argv)).toBeUndefined();
  });

  it("prints byte for byte what commander's path prints, errors and exit codes included", () => {
    const run = (...args: string[]) => {
      const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
      // The two runs are seconds apart: the clock's fields are the only ones that may differ.
      const stdout = r.stdout.replace(/(generatedAt"?: ?)"?[^",\n]+"?/g, '$1T').replace(/(secondsRemaining"?: ?)\d+/g, '$1N');
      return { status: r.status, stderr: r.stderr, stdout };
    };
    const missing = join(dir, 'missing.pem');
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, '');
    // `--` is not a plain command line: the same arguments after it go through commander.
    const pairs: [string[], string[]][] = [
      [[pem], ['--', pem]],
      [
        [pem, '-o', 'json'],
        ['-o', 'json', '--', pem],
      ],
      [
        ['--output=yaml', pem],
        ['--output', 'yaml', '--', pem],
      ],
      [
        [pem, '-o', 'ndjson'],
        ['-o', 'ndjson', '--', pem],
      ],
      [
        [pem, missing],
        ['--', pem, missing],
      ],
      [[empty], ['--', empty]],
      [
        [pem, '-o', 'xml'],
        ['-o', 'xml', '--', pem],
      ],
      [[dir], ['--', dir]],
    ];
    for (const [plain, viaCommander] of pairs) {
      expect(plainInspect(['inspect', ...plain])).toBeDefined();
      const a = run('inspect', ...plain);
      expect(a.stdout.length + a.stderr.length).toBeGreaterThan(0);
      expect(a).toEqual(run('inspect', ...viaCommander));
    }
  });

  it('a PEM certificate loads neither commander nor the container, CSR, CRL and kubeconfig readers', () => {
    const r = spawnSync(node, ['--import', join(dir, 'hook.mjs'), bin, 'inspect', pem], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Certificate CN=kube-apiserver');
    const { seen: loaded, builtins } = JSON.parse(/LOADED (.*)/.exec(r.stderr)?.[1] ?? '{}') as { seen: string[]; builtins: string[] };
    expect(loaded.some((u) => u.endsWith('/src/x509/certificate.ts') || u.endsWith('/dist/cli/main.js'))).toBe(true);
    const unwanted = loaded.filter((u) =>
      /\/node_modules\/commander\/|\/x509\/(pkcs12|jks|pkcs7|crl|csr|build)\.[jt]s$|\/k8s\/kubeconfig\.[jt]s$|\/node_modules\/yaml\//.test(
        u,
      ),
    );
    expect(unwanted).toEqual([]);
    // Built-ins come from process.getBuiltinModule: an ESM import of one builds a facade (node:fs's loads its streams).
    expect(loaded.filter((u) => u.startsWith('node:'))).toEqual([]);
    // Nor those the command does not use on this input (what the facades, commander, stdout's stream,
    // the prompt and the heap settings for a walk loaded before).
    expect(builtins).toContain('crypto');
    const notNeeded = ['child_process', 'net', 'tty', 'v8', 'internal/fs/streams', 'internal/fs/promises', 'internal/crypto/webcrypto'];
    expect(builtins.filter((m) => notNeeded.includes(m))).toEqual([]);
  });
});
