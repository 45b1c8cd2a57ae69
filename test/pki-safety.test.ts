// Regressions of issue 9 for `anchorage pki` (state-changing half): damaged store files, stale node
// files, two runs on one folder, damaged manifest/rotation state, unusable --out folders, rollback.
// Each bad input is one line on stderr, exit 2, no stack trace, nothing changed.
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Many CLI runs per test: a loaded machine can be slow to start them.
vi.setConfig({ testTimeout: 300_000 });

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'anchorage-safety-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[]): string {
  const r = cli(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
/** One line on stderr, exit 2, no stack trace. */
function refused(args: string[], message: RegExp): void {
  const r = cli(args);
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
/** Every file under `dir` with its bytes: "nothing changed" is this, unchanged. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p.slice(dir.length)] = readFileSync(p, 'base64');
    }
  };
  walk(dir);
  return out;
}

const yaml = (workers: string[], cps = ['cp-1', 'cp-2']): string =>
  [
    'apiVersion: anchorage.dev/v1alpha1',
    'kind: ClusterPKI',
    'controlPlaneEndpoint: cp.example.com',
    'keyAlgorithm: ecdsa-p256',
    `controlPlane: [${cps.map((n, i) => `{name: ${n}, ips: [10.0.0.${i + 1}]}`).join(', ')}]`,
    `workers: [${workers.map((n, i) => `{name: ${n}, ips: [10.0.1.${i + 1}]}`).join(', ')}]`,
    '',
  ].join('\n');

let n = 0;
function fresh(text = yaml(['w-1'])): { config: string; out: string } {
  const dir = join(tmp, `c${n++}`);
  mkdirSync(dir);
  const config = join(dir, 'cluster.yaml');
  writeFileSync(config, text);
  const out = join(dir, 'pki');
  ok(['pki', 'init', '--config', config, '--out', out]);
  return { config, out };
}
const storeCert = (out: string, id: string): X509Certificate => new X509Certificate(readFileSync(join(out, 'store', `${id}.crt`)));

describe('item 3: node trees are reconciled to exactly the plan', () => {
  it('a control-plane node moved to workers loses every control-plane file, and the output lists them as removed', () => {
    const c = fresh();
    writeFileSync(c.config, yaml(['cp-2', 'w-1'], ['cp-1']));
    const stdout = ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    const gone = [
      '/etc/kubernetes/pki/ca.key',
      '/etc/kubernetes/pki/front-proxy-ca.key',
      '/etc/kubernetes/pki/etcd/ca.key',
      '/etc/kubernetes/pki/sa.key',
      '/etc/kubernetes/admin.conf',
    ];
    for (const p of gone) {
      expect(existsSync(join(c.out, 'nodes', 'cp-2', p))).toBe(false);
      expect(stdout).toContain(p);
    }
    expect(stdout).toMatch(/removed \d+ file\(s\) no longer in the plan from 1 node\(s\); delete them there too:\n {2}cp-2: /);
    // What remains on cp-2 is exactly a worker's files.
    const left = Object.keys(contents(join(c.out, 'nodes', 'cp-2'))).sort();
    const worker = Object.keys(contents(join(c.out, 'nodes', 'w-1'))).sort();
    expect(left).toEqual(worker);
  });

  it('a node that leaves the cluster loses its whole tree; stray and temp files in a tree are removed', () => {
    const c = fresh(yaml(['w-1', 'w-2']));
    writeFileSync(join(c.out, 'nodes', 'w-1', 'etc', 'kubernetes', 'stray.conf'), 'x');
    writeFileSync(join(c.out, 'nodes', 'w-1', 'etc', 'kubernetes', 'kubelet.conf.4242.tmp'), '');
    writeFileSync(c.config, yaml(['w-1']));
    const stdout = ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    expect(existsSync(join(c.out, 'nodes', 'w-2'))).toBe(false);
    expect(existsSync(join(c.out, 'nodes', 'w-1', 'etc', 'kubernetes', 'stray.conf'))).toBe(false);
    expect(existsSync(join(c.out, 'nodes', 'w-1', 'etc', 'kubernetes', 'kubelet.conf.4242.tmp'))).toBe(false);
    expect(stdout).toContain('w-2: ');
    expect(stdout).toContain('/etc/kubernetes/stray.conf');
    expect(stdout).not.toContain('4242.tmp');
  });
});

describe('item 2: damaged store files', () => {
  it('an empty or garbage CA key anything depends on: one line naming the file, for init, renew, rotate-ca and check-expiration', () => {
    const c = fresh();
    for (const bad of ['', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n']) {
      writeFileSync(join(c.out, 'store', 'ca.key'), bad);
      const before = contents(c.out);
      const file = join(c.out, 'store', 'ca.key').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      refused(['pki', 'init', '--config', c.config, '--out', c.out], new RegExp(`${file}: .*depend on it: restore it from a backup`));
      refused(['pki', 'renew', 'all', '--dir', c.out], new RegExp(file));
      refused(['pki', 'rotate-ca', 'ca', '--dir', c.out], new RegExp(file));
      refused(['pki', 'check-expiration', '--dir', c.out], new RegExp(file));
      expect(contents(c.out)).toEqual(before);
    }
  });

  it('an empty store certificate of a CA: one line naming it', () => {
    const c = fresh();
    writeFileSync(join(c.out, 'store', 'etcd-ca.crt'), '');
    refused(
      ['pki', 'init', '--config', c.config, '--out', c.out],
      /store\/etcd-ca\.crt: empty; \d+ certificate\(s\) in the store depend on it/,
    );
    refused(['pki', 'check-expiration', '--dir', c.out], /store\/etcd-ca\.crt: empty/);
  });

  it('empty or garbage leaf files are re-issued by the rerun, which pairs and chains (OpenSSL)', () => {
    const c = fresh();
    writeFileSync(join(c.out, 'store', 'apiserver@cp-1.key'), '');
    writeFileSync(join(c.out, 'store', 'front-proxy-client@cp-1.crt'), 'garbage');
    const stdout = ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    expect(stdout).toMatch(/re-issued apiserver@cp-1: private key missing/);
    const pki = join(c.out, 'nodes', 'cp-1', 'etc', 'kubernetes', 'pki');
    for (const [leaf, ca] of [
      ['apiserver', 'ca'],
      ['front-proxy-client', 'front-proxy-ca'],
    ] as const) {
      const cert = new X509Certificate(readFileSync(join(pki, `${leaf}.crt`)));
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(pki, `${leaf}.key`))))).toBe(true);
      const r = spawnSync('openssl', ['verify', '-CAfile', join(c.out, 'store', `${ca}.crt`), join(pki, `${leaf}.crt`)], {
        encoding: 'utf8',
      });
      expect(r.stdout.trim()).toBe(`${join(pki, `${leaf}.crt`)}: OK`);
    }
  });

  it('a first init killed by an older version (empty files, no manifest yet): the rerun regenerates them', () => {
    const c = fresh();
    rmSync(join(c.out, 'manifest.json'));
    rmSync(join(c.out, 'nodes'), { recursive: true });
    for (const f of readdirSync(join(c.out, 'store'))) if (!f.startsWith('ca.') && !f.startsWith('root')) rmSync(join(c.out, 'store', f));
    writeFileSync(join(c.out, 'store', 'ca.key'), '');
    writeFileSync(join(c.out, 'store', 'sa.key'), '');
    writeFileSync(join(c.out, 'store', 'ca.crt.1234.tmp'), '');
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    expect(storeCert(c.out, 'ca').checkPrivateKey(createPrivateKey(readFileSync(join(c.out, 'store', 'ca.key'))))).toBe(true);
    expect(readFileSync(join(c.out, 'store', 'sa.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(existsSync(join(c.out, 'store', 'ca.crt.1234.tmp'))).toBe(false);
  });

  it('a garbage sa.key or encryption-key after node trees were made: one line naming it', () => {
    // The encryption-at-rest key exists (and matters) only with encryptionAtRest on.
    const c = fresh(`${yaml(['w-1'])}encryptionAtRest: {enabled: true}\n`);
    writeFileSync(join(c.out, 'store', 'encryption-key'), 'not base64!\n');
    refused(
      ['pki', 'init', '--config', c.config, '--out', c.out],
      /store\/encryption-key: not a base64 32-byte key; node trees were already made from it/,
    );
  });
});

describe('item 7: damaged state files and unusable output folders', () => {
  it('a corrupt manifest.json is derived data: init and renew rewrite it; rotate-ca --status works', () => {
    const c = fresh();
    writeFileSync(join(c.out, 'manifest.json'), '{"files": [');
    expect(ok(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--status'])).toMatch(/^no rotation of ca in progress\n/);
    ok(['pki', 'renew', 'apiserver', '--dir', c.out]);
    expect(JSON.parse(readFileSync(join(c.out, 'manifest.json'), 'utf8')).schema).toBe('anchorage.pki-manifest/v1');
    writeFileSync(join(c.out, 'manifest.json'), '\0\0\0');
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    expect(JSON.parse(readFileSync(join(c.out, 'manifest.json'), 'utf8')).schema).toBe('anchorage.pki-manifest/v1');
  });

  it('a corrupt rotation.json: one line for init, renew, rotate-ca and --status; nothing changed', () => {
    const c = fresh();
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    for (const bad of [
      '{"ca": "ca", "phase": "bun',
      '{"ca":"ca","phase":"sideways","startedAt":"2026-01-01T00:00:00Z","history":[]}',
      '[]',
      '',
    ]) {
      writeFileSync(join(c.out, 'rotation.json'), bad);
      const before = contents(c.out);
      refused(['pki', 'init', '--config', c.config, '--out', c.out], /rotation\.json: not (valid JSON|an Anchorage rotation state)/);
      refused(['pki', 'renew', 'all', '--dir', c.out], /rotation\.json: /);
      refused(['pki', 'rotate-ca', 'ca', '--dir', c.out], /rotation\.json: /);
      refused(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--status'], /rotation\.json: /);
      expect(contents(c.out)).toEqual(before);
    }
  });

  it('--out an existing file, a folder under a file, /proc/x, an unwritable folder: one line, no hang', () => {
    const c = fresh();
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    refused(['pki', 'init', '--config', c.config, '--out', file], /--out .*a-file: not a directory/);
    refused(['pki', 'init', '--config', c.config, '--out', join(file, 'sub')], /--out .*a-file\/sub: not a directory/);
    refused(['pki', 'init', '--config', c.config, '--out', '/proc/x'], /--out \/proc\/x: cannot create it/);
    // /sys refuses new entries even to root; a 0555 folder refuses them to anyone else.
    refused(['pki', 'init', '--config', c.config, '--out', '/sys/kernel'], /\/sys\/kernel.*permission denied/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});

describe('item 5: one writer per folder', () => {
  it('a live lock holder is refused with one line; a dead one (a killed run) is taken over', () => {
    const c = fresh();
    const before = contents(c.out);
    writeFileSync(join(c.out, '.anchorage.lock'), `${process.pid}\n`);
    refused(
      ['pki', 'init', '--config', c.config, '--out', c.out],
      new RegExp(`is in use by another 'anchorage pki' command \\(pid ${process.pid}\\)`),
    );
    refused(['pki', 'renew', 'all', '--dir', c.out], /is in use/);
    refused(['pki', 'rotate-ca', 'ca', '--dir', c.out], /is in use/);
    rmSync(join(c.out, '.anchorage.lock'));
    expect(contents(c.out)).toEqual(before);
    // A pid that cannot be alive: the lock of a killed run.
    writeFileSync(join(c.out, '.anchorage.lock'), '2147483646\n');
    ok(['pki', 'renew', 'all', '--dir', c.out]);
    expect(existsSync(join(c.out, '.anchorage.lock'))).toBe(false);
  });

  it('two inits started together on one folder: each succeeds or is refused with one line, and the folder is whole', async () => {
    const c = fresh();
    rmSync(c.out, { recursive: true });
    const run = (): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const p = spawn(node, [main, 'pki', 'init', '--config', c.config, '--out', c.out], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr.on('data', (d) => {
          stderr += String(d);
        });
        p.on('exit', (code) => resolve({ code, stderr }));
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) {
      expect([0, 2]).toContain(r.code);
      if (r.code === 2)
        expect(r.stderr).toMatch(/^error: .* is in use by another 'anchorage pki' command \(pid \d+\); wait for it to finish\n$/);
    }
    expect(results.some((r) => r.code === 0)).toBe(true);
    // Whole: a rerun keeps everything and changes nothing.
    expect(ok(['pki', 'init', '--config', c.config, '--out', c.out])).toMatch(/0 issued, 0 re-issued, \d+ kept.*\nno node file changed\n/);
  });
});

describe('item 1: rotate-ca --rollback re-issues from the OLD CA; a finished phase is never skipped', () => {
  it('rollback from reissue: every ca-signed leaf verifies against the old CA with openssl, none against the new', () => {
    const c = fresh();
    const old = join(tmp, `old-ca-${n}.crt`);
    cpSync(join(c.out, 'store', 'ca.crt'), old);
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    const next = join(tmp, `new-ca-${n}.crt`);
    cpSync(join(c.out, 'store', 'ca~next.crt'), next);
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    expect(ok(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--rollback'])).toMatch(/re-issued \d+ certificate\(s\) from the old CA/);
    const leaves = ['cp-1', 'cp-2'].flatMap((node) =>
      ['apiserver', 'apiserver-kubelet-client'].map((l) => join(c.out, 'nodes', node, 'etc', 'kubernetes', 'pki', `${l}.crt`)),
    );
    leaves.push(join(c.out, 'nodes', 'w-1', 'var', 'lib', 'kubelet', 'pki', 'kubelet.crt'));
    const verify = (ca: string): string => spawnSync('openssl', ['verify', '-CAfile', ca, ...leaves], { encoding: 'utf8' }).stdout;
    expect(verify(old).trim().split('\n')).toEqual(leaves.map((l) => `${l}: OK`));
    expect(verify(next)).not.toMatch(/: OK$/m);
    expect(readFileSync(join(c.out, 'store', 'ca.crt'), 'utf8')).toBe(readFileSync(old, 'utf8'));
    expect(readFileSync(join(c.out, 'store', 'ca~next.crt'), 'utf8')).toBe(readFileSync(next, 'utf8'));
  });

  it('a store that contradicts rotation.json is refused with one line instead of recording the new CA as ~previous', () => {
    const c = fresh();
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out]);
    // What the old writer left when killed in phase 3: the new CA already current, the phase not recorded.
    cpSync(join(c.out, 'store', 'ca~next.crt'), join(c.out, 'store', 'ca.crt'));
    cpSync(join(c.out, 'store', 'ca~next.key'), join(c.out, 'store', 'ca.key'));
    const before = contents(c.out);
    refused(['pki', 'rotate-ca', 'ca', '--dir', c.out], /rotation of ca in phase bundle, but the new CA is the current one/);
    expect(contents(c.out)).toEqual(before);
    expect(existsSync(join(c.out, 'store', 'ca~previous.crt'))).toBe(false);
  });
});
