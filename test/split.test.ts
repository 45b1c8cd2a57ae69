// `cert split` and password sources, with openssl, kubectl and a real terminal (script(1)) as the peers.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const d = tempDir('split-');
const osl = (...a: string[]) => execFileSync('openssl', a, { cwd: d, stdio: 'pipe' }).toString();
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};

let kubectl = '';
beforeAll(async () => {
  kubectl = join(await kubeBinDir(), 'kubectl');
  opensslCa(d, 'root', '/CN=Root');
  opensslIssue(d, 'root', 'int', '/CN=Int', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  opensslIssue(d, 'int', 'web', '/CN=web', 'subjectAltName=DNS:web.shop.svc\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(d, 'chain.pem'), readFileSync(join(d, 'int.crt'), 'utf8') + readFileSync(join(d, 'root.crt'), 'utf8'));
  osl('pkcs12', '-export', '-inkey', 'web.key', '-in', 'web.crt', '-certfile', 'chain.pem', '-out', 'web.p12', '-passout', 'pass:hunter2');
  osl('pkcs12', '-export', '-inkey', 'web.key', '-in', 'web.crt', '-certfile', 'int.crt', '-out', 'noroot.p12', '-passout', 'pass:hunter2');
}, K8S_BUILD_TIMEOUT_MS);

describe('cert split', () => {
  it('PKCS#12 (password from env:) into tls.crt = leaf + intermediate, tls.key 0600, ca.crt = root', () => {
    const out = join(d, 'out1');
    const r = run(['cert', 'split', join(d, 'web.p12'), '--in-password', 'env:P12PW', '--out-dir', out], { P12PW: 'hunter2' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
    // openssl: the leaf chains to ca.crt through the intermediate in tls.crt, and the key is the leaf's.
    osl('verify', '-CAfile', join(out, 'ca.crt'), '-untrusted', join(out, 'tls.crt'), join(out, 'tls.crt'));
    expect(osl('x509', '-in', join(out, 'ca.crt'), '-noout', '-subject')).toMatch(/CN ?= ?Root/);
    expect(osl('pkey', '-in', join(out, 'tls.key'), '-pubout')).toBe(osl('x509', '-in', join(out, 'tls.crt'), '-noout', '-pubkey'));
    expect(readFileSync(join(out, 'tls.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('a Secret manifest identical to `kubectl create secret tls` over the same pair', async () => {
    const out = join(d, 'out2');
    const r = run(
      [
        'cert',
        'split',
        join(d, 'noroot.p12'),
        '--in-password',
        `file:${join(d, 'pw')}`,
        '--out-dir',
        out,
        '--secret',
        'web-tls',
        '-n',
        'shop',
      ],
      {},
    );
    expect(r.err).toMatch(/pw: no such file|--in-password/);
    writeFileSync(join(d, 'pw'), 'hunter2\n');
    const ok = run([
      'cert',
      'split',
      join(d, 'noroot.p12'),
      '--in-password',
      `file:${join(d, 'pw')}`,
      '--out-dir',
      out,
      '--secret',
      'web-tls',
      '-n',
      'shop',
    ]);
    expect(ok.code).toBe(0);
    const theirs = execFileSync(
      kubectl,
      [
        'create',
        'secret',
        'tls',
        'web-tls',
        '-n',
        'shop',
        '--cert',
        join(out, 'tls.crt'),
        '--key',
        join(out, 'tls.key'),
        '--dry-run=client',
        '-o',
        'yaml',
      ],
      { encoding: 'utf8' },
    );
    expect(readFileSync(join(out, 'web-tls.secret.yaml'), 'utf8')).toBe(theirs);
    expect(statSync(join(out, 'web-tls.secret.yaml')).mode & 0o777).toBe(0o600);
  });

  it('refuses what it cannot do, in one line', () => {
    expect(run(['cert', 'split', join(d, 'web.crt'), '--out-dir', join(d, 'o3')]).err).toMatch(
      /exactly one private key in the inputs \(found 0\)/,
    );
    expect(run(['cert', 'split', join(d, 'web.p12'), '--in-password', 'hunter2']).err).toMatch(/give --out-dir, --secret, or both/);
    const bad = run(['cert', 'split', join(d, 'web.p12'), '--in-password', 'env:NOT_SET_ANYWHERE', '--out-dir', join(d, 'o4')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('error: --in-password: environment variable NOT_SET_ANYWHERE is not set\n');
  });

  it('--in-password prompt asks on the terminal without echo (a real pty via script(1))', async () => {
    const out = join(d, 'out5');
    const cmd = `${process.execPath} ${CLI} cert split ${join(d, 'web.p12')} --in-password prompt --out-dir ${out}`;
    // Type the password only once the prompt is on the screen, as a person would (no echo is turned off before that).
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let typed = false;
    child.stdout.on('data', (b: Buffer) => {
      screen += b.toString();
      if (!typed && screen.includes('--in-password: ')) {
        typed = true;
        child.stdin.write('hunter2\n');
      }
    });
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (c) => {
        clearTimeout(t);
        res(c);
      });
    });
    expect(code).toBe(0);
    expect(screen).toContain('--in-password: ');
    expect(screen).not.toContain('hunter2');
    expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
  });
});
