// Issue 10, "Protect the CAs at rest": CA keys encrypted in DIR/store (PKCS#8, PBES2), the offline root's key
// out of the store, node trees that only ever hold keys their components can use, and the encryption-at-rest
// key only when encryption at rest is on. openssl is the oracle for every key and chain.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'keys-at-rest-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PASS = 'correct horse battery staple';
const env = { ...process.env, KEYS_PASS: PASS, KEYS_WRONG: 'not the passphrase' };

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[]): string {
  const r = cli(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const openssl = (...args: string[]): string => execFileSync('openssl', args, { cwd: tmp, stdio: 'pipe' }).toString();
const opensslFails = (...args: string[]): boolean => spawnSync('openssl', args, { cwd: tmp, stdio: 'pipe' }).status !== 0;

/** Every file under `dir` with the SHA-256 of its bytes: "nothing changed" is this, unchanged. */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** Refused: exactly this one line on stderr, exit 2, and not a byte of the folder changed. */
function refusedUnchanged(dir: string, args: string[], line: string): void {
  const before = hashes(dir);
  const r = cli(args);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: `error: ${line}\n` });
  expect(hashes(dir)).toEqual(before);
}

const config = (name: string, extra = ''): { config: string; out: string } => {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const path = join(dir, 'cluster.yaml');
  writeFileSync(
    path,
    [
      'apiVersion: anchorage.dev/v1alpha1',
      'kind: ClusterPKI',
      'controlPlaneEndpoint: cp.example.com',
      'keyAlgorithm: ecdsa-p256',
      'controlPlane: [{name: cp-1, ips: [10.0.0.1]}]',
      'workers: [{name: w-1, ips: [10.0.1.1]}]',
      extra,
    ].join('\n'),
  );
  return { config: path, out: join(dir, 'pki') };
};

const store = (out: string, f: string): string => join(out, 'store', f);
const text = (p: string): string => readFileSync(p, 'utf8');
/** The public key of a certificate, by openssl. */
const certPub = (crt: string): string => openssl('x509', '-in', crt, '-pubkey', '-noout');
/** The public key of a private key file, by openssl (with the passphrase when given). */
const keyPub = (key: string, pass?: string): string =>
  openssl('pkey', '-in', key, '-pubout', ...(pass !== undefined ? ['-passin', `pass:${pass}`] : ['-passin', 'pass:']));

interface ManifestFile {
  node: string;
  path: string;
  kind: string;
}

/** No file of any node tree holds an encrypted key or the root's key; every private key in them opens without a passphrase. */
function checkNodeTrees(out: string, rootPub: string): number {
  const manifest = JSON.parse(text(join(out, 'manifest.json'))) as { files: ManifestFile[] };
  let keys = 0;
  for (const f of manifest.files) {
    const p = join(out, 'nodes', f.node, f.path);
    const body = text(p);
    const embedded =
      f.kind === 'kubeconfig'
        ? ((parse(body) as { users: { user: Record<string, string> }[] }).users ?? []).map((u) =>
            Buffer.from(u.user['client-key-data'] ?? '', 'base64').toString('utf8'),
          )
        : [];
    for (const b of [body, ...embedded]) {
      expect(b, `${f.node}:${f.path}`).not.toMatch(/ENCRYPTED/);
      if (!/PRIVATE KEY-----/.test(b)) continue;
      const file = join(tmp, 'node-key.pem');
      writeFileSync(file, b, { mode: 0o600 });
      // openssl reads it with an empty passphrase: it is not encrypted.
      expect(keyPub(file), `${f.node}:${f.path}`).not.toBe(rootPub);
      keys++;
    }
  }
  return keys;
}

describe('CA keys encrypted at rest, root key out of the store', () => {
  const c = config('enc', 'rootCA: {enabled: true, commonName: Keys Root CA}');
  const CAS = ['root-ca', 'ca', 'front-proxy-ca', 'etcd-ca'];
  let rootPub: string;
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out, '--encrypt-ca-keys', '--ca-passphrase', 'env:KEYS_PASS']);
    rootPub = certPub(store(c.out, 'root-ca.crt'));
  });

  it('every CA key is PBES2 PKCS#8 (PBKDF2-HMAC-SHA256, AES-256-CBC) that openssl decrypts to the key of its certificate', () => {
    for (const id of CAS) {
      const key = store(c.out, `${id}.key`);
      expect(text(key)).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      const asn1 = openssl('asn1parse', '-in', key);
      for (const alg of ['PBES2', 'PBKDF2', 'hmacWithSHA256', 'aes-256-cbc']) expect(asn1).toContain(`:${alg}`);
      expect(keyPub(key, PASS)).toBe(certPub(store(c.out, `${id}.crt`)));
      expect(opensslFails('pkey', '-in', key, '-passin', 'pass:wrong', '-noout')).toBe(true);
    }
    // Leaf keys go to the nodes as they are: plain.
    expect(text(store(c.out, 'apiserver@cp-1.key'))).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('node trees hold the CA keys a control plane needs decrypted, and no encrypted key and no root key anywhere', () => {
    expect(checkNodeTrees(c.out, rootPub)).toBeGreaterThan(10);
    const caKey = join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki/ca.key');
    expect(keyPub(caKey)).toBe(certPub(store(c.out, 'ca.crt')));
  });

  it('commands that need no CA key work without the passphrase; the ones that do refuse with one line, changing nothing', () => {
    expect(ok(['pki', 'check-expiration', '--dir', c.out])).toMatch(/^CERTIFICATE\s+EXPIRES/);
    expect(ok(['pki', 'plan', '--config', c.config])).toMatch(/root-ca/);
    expect(ok(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--status'])).toBe(
      'no rotation of ca in progress\nnext: new-ca: generate a new CA key and certificate beside the old one; nothing on the nodes changes\n',
    );
    refusedUnchanged(
      c.out,
      ['pki', 'renew', 'apiserver', '--dir', c.out],
      `${store(c.out, 'ca.key')}: the key of CA 'ca' is encrypted; it is needed to sign apiserver@cp-1: give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)`,
    );
    refusedUnchanged(
      c.out,
      ['pki', 'renew', 'apiserver', '--dir', c.out, '--ca-passphrase', 'env:KEYS_WRONG'],
      `${store(c.out, 'ca.key')}: wrong CA key passphrase (--ca-passphrase), or the file is damaged`,
    );
    refusedUnchanged(
      c.out,
      ['pki', 'renew', 'apiserver', '--dir', c.out, '--ca-passphrase', 'env:KEYS_UNSET'],
      'CA key passphrase: environment variable KEYS_UNSET is not set',
    );
    // Rewriting the node trees needs the control plane's CA keys decrypted, even when nothing is signed.
    refusedUnchanged(
      c.out,
      ['pki', 'init', '--config', c.config, '--out', c.out],
      `${store(c.out, 'ca.key')}: the key of CA 'ca' is encrypted; it is needed to write /etc/kubernetes/pki/ca.key on cp-1: give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)`,
    );
  });

  it('renew with the passphrase (from a file): new leaves chain to the CA; the encrypted CA keys are left byte for byte', () => {
    const before = Object.fromEntries(CAS.map((id) => [id, text(store(c.out, `${id}.key`))]));
    const oldServing = text(store(c.out, 'apiserver@cp-1.crt'));
    writeFileSync(join(tmp, 'pass.txt'), `${PASS}\n`, { mode: 0o600 });
    ok(['pki', 'renew', 'all', '--dir', c.out, '--ca-passphrase', `file:${join(tmp, 'pass.txt')}`]);
    expect(text(store(c.out, 'apiserver@cp-1.crt'))).not.toBe(oldServing);
    const pki = join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki');
    const verified = openssl(
      'verify',
      '-CAfile',
      store(c.out, 'root-ca.crt'),
      '-untrusted',
      join(pki, 'ca.crt'),
      join(pki, 'apiserver.crt'),
    );
    expect(verified).toMatch(/: OK\n$/);
    expect(Object.fromEntries(CAS.map((id) => [id, text(store(c.out, `${id}.key`))]))).toEqual(before);
    checkNodeTrees(c.out, rootPub);
  });

  it('adding a node needs the CA key that signs its certificates: refused without it, issued with it', () => {
    const before = text(c.config);
    writeFileSync(
      c.config,
      before.replace('workers: [{name: w-1, ips: [10.0.1.1]}]', 'workers: [{name: w-1, ips: [10.0.1.1]}, {name: w-2, ips: [10.0.1.2]}]'),
    );
    refusedUnchanged(
      c.out,
      ['pki', 'init', '--config', c.config, '--out', c.out],
      `${store(c.out, 'ca.key')}: the key of CA 'ca' is encrypted; it is needed to sign kubelet.conf@w-2: give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)`,
    );
    ok(['pki', 'init', '--config', c.config, '--out', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    const w2 = join(c.out, 'nodes', 'w-2');
    const verified = openssl(
      'verify',
      '-CAfile',
      store(c.out, 'root-ca.crt'),
      '-untrusted',
      join(w2, 'etc/kubernetes/pki/ca.crt'),
      join(w2, 'var/lib/kubelet/pki/kubelet.crt'),
    );
    expect(verified).toMatch(/: OK\n$/);
    checkNodeTrees(c.out, rootPub);
  });

  it('root key exported, removed (only once the copy is proved), then brought back with --root-key for rotate-ca new-ca only', () => {
    const backup = join(tmp, 'offline-root.key');
    ok(['pki', 'root-key', 'export', '--dir', c.out, '--out', backup]);
    expect(readFileSync(backup)).toEqual(readFileSync(store(c.out, 'root-ca.key')));
    expect(keyPub(backup, PASS)).toBe(rootPub);
    // A copy that is not the root key removes nothing.
    refusedUnchanged(
      c.out,
      ['pki', 'root-key', 'remove', '--dir', c.out, '--backup', store(c.out, 'ca.key'), '--ca-passphrase', 'env:KEYS_PASS'],
      `--backup ${store(c.out, 'ca.key')}: not the root key (root-ca); nothing removed`,
    );
    ok(['pki', 'root-key', 'remove', '--dir', c.out, '--backup', backup]);
    expect(existsSync(store(c.out, 'root-ca.key'))).toBe(false);

    // Renewing leaves never needs the root.
    ok(['pki', 'renew', 'admin.conf', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    refusedUnchanged(
      c.out,
      ['pki', 'rotate-ca', 'ca', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS'],
      "the offline root key 'root-ca' is not in the store (moved out with 'pki root-key remove'); it is needed to sign the new ca~next: bring it for this run with --root-key FILE",
    );
    refusedUnchanged(
      c.out,
      ['pki', 'init', '--config', c.config, '--out', c.out, '--force', '--ca-passphrase', 'env:KEYS_PASS'],
      "the offline root key 'root-ca' is not in the store (moved out with 'pki root-key remove'); it is needed to re-issue it (forced): bring it for this run with --root-key FILE",
    );
    ok(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS', '--root-key', backup]);
    expect(existsSync(store(c.out, 'root-ca.key'))).toBe(false);
    // The new intermediate: its key encrypted like the others, its certificate signed by the offline root.
    expect(keyPub(store(c.out, 'ca~next.key'), PASS)).toBe(certPub(store(c.out, 'ca~next.crt')));
    expect(text(store(c.out, 'ca~next.key'))).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(openssl('verify', '-CAfile', store(c.out, 'root-ca.crt'), store(c.out, 'ca~next.crt'))).toMatch(/: OK\n$/);

    // The other phases need the CA keys (to re-issue, and for the control plane's ca.key), not the root.
    for (let i = 0; i < 3; i++) ok(['pki', 'rotate-ca', 'ca', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    expect(existsSync(join(c.out, 'rotation.json'))).toBe(false);
    const pki = join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki');
    const chain = join(tmp, 'chain.pem');
    writeFileSync(chain, text(join(pki, 'ca.crt')) + text(store(c.out, 'root-ca.crt')));
    expect(openssl('verify', '-CAfile', chain, join(pki, 'apiserver.crt'))).toMatch(/: OK\n$/);
    expect(keyPub(join(pki, 'ca.key'))).toBe(certPub(store(c.out, 'ca.crt')));
    expect(readdirSync(join(c.out, 'store')).filter((f) => f.startsWith('root-ca'))).toEqual(['root-ca.crt']);
    checkNodeTrees(c.out, rootPub);

    // Back into the store, still encrypted.
    ok(['pki', 'root-key', 'restore', '--dir', c.out, '--from', backup, '--ca-passphrase', 'env:KEYS_PASS']);
    expect(keyPub(store(c.out, 'root-ca.key'), PASS)).toBe(rootPub);
  });
});

describe('keys openssl encrypted, and converting a store', () => {
  const c = config('convert');
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
  });

  it('a store whose CA keys openssl encrypted (PBKDF2 and scrypt) renews with the passphrase and keeps them as openssl wrote them', () => {
    const pubs = Object.fromEntries(['ca', 'front-proxy-ca'].map((id) => [id, certPub(store(c.out, `${id}.crt`))]));
    /** openssl encrypts the store key in place (through a temp file: openssl truncates an output that is its input). */
    const encrypt = (id: string, ...how: string[]): void => {
      openssl('pkcs8', '-topk8', ...how, '-in', store(c.out, `${id}.key`), '-out', join(tmp, 'enc.key'), '-passout', `pass:${PASS}`);
      renameSync(join(tmp, 'enc.key'), store(c.out, `${id}.key`));
    };
    encrypt('ca', '-v2', 'aes-256-cbc');
    encrypt('front-proxy-ca', '-scrypt');
    const written = text(store(c.out, 'ca.key'));
    const scrypt = text(store(c.out, 'front-proxy-ca.key'));
    refusedUnchanged(
      c.out,
      ['pki', 'renew', 'front-proxy-client', '--dir', c.out],
      `${store(c.out, 'front-proxy-ca.key')}: the key of CA 'front-proxy-ca' is encrypted; it is needed to sign front-proxy-client@cp-1: give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)`,
    );
    ok(['pki', 'renew', 'all', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    expect(text(store(c.out, 'ca.key'))).toBe(written);
    expect(text(store(c.out, 'front-proxy-ca.key'))).toBe(scrypt);
    const pki = join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki');
    expect(openssl('verify', '-CAfile', join(pki, 'front-proxy-ca.crt'), join(pki, 'front-proxy-client.crt'))).toMatch(/: OK\n$/);
    expect(keyPub(join(pki, 'front-proxy-ca.key'))).toBe(pubs['front-proxy-ca']);
    // One CA key encrypted makes the store's CA keys encrypted: the plain etcd-ca key was encrypted on the way.
    expect(text(store(c.out, 'etcd-ca.key'))).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(keyPub(store(c.out, 'etcd-ca.key'), PASS)).toBe(certPub(store(c.out, 'etcd-ca.crt')));
  });

  it('ca-keys decrypt and encrypt convert the whole store (a wrong passphrase changes nothing); the converted store rotates', () => {
    refusedUnchanged(
      c.out,
      ['pki', 'ca-keys', 'decrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_WRONG'],
      `${store(c.out, 'ca.key')}: wrong CA key passphrase (--ca-passphrase), or the file is damaged`,
    );
    const pubs = Object.fromEntries(['ca', 'front-proxy-ca', 'etcd-ca'].map((id) => [id, certPub(store(c.out, `${id}.crt`))]));
    const nodes = hashes(join(c.out, 'nodes'));
    ok(['pki', 'ca-keys', 'decrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    for (const [id, pub] of Object.entries(pubs)) {
      expect(text(store(c.out, `${id}.key`))).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(keyPub(store(c.out, `${id}.key`))).toBe(pub);
    }
    ok(['pki', 'ca-keys', 'encrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    for (const [id, pub] of Object.entries(pubs)) {
      expect(text(store(c.out, `${id}.key`))).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect(keyPub(store(c.out, `${id}.key`), PASS)).toBe(pub);
    }
    expect(hashes(join(c.out, 'nodes'))).toEqual(nodes);
    // Already encrypted with another passphrase: refused before anything is written.
    refusedUnchanged(
      c.out,
      ['pki', 'ca-keys', 'encrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_WRONG'],
      `${store(c.out, 'ca.key')}: wrong CA key passphrase (--ca-passphrase), or the file is damaged`,
    );
    // The converted store rotates: refused without the passphrase, every phase with it.
    refusedUnchanged(
      c.out,
      ['pki', 'rotate-ca', 'front-proxy-ca', '--dir', c.out],
      `${store(c.out, 'ca.key')}: the key of CA 'ca' is encrypted; it is needed to write /etc/kubernetes/pki/ca.key on cp-1: give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)`,
    );
    const oldCa = text(store(c.out, 'front-proxy-ca.crt'));
    for (let i = 0; i < 4; i++) ok(['pki', 'rotate-ca', 'front-proxy-ca', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    expect(text(store(c.out, 'front-proxy-ca.crt'))).not.toBe(oldCa);
    expect(text(store(c.out, 'front-proxy-ca.key'))).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(keyPub(store(c.out, 'front-proxy-ca.key'), PASS)).toBe(certPub(store(c.out, 'front-proxy-ca.crt')));
    const pki = join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/pki');
    expect(openssl('verify', '-CAfile', store(c.out, 'front-proxy-ca.crt'), join(pki, 'front-proxy-client.crt'))).toMatch(/: OK\n$/);
    expect(keyPub(join(pki, 'front-proxy-ca.key'))).toBe(certPub(store(c.out, 'front-proxy-ca.crt')));
  });
});

describe('store/encryption-key only with encryption at rest', () => {
  it('is not written when encryptionAtRest is off; turning it on later writes it and the config', () => {
    const c = config('enc-key');
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    expect(readdirSync(join(c.out, 'store'))).not.toContain('encryption-key');
    writeFileSync(c.config, `${text(c.config)}encryptionAtRest: {enabled: true}\n`);
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    const key = text(store(c.out, 'encryption-key')).trim();
    const ec = parse(text(join(c.out, 'nodes', 'cp-1', 'etc/kubernetes/encryption-config.yaml'))) as {
      resources: { providers: { aescbc?: { keys: { secret: string }[] } }[] }[];
    };
    expect(ec.resources[0]?.providers[0]?.aescbc?.keys[0]?.secret).toBe(key);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
  });
});

/** Start the command and SIGKILL it after `ms`. */
function runKilled(args: string[], ms: number): Promise<void> {
  return new Promise((done) => {
    const child = spawn(node, [main, ...args], { cwd: tmp, stdio: 'ignore', env });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Run the command on a real pty (script(1)), typing each answer once its prompt is on the screen. */
async function onPty(args: string[], answers: string[]): Promise<{ code: number | null; screen: string }> {
  const cmd = [node, main, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: tmp, stdio: ['pipe', 'pipe', 'pipe'], env });
  let screen = '';
  let asked = 0;
  child.stdout.on('data', (b: Buffer) => {
    screen += b.toString();
    const prompts = screen.split('CA key passphrase').length - 1;
    while (asked < prompts && asked < answers.length) child.stdin.write(`${answers[asked++]}\n`);
  });
  const code = await new Promise<number | null>((res) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (c) => {
      clearTimeout(t);
      res(c);
    });
  });
  return { code, screen };
}

describe('pki ca-keys: crash-safe, and a passphrase typed at the prompt', () => {
  const c = config('crash');
  const IDS = ['ca', 'front-proxy-ca', 'etcd-ca'];
  let pubs: Record<string, string>;
  beforeAll(() => {
    ok(['pki', 'init', '--config', c.config, '--out', c.out]);
    pubs = Object.fromEntries(IDS.map((id) => [id, certPub(store(c.out, `${id}.crt`))]));
  });
  /** Every CA key in the store is its certificate's key, plain or encrypted with PASS; returns which. */
  const states = (): string[] =>
    IDS.map((id) => {
      const key = store(c.out, `${id}.key`);
      const encrypted = /ENCRYPTED/.test(text(key));
      expect(keyPub(key, encrypted ? PASS : undefined), id).toBe(pubs[id]);
      return encrypted ? 'encrypted' : 'plain';
    });

  it('SIGKILLed at moments spread over its run, ca-keys encrypt leaves every key usable, and the next run finishes it', async () => {
    const args = ['pki', 'ca-keys', 'encrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS'];
    const t0 = Date.now();
    ok(args);
    const ms = Date.now() - t0;
    ok(['pki', 'ca-keys', 'decrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
    for (const at of [0.4, 0.75, 0.95]) {
      await runKilled(args, Math.round(ms * at));
      states();
      ok(args);
      expect(states()).toEqual(['encrypted', 'encrypted', 'encrypted']);
      expect(readdirSync(c.out).filter((f) => f.startsWith('.'))).toEqual([]);
      ok(['pki', 'ca-keys', 'decrypt', '--dir', c.out, '--ca-passphrase', 'env:KEYS_PASS']);
      expect(states()).toEqual(['plain', 'plain', 'plain']);
    }
  });

  it('--ca-passphrase prompt: asked without echo, twice for a new passphrase; two that differ write nothing', async () => {
    const before = hashes(c.out);
    const differ = await onPty(['pki', 'ca-keys', 'encrypt', '--dir', c.out, '--ca-passphrase', 'prompt'], [PASS, `${PASS}!`]);
    expect(differ.code).toBe(2);
    expect(differ.screen).toContain('error: --ca-passphrase prompt: the two passphrases differ; nothing written');
    expect(hashes(c.out)).toEqual(before);
    const same = await onPty(['pki', 'ca-keys', 'encrypt', '--dir', c.out, '--ca-passphrase', 'prompt'], [PASS, PASS]);
    expect(same.code).toBe(0);
    expect(same.screen).toContain('CA key passphrase again: ');
    expect(same.screen).not.toContain(PASS);
    expect(states()).toEqual(['encrypted', 'encrypted', 'encrypted']);
  });
});
