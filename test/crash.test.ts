// Crash test: SIGKILL `pki init`, `pki renew` and every `rotate-ca` phase (and a rollback) at seeded
// random moments on a 3 control-plane + 50 worker cluster, sometimes killing the rerun too, then rerun and
// check the directory with oracles that are not Anchorage: every node tree is exactly the manifest and
// the plan, every certificate pairs with its key (OpenSSL's X509_check_private_key through Node's
// X509Certificate), every leaf chains to the CA it must chain to in that phase (`openssl verify` against
// the CA certificate this test recorded itself), every bundle holds exactly the CAs of the phase, the old
// CA's key is never lost before the rotation is done, and no temp file, journal or lock is left.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { withPkiDir } from '../src/pki/journal.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const tmp = mkdtempSync(join(tmpdir(), 'anchorage-crash-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const WORKERS = 50;
const CONFIG = [
  'apiVersion: anchorage.dev/v1alpha1',
  'kind: ClusterPKI',
  'controlPlaneEndpoint: cp.example.com:6443',
  'keyAlgorithm: ecdsa-p256',
  'encryptionAtRest: {enabled: true}',
  `controlPlane: [${[1, 2, 3].map((i) => `{name: cp-${i}, ips: [10.0.0.${i}]}`).join(', ')}]`,
  `workers: [${Array.from({ length: WORKERS }, (_, i) => `{name: w-${i}, ips: [10.1.0.${i + 1}]}`).join(', ')}]`,
  '',
].join('\n');

/** mulberry32: a small seeded generator, so a failure replays with the same kill points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEED = Number(process.env.ANCHORAGE_CRASH_SEED ?? 20261201);
const random = rng(SEED);

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(node, [main, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[]): string {
  const r = cli(args);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Start the command and SIGKILL it after `ms`; whether the kill landed or the command had finished. */
function runKilled(args: string[], ms: number): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(node, [main, ...args], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    });
  });
}

/** Wall time of one run of the command (the kill points are spread over it). */
function timed(args: string[]): { ms: number; stdout: string } {
  const t = Date.now();
  const stdout = ok(args);
  return { ms: Date.now() - t, stdout };
}

const sha = (d: string | Uint8Array): string => createHash('sha256').update(d).digest('hex');
const certsIn = (pem: string): X509Certificate[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)].map((m) => new X509Certificate(m[0]));
const spkiOfKey = (pem: string | Buffer): string => sha(createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }));
const spkiOfCert = (c: X509Certificate): string => sha(c.publicKey.export({ type: 'spki', format: 'der' }));

function walk(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

interface PlanJson {
  certificates: { id: string; signer: string; ca: boolean; node?: string }[];
  files: { node: string; path: string; mode: string; content: string }[];
}
interface ManifestJson {
  files: { node: string; path: string; mode: string; sha256: string; role: string; kind: string }[];
}

/** What the test itself knows about each CA: the certificates every bundle must hold, the one leaves chain to. */
interface CaExpectation {
  /** Bundle contents in order (fingerprints). */
  bundle: X509Certificate[];
  /** The CA certificate leaves must verify against. */
  signer: X509Certificate;
  /** The key that must be in the store, and where: id -> SPKI hash of the public key. */
  storeKeys: Record<string, string>;
}

const CA_OF_BUNDLE: Record<string, string> = {
  '/etc/kubernetes/pki/ca.crt': 'ca',
  '/etc/kubernetes/pki/front-proxy-ca.crt': 'front-proxy-ca',
  '/etc/kubernetes/pki/etcd/ca.crt': 'etcd-ca',
};

let scratchN = 0;
function scratch(pem: string): string {
  const dir = join(tmp, 'scratch');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, `${scratchN++}.pem`);
  writeFileSync(p, pem);
  return p;
}

/** `openssl verify` of many leaves against one CA certificate; returns the files that did not verify. */
function opensslVerify(caPem: string, files: string[]): string[] {
  if (!files.length) return [];
  const ca = scratch(caPem);
  const bad: string[] = [];
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const r = spawnSync('openssl', ['verify', '-CAfile', ca, ...batch], { encoding: 'utf8' });
    const okLines = new Set(
      r.stdout
        .split('\n')
        .filter((l) => l.endsWith(': OK'))
        .map((l) => l.slice(0, -4)),
    );
    for (const f of batch) if (!okLines.has(f)) bad.push(f);
  }
  return bad;
}

/** Every check a rerun must leave true. Returns a list of failures (empty: consistent). */
function checkDir(out: string, plan: PlanJson, expected: Record<string, CaExpectation>): string[] {
  const failures: string[] = [];
  const fail = (s: string): void => {
    if (failures.length < 30) failures.push(s);
  };
  // No journal, temp file or lock left.
  for (const p of walk(out)) {
    const name = p.slice(p.lastIndexOf('/') + 1);
    if (name.endsWith('.tmp')) fail(`temp file left: ${relative(out, p)}`);
    if (name === '.anchorage.lock') fail('lock left');
  }
  if (existsSync(join(out, '.txn'))) fail('transaction folder left');

  // Node trees are exactly the manifest, and the manifest is exactly the plan.
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ManifestJson;
  const key = (n: string, p: string): string => `${n}:${p}`;
  const planned = new Set(plan.files.map((f) => key(f.node, f.path)));
  const listed = new Set(manifest.files.map((f) => key(f.node, f.path)));
  for (const k of planned) if (!listed.has(k)) fail(`planned but not in the manifest: ${k}`);
  for (const k of listed) if (!planned.has(k)) fail(`in the manifest but not planned: ${k}`);
  const onDisk = new Set(walk(join(out, 'nodes')).map((p) => relative(join(out, 'nodes'), p)));
  for (const f of manifest.files) {
    const rel = join(f.node, f.path);
    if (!onDisk.delete(rel)) {
      fail(`missing: ${rel}`);
      continue;
    }
    const p = join(out, 'nodes', rel);
    if (sha(readFileSync(p)) !== f.sha256) fail(`content differs from the manifest: ${rel}`);
    if (`0${(statSync(p).mode & 0o777).toString(8)}` !== f.mode) fail(`mode differs from the manifest: ${rel}`);
  }
  for (const extra of onDisk) fail(`not in the manifest: ${extra}`);

  // Pairs, bundles and chains.
  const signerOf = new Map(plan.certificates.map((c) => [c.id, c.signer]));
  const toVerify = new Map<string, string[]>(); // CA id -> files
  const leafFile = (ca: string, file: string): void => {
    const l = toVerify.get(ca) ?? [];
    l.push(file);
    toVerify.set(ca, l);
  };
  const bundleIs = (what: string, pem: string, ca: string): void => {
    const got = certsIn(pem).map((c) => c.fingerprint256);
    const want = (expected[ca] as CaExpectation).bundle.map((c) => c.fingerprint256);
    if (got.join() !== want.join()) fail(`${what}: bundle of ${ca} holds ${got.length} cert(s), not the ${want.length} of this phase`);
  };
  for (const f of manifest.files) {
    const p = join(out, 'nodes', f.node, f.path);
    const text = readFileSync(p, 'utf8');
    if (f.kind === 'ca-bundle') bundleIs(`${f.node}:${f.path}`, text, CA_OF_BUNDLE[f.path] ?? 'ca');
    else if (f.kind === 'certificate') {
      const keyPath = p.replace(/\.crt$/, '.key');
      const cert = new X509Certificate(readFileSync(p));
      if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyPath)))) fail(`${f.node}:${f.path}: does not pair with its key`);
      leafFile(signerOf.get(f.role) as string, p);
    } else if (f.kind === 'kubeconfig') {
      const kc = parseYaml(text) as {
        clusters: { cluster: { 'certificate-authority-data': string } }[];
        users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
      };
      const user = kc.users[0]?.user;
      const certPem = Buffer.from(user?.['client-certificate-data'] ?? '', 'base64').toString();
      const keyPem = Buffer.from(user?.['client-key-data'] ?? '', 'base64').toString();
      if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem)))
        fail(`${f.node}:${f.path}: client cert does not pair with its key`);
      bundleIs(`${f.node}:${f.path}`, Buffer.from(kc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString(), 'ca');
      leafFile(signerOf.get(f.role) as string, scratch(certPem));
    }
  }
  // The CA keys on the nodes pair with the first certificate of their bundle (the current CA).
  for (const [bundlePath, ca] of Object.entries(CA_OF_BUNDLE)) {
    const keyPath = join(out, 'nodes', 'cp-1', bundlePath.replace(/\.crt$/, '.key'));
    const first = (expected[ca] as CaExpectation).bundle[0] as X509Certificate;
    if (spkiOfKey(readFileSync(keyPath)) !== spkiOfCert(first)) fail(`cp-1:${bundlePath}: key is not the current ${ca}'s`);
  }
  for (const [ca, files] of toVerify) {
    const e = expected[ca] as CaExpectation;
    for (const bad of opensslVerify(e.signer.toString(), files)) fail(`${relative(out, bad)}: does not chain to the expected ${ca}`);
  }
  // The store: every certificate pairs with its key; the CA keys of this phase are where they must be.
  const store = join(out, 'store');
  for (const f of readdirSync(store).filter((x) => x.endsWith('.crt'))) {
    const k = join(store, f.replace(/\.crt$/, '.key'));
    if (!existsSync(k)) continue;
    if (!new X509Certificate(readFileSync(join(store, f))).checkPrivateKey(createPrivateKey(readFileSync(k))))
      fail(`store/${f}: does not pair with its key`);
  }
  for (const e of Object.values(expected))
    for (const [id, spki] of Object.entries(e.storeKeys)) {
      const k = join(store, `${id}.key`);
      if (!existsSync(k) || spkiOfKey(readFileSync(k)) !== spki) fail(`store/${id}.key: not the key this phase must keep there`);
    }
  return failures;
}

/** Right after a kill (before any rerun): the old CA's key is still somewhere in the folder (store, or a committed journal's staged files). */
function oldKeyKept(out: string, spki: string): boolean {
  const candidates = [...walk(join(out, 'store')).filter((p) => p.endsWith('.key')), ...walk(join(out, '.txn'))];
  return candidates.some((p) => {
    try {
      return spkiOfKey(readFileSync(p)) === spki;
    } catch {
      return false;
    }
  });
}

const stats = { kills: 0, finishedBeforeKill: 0, committedAtKill: 0, stagedAtKill: 0, cleanupAtKill: 0 };

/**
 * Kill `args` once or twice at seeded random moments within `span` ms, then rerun. `reachedTarget()` says
 * whether a killed run had already finished its work (no journal left): then a rerun would go one step
 * further, which is not what an operator rerunning a killed command wants to check.
 */
async function killAndRecover(
  out: string,
  args: string[],
  span: number,
  onKilled: () => void,
  reachedTarget: () => boolean,
  rerun: string[] = args,
): Promise<void> {
  const committed = (): boolean => existsSync(join(out, '.txn', 'journal.json'));
  const kills = random() < 0.5 ? 2 : 1;
  for (let k = 0; k < kills; k++) {
    const ms = Math.floor(150 + random() * span);
    const r = await runKilled(args, ms);
    if (!r.killed) {
      expect(r.code, r.stderr).toBe(0);
      stats.finishedBeforeKill++;
      return;
    }
    stats.kills++;
    if (committed()) stats.committedAtKill++;
    else if (existsSync(join(out, '.txn'))) stats.stagedAtKill++;
    onKilled();
    if (!committed() && reachedTarget()) {
      // Killed after its work, while cleaning up (the journal gone, DIR/.txn or the lock not yet): what the next
      // command on the folder does first, without going a step further (withPkiDir: the stale lock taken over, the
      // journal-less DIR/.txn discarded).
      if (existsSync(join(out, '.txn')) || existsSync(join(out, '.anchorage.lock'))) {
        stats.cleanupAtKill++;
        await withPkiDir(out, 'the next command', async () => undefined);
      }
      return;
    }
  }
  // Killed before the commit point (nothing happened) or after it (the rerun finishes it).
  ok(rerun);
}

describe('crash test: SIGKILL at random points, then rerun', () => {
  const out = join(tmp, 'pki');
  const configPath = join(tmp, 'cluster.yaml');
  writeFileSync(configPath, CONFIG);
  let plan: PlanJson;
  const expected: Record<string, CaExpectation> = {};
  const storeCert = (id: string): X509Certificate => new X509Certificate(readFileSync(join(out, 'store', `${id}.crt`)));
  const storeSpki = (id: string): string => spkiOfKey(readFileSync(join(out, 'store', `${id}.key`)));
  const steady = (ca: string): void => {
    const c = storeCert(ca);
    expected[ca] = { bundle: [c], signer: c, storeKeys: { [ca]: storeSpki(ca) } };
  };
  const expectConsistent = (): void => expect(checkDir(out, plan, expected)).toEqual([]);
  let initMs = 0;

  it(`pki init (3 control-plane + ${WORKERS} workers, ECDSA) killed at random points, then rerun`, { timeout: 300_000 }, async () => {
    plan = JSON.parse(ok(['pki', 'plan', '--config', configPath, '-o', 'json'])) as PlanJson;
    // A reference run gives the span to spread kill points over.
    const ref = join(tmp, 'reference');
    initMs = timed(['pki', 'init', '--config', configPath, '--out', ref]).ms;
    rmSync(ref, { recursive: true, force: true });
    for (let round = 0; round < 3; round++) {
      rmSync(out, { recursive: true, force: true });
      const args = ['pki', 'init', '--config', configPath, '--out', out];
      await killAndRecover(
        out,
        args,
        initMs,
        () => {},
        () => false,
      );
      // An init is idempotent: it always runs to the end.
      for (const ca of ['ca', 'front-proxy-ca', 'etcd-ca']) steady(ca);
      expectConsistent();
      // One more kill on a complete folder (--force re-issues everything), then rerun.
      await killAndRecover(
        out,
        [...args, '--force'],
        initMs,
        () => {},
        () => false,
        args,
      );
      for (const ca of ['ca', 'front-proxy-ca', 'etcd-ca']) steady(ca);
      expectConsistent();
    }
  });

  it('pki renew all killed at random points, then rerun', { timeout: 300_000 }, async () => {
    const args = ['pki', 'renew', 'all', '--dir', out];
    const renewMs = timed(args).ms;
    for (let round = 0; round < 3; round++) {
      await killAndRecover(
        out,
        args,
        renewMs,
        () => {},
        () => false,
      );
      expectConsistent();
    }
  });

  it.each([['ca'], ['etcd-ca'], ['front-proxy-ca']])(
    'rotate-ca %s: every phase (and a rollback from reissue) killed at random points, then rerun',
    { timeout: 300_000 },
    async (ca) => {
      const old = storeCert(ca);
      const oldSpki = storeSpki(ca);
      let next: X509Certificate | undefined;
      let nextSpki = '';
      const phaseOnDisk = (): string => {
        const p = join(out, 'rotation.json');
        if (!existsSync(p)) return existsSync(join(out, 'store', `${ca}~next.crt`)) ? '?' : 'none';
        return (JSON.parse(readFileSync(p, 'utf8')) as { phase: string }).phase;
      };
      const expectPhase = (phase: string): void => {
        if (phase === 'new-ca') expected[ca] = { bundle: [old], signer: old, storeKeys: { [ca]: oldSpki, [`${ca}~next`]: nextSpki } };
        else if (phase === 'bundle')
          expected[ca] = { bundle: [old, next as X509Certificate], signer: old, storeKeys: { [ca]: oldSpki, [`${ca}~next`]: nextSpki } };
        else if (phase === 'reissue')
          expected[ca] = {
            bundle: [next as X509Certificate, old],
            signer: next as X509Certificate,
            storeKeys: { [ca]: nextSpki, [`${ca}~previous`]: oldSpki },
          };
        else if (phase === 'done')
          expected[ca] = { bundle: [next as X509Certificate], signer: next as X509Certificate, storeKeys: { [ca]: nextSpki } };
      };
      const steps: { action: string[]; to: string }[] = [
        { action: [], to: 'new-ca' },
        { action: [], to: 'bundle' },
        { action: [], to: 'reissue' },
        ...(ca === 'etcd-ca'
          ? [
              { action: ['--rollback'], to: 'bundle' },
              { action: [], to: 'reissue' },
            ]
          : []),
        { action: [], to: 'done' },
      ];
      const span = initMs;
      for (const step of steps) {
        const args = ['pki', 'rotate-ca', ca, '--dir', out, ...step.action];
        const target = step.to === 'done' ? 'none' : step.to;
        await killAndRecover(
          out,
          args,
          span,
          () => {
            // Before any rerun: the old CA's key is never lost before the rotation is done.
            if (phaseOnDisk() !== 'none' || step.to !== 'done') expect(oldKeyKept(out, oldSpki)).toBe(true);
          },
          () => phaseOnDisk() === target && !existsSync(join(out, '.txn', 'journal.json')),
        );
        expect(phaseOnDisk()).toBe(target);
        if (step.to === 'new-ca') {
          next = storeCert(`${ca}~next`);
          nextSpki = storeSpki(`${ca}~next`);
          expect(next.fingerprint256).not.toBe(old.fingerprint256);
        }
        expectPhase(step.to);
        expectConsistent();
      }
      expect(existsSync(join(out, 'store', `${ca}~previous.crt`))).toBe(false);
      expect(storeCert(ca).fingerprint256).toBe(next?.fingerprint256);
    },
  );

  it('killed at least once in every run (the seed spreads the kill points)', () => {
    // Which windows the kills landed in (killed before the commit point, after it, or the run had finished): for the log.
    console.log(`crash test seed ${SEED}: ${JSON.stringify(stats)}`);
    expect(stats.kills).toBeGreaterThan(0);
  });
});
