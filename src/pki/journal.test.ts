// Deterministic crash points: every rename of a transaction (the journal's own rename is the commit
// point) is made to fail in turn, as a kill there would leave it; the next command must then finish or
// discard it. Judged by OpenSSL through Node's X509Certificate (pairing, signatures), never by our parser.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs, { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseClusterConfig } from './config.ts';
import { initPki, renewPki, rotateCa } from './service.ts';

const base = mkdtempSync(join(tmpdir(), 'anchorage-journal-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const text = stringify({
  apiVersion: 'anchorage.dev/v1alpha1',
  kind: 'ClusterPKI',
  controlPlaneEndpoint: 'cp:6443',
  keyAlgorithm: 'ecdsa-p256',
  controlPlane: [{ name: 'cp-1', ips: ['10.0.0.1'] }],
  workers: [{ name: 'w-1', ips: ['10.0.1.1'] }],
});
const config = parseClusterConfig(text);

class Crash extends Error {}
/** How many renames `f` makes. */
let lastCount = 0;
/** Crash points worth trying among `total` renames: the first ones (the commit point), the last ones, and a sample between. */
function points(total: number): number[] {
  const out = new Set<number>();
  for (let n = 0; n < total; n++) if (n < 6 || n >= total - 4 || n % 5 === 0) out.add(n);
  return [...out];
}
async function renamesOf(dir: string, snap: string, f: () => Promise<unknown>): Promise<number> {
  cpSync(snap, dir, { recursive: true });
  await crashAtRename(-1, f);
  rmSync(dir, { recursive: true, force: true });
  return lastCount;
}

/** Run `f` with the n-th renameSync (0-based) throwing, as if the process died there. */
async function crashAtRename<T>(n: number, f: () => Promise<T>): Promise<boolean> {
  const real = fs.renameSync;
  let count = 0;
  fs.renameSync = ((a: fs.PathLike, b: fs.PathLike) => {
    if (count++ === n) throw new Crash(`crash at rename ${n}`);
    real(a, b);
  }) as typeof fs.renameSync;
  syncBuiltinESMExports();
  try {
    await f();
    return false;
  } catch (e) {
    if (e instanceof Crash) return true;
    throw e;
  } finally {
    lastCount = count;
    fs.renameSync = real;
    syncBuiltinESMExports();
  }
}

const phase = (dir: string): string =>
  existsSync(join(dir, 'rotation.json'))
    ? (JSON.parse(readFileSync(join(dir, 'rotation.json'), 'utf8')) as { phase: string }).phase
    : 'none';
const cert = (p: string): X509Certificate => new X509Certificate(readFileSync(p));
const certs = (p: string): X509Certificate[] =>
  [...readFileSync(p, 'utf8').matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)].map(
    (m) => new X509Certificate(m[0]),
  );

/** The cluster CA's state on cp-1 and in the store, checked with OpenSSL. */
function checkCa(dir: string, want: { bundle: X509Certificate[]; signer: X509Certificate }): void {
  const pki = join(dir, 'nodes', 'cp-1', 'etc', 'kubernetes', 'pki');
  expect(certs(join(pki, 'ca.crt')).map((c) => c.fingerprint256)).toEqual(want.bundle.map((c) => c.fingerprint256));
  expect(certs(join(dir, 'nodes', 'w-1', 'etc', 'kubernetes', 'pki', 'ca.crt')).map((c) => c.fingerprint256)).toEqual(
    want.bundle.map((c) => c.fingerprint256),
  );
  expect(cert(join(pki, 'ca.crt')).checkPrivateKey(createPrivateKey(readFileSync(join(pki, 'ca.key'))))).toBe(true);
  for (const leaf of ['apiserver', 'apiserver-kubelet-client']) {
    const c = cert(join(pki, `${leaf}.crt`));
    expect(c.checkPrivateKey(createPrivateKey(readFileSync(join(pki, `${leaf}.key`))))).toBe(true);
    expect(c.verify(want.signer.publicKey)).toBe(true);
  }
  const kubelet = cert(join(dir, 'nodes', 'w-1', 'var', 'lib', 'kubelet', 'pki', 'kubelet.crt'));
  expect(kubelet.verify(want.signer.publicKey)).toBe(true);
  const store = join(dir, 'store');
  for (const f of readdirSync(store).filter((x) => x.endsWith('.crt')))
    if (existsSync(join(store, f.replace(/\.crt$/, '.key'))))
      expect(cert(join(store, f)).checkPrivateKey(createPrivateKey(readFileSync(join(store, f.replace(/\.crt$/, '.key')))))).toBe(true);
  expect(existsSync(join(dir, '.txn'))).toBe(false);
  expect(existsSync(join(dir, '.anchorage.lock'))).toBe(false);
}

describe('a crash at every rename of a transaction, then the same command again', () => {
  const ref = join(base, 'ref');
  const snaps: Record<string, string> = {};
  const cas: Record<string, X509Certificate> = {};

  it('reference: init and every rotation phase, snapshotted', async () => {
    await initPki({ config, configText: text, configDir: base, out: ref });
    cas.old = cert(join(ref, 'store', 'ca.crt'));
    snaps.none = join(base, 'snap-none');
    cpSync(ref, snaps.none, { recursive: true });
    for (const p of ['new-ca', 'bundle', 'reissue']) {
      await rotateCa({ dir: ref, config, ca: 'ca', action: 'next' });
      if (p === 'new-ca') cas.next = cert(join(ref, 'store', 'ca~next.crt'));
      snaps[p] = join(base, `snap-${p}`);
      cpSync(ref, snaps[p] as string, { recursive: true });
    }
  });

  const expectations = (p: string): { bundle: X509Certificate[]; signer: X509Certificate } => {
    const o = cas.old as X509Certificate;
    const n = cas.next as X509Certificate;
    return p === 'none' || p === 'new-ca'
      ? { bundle: [o], signer: o }
      : p === 'bundle'
        ? { bundle: [o, n], signer: o }
        : p === 'reissue'
          ? { bundle: [n, o], signer: n }
          : { bundle: [n], signer: n };
  };

  it.each([
    ['none', 'new-ca'],
    ['new-ca', 'bundle'],
    ['bundle', 'reissue'],
    ['reissue', 'done'],
  ])('rotate-ca ca from %s to %s: crashed at each rename, the rerun lands exactly in the phase with its node trees', async (from, to) => {
    let crashes = 0;
    const total = await renamesOf(join(base, `count-${to}`), snaps[from] as string, () =>
      rotateCa({ dir: join(base, `count-${to}`), config, ca: 'ca', action: 'next' }),
    );
    for (const n of points(total)) {
      const dir = join(base, `crash-${to}-${n}`);
      cpSync(snaps[from] as string, dir, { recursive: true });
      expect(await crashAtRename(n, () => rotateCa({ dir, config, ca: 'ca', action: 'next' }))).toBe(true);
      crashes++;
      // Before the rerun: the old CA's key is still in the store, or the rotation is done.
      const storeKeys = readdirSync(join(dir, 'store')).filter((f) => f.endsWith('.key'));
      const hasOld = storeKeys.some((f) =>
        (cas.old as X509Certificate).checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'store', f)))),
      );
      if (to !== 'done' || phase(dir) !== 'none') expect(hasOld, `crash at rename ${n}`).toBe(true);
      // The rerun: a committed phase is finished and not advanced; an uncommitted one is done now.
      const r = await rotateCa({ dir, config, ca: 'ca', action: 'next' });
      expect(r.to === 'none' ? !!r.resumed.finished : true, `crash at rename ${n}`).toBe(true);
      expect(phase(dir), `crash at rename ${n}`).toBe(to === 'done' ? 'none' : to);
      if (to === 'reissue')
        expect(cert(join(dir, 'store', 'ca~previous.crt')).fingerprint256).toBe((cas.old as X509Certificate).fingerprint256);
      checkCa(dir, expectations(to));
      rmSync(dir, { recursive: true, force: true });
    }
    expect(crashes).toBeGreaterThanOrEqual(Math.min(total, 6));
    expect(total).toBeGreaterThan(2);
  });

  it('rollback from reissue crashed at each rename: the rerun re-issues from the OLD CA', async () => {
    const total = await renamesOf(join(base, 'count-rollback'), snaps.reissue as string, () =>
      rotateCa({ dir: join(base, 'count-rollback'), config, ca: 'ca', action: 'rollback' }),
    );
    expect(total).toBeGreaterThan(10);
    for (const n of points(total)) {
      const dir = join(base, `crash-rollback-${n}`);
      cpSync(snaps.reissue as string, dir, { recursive: true });
      expect(await crashAtRename(n, () => rotateCa({ dir, config, ca: 'ca', action: 'rollback' }))).toBe(true);
      await rotateCa({ dir, config, ca: 'ca', action: 'rollback' });
      expect(phase(dir)).toBe('bundle');
      expect(cert(join(dir, 'store', 'ca.crt')).fingerprint256).toBe((cas.old as X509Certificate).fingerprint256);
      checkCa(dir, expectations('bundle'));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renew and init crashed at each rename: every pair matches, no temp left', async () => {
    const runs: [string, (dir: string) => Promise<unknown>][] = [
      ['renew', (dir) => renewPki({ dir, config, names: ['all'] })],
      ['init --force', (dir) => initPki({ config, configText: text, configDir: base, out: dir, force: true })],
    ];
    for (const [name, run] of runs) {
      for (let n = 0; n < 200; n += 17) {
        const dir = join(base, `crash-${name}-${n}`);
        cpSync(snaps.none as string, dir, { recursive: true });
        const crashed = await crashAtRename(n, () => run(dir));
        await initPki({ config, configText: text, configDir: base, out: dir });
        const ca = cert(join(dir, 'store', 'ca.crt'));
        checkCa(dir, { bundle: [ca], signer: ca });
        rmSync(dir, { recursive: true, force: true });
        if (!crashed) break;
      }
    }
  });

  it('a journal that is not Anchorage JSON is one line, and changes nothing', async () => {
    const dir = join(base, 'bad-journal');
    cpSync(snaps.none as string, dir, { recursive: true });
    fs.mkdirSync(join(dir, '.txn'));
    writeFileSync(
      join(dir, '.txn', 'journal.json'),
      '{"schema":"anchorage.pki-journal/v1","op":{"command":"x","args":[]},"put":[["0","../../etc/x"]],"remove":[]}',
    );
    await expect(renewPki({ dir, config, names: ['all'] })).rejects.toThrow(
      /not an Anchorage journal \(path '..\/..\/etc\/x' escapes the folder\)/,
    );
    writeFileSync(join(dir, '.txn', 'journal.json'), '');
    await expect(renewPki({ dir, config, names: ['all'] })).rejects.toThrow(/journal\.json: not an Anchorage journal/);
  });
});
