// The monitor's history writes against a real SQLite store: what the monitor holds in memory is what a
// restart reads back, whatever order scans and writes come in.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { History } from './history.ts';
import { Monitor } from './monitor.ts';

const fixture = (f: string) => readFileSync(new URL(`../../test/fixtures/broken-pki/apiserver-expired/${f}`, import.meta.url));
// lastSeen is written at most once a minute (a finding seen again is not a write per scan): compare the rest.
const held = (m: Monitor) => [...m.findings.values()].map(({ lastSeen: _l, ...f }) => f);
const object = (source: string) => ({ values: [{ source, data: fixture(source) }], backends: [], certManager: [], failures: [] });

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(): Promise<{ monitor: Monitor; reopen: () => Promise<Monitor> }> {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-history-'));
  dirs.push(dir);
  const url = `sqlite:${join(dir, 'h.sqlite')}`;
  const store = await openStore(url);
  stores.push(store);
  const monitor = new Monitor({ history: new History(store) });
  await monitor.load();
  const reopen = async () => {
    const again = await openStore(url);
    stores.push(again);
    const m = new Monitor({ history: new History(again) });
    await m.load();
    return m;
  };
  return { monitor, reopen };
}

describe('Monitor history', () => {
  it('writes findings that open after a scan that changed nothing', async () => {
    const { monitor, reopen } = await setup();
    const c = monitor.addCluster({ name: 'c', kind: 'dir' });
    c.setObject('ca.crt', object('ca.crt'));
    c.rescan();
    await monitor.flush();
    c.rescan(); // nothing changed: nothing to write
    await monitor.flush();
    c.setObject('apiserver.crt', object('apiserver.crt'));
    c.rescan();
    c.stop();
    await monitor.flush();
    const expired = [...monitor.findings.values()].filter((f) => f.id === 'x509.validity.expired');
    expect(expired).toHaveLength(1);
    const back = await reopen();
    expect(back.findings.get(expired[0]?.key as string)?.firstSeen).toBe(expired[0]?.firstSeen);
    expect(held(back)).toEqual(held(monitor));
  });

  it('keeps a change made while the previous write was under way', async () => {
    const { monitor, reopen } = await setup();
    const c = monitor.addCluster({ name: 'c', kind: 'dir' });
    c.setObject('ca.crt', object('ca.crt'));
    c.setObject('apiserver.crt', object('apiserver.crt'));
    c.rescan(); // opens the finding and starts writing it
    c.setObject('apiserver.crt', undefined);
    c.rescan(); // resolves it while the first write has not finished
    c.stop();
    await monitor.flush();
    const expired = [...monitor.findings.values()].filter((f) => f.id === 'x509.validity.expired');
    expect(expired).toHaveLength(1);
    expect(expired[0]?.resolvedAt).toBeDefined();
    const back = await reopen();
    expect(held(back)).toEqual(held(monitor));
  });
});

describe('Monitor store health', () => {
  it('a store that never answers is called down, what waits stays queued, and it is written once the store answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-hang-'));
    dirs.push(dir);
    const store = await openStore(`sqlite:${join(dir, 'h.sqlite')}`);
    stores.push(store);
    const history = new History(store);
    const monitor = new Monitor({ history, storeAnswerMs: 50 });
    await monitor.load();
    // The store hangs: every call returns a promise that never settles (a PostgreSQL client waiting on
    // a server that went away mid-handshake).
    const real = { ping: store.ping.bind(store), transaction: store.transaction.bind(store) };
    store.ping = () => new Promise(() => undefined);
    store.transaction = () => new Promise(() => undefined);
    await monitor.probe();
    expect(monitor.store.ok).toBe(false);
    expect(monitor.store.ok === false && monitor.store.reason).toMatch(/no answer in 0.05 s/);
    const c = monitor.addCluster({ name: 'c', kind: 'dir' });
    c.setObject('apiserver.crt', object('apiserver.crt'));
    c.rescan();
    c.stop();
    await monitor.flush();
    expect(monitor.store.ok).toBe(false);
    store.ping = real.ping;
    store.transaction = real.transaction;
    await monitor.flush();
    expect(monitor.store.ok).toBe(true);
    const expired = [...monitor.findings.values()].filter((f) => f.id === 'x509.validity.expired');
    expect(expired).toHaveLength(1);
    const again = new Monitor({ history: new History(store) });
    await again.load();
    expect(again.findings.get(expired[0]?.key as string)?.firstSeen).toBe(expired[0]?.firstSeen);
  });

  it('a store called down stays down until it answers: a flush with nothing queued says nothing, the health check or a write does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-down-'));
    dirs.push(dir);
    const store = await openStore(`sqlite:${join(dir, 'd.sqlite')}`);
    stores.push(store);
    const monitor = new Monitor({ history: new History(store), storeAnswerMs: 60_000 });
    await monitor.load();
    const real = { ping: store.ping.bind(store), transaction: store.transaction.bind(store) };
    store.ping = () => Promise.reject(new Error('connect ECONNREFUSED'));
    store.transaction = () => Promise.reject(new Error('connect ECONNREFUSED'));
    await monitor.probe();
    expect(monitor.store).toMatchObject({ ok: false, reason: 'connect ECONNREFUSED' });
    const since = monitor.store.since;
    // What a heartbeat and the retry of a failed write do with nothing queued: the store is still down.
    await monitor.flush();
    expect(monitor.store).toMatchObject({ ok: false, since });
    // A scan while it is down: its write fails and waits (the retry is scheduled); still down.
    const c = monitor.addCluster({ name: 'c', kind: 'dir' });
    c.setObject('apiserver.crt', object('apiserver.crt'));
    c.rescan();
    c.stop();
    await monitor.flush();
    expect(monitor.store).toMatchObject({ ok: false, since });
    // It answers again: the health check writes what waits at once, and that write says it is back.
    store.ping = real.ping;
    store.transaction = real.transaction;
    await monitor.probe();
    await monitor.flush();
    expect(monitor.store).toEqual({ ok: true });
    const again = new Monitor({ history: new History(store) });
    await again.load();
    expect([...again.findings.values()].some((f) => f.id === 'x509.validity.expired')).toBe(true);
    // Down again with nothing queued: the health check alone says when it is back.
    store.ping = () => Promise.reject(new Error('connect ECONNREFUSED'));
    await monitor.probe();
    expect(monitor.store.ok).toBe(false);
    await monitor.flush();
    expect(monitor.store.ok).toBe(false);
    store.ping = real.ping;
    await monitor.probe();
    expect(monitor.store).toEqual({ ok: true });
    monitor.stop();
  });

  it('the health check calls the store down while a write is still stuck on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-probe-'));
    dirs.push(dir);
    const store = await openStore(`sqlite:${join(dir, 'p.sqlite')}`);
    stores.push(store);
    const monitor = new Monitor({ history: new History(store), storeAnswerMs: 60_000 });
    await monitor.load();
    const real = { ping: store.ping.bind(store), transaction: store.transaction.bind(store) };
    let release: (() => void) | undefined;
    store.transaction = () => new Promise<never>((_, reject) => (release = () => reject(new Error('connection ended'))));
    const c = monitor.addCluster({ name: 'c', kind: 'dir' });
    c.setObject('apiserver.crt', object('apiserver.crt'));
    c.rescan();
    c.stop();
    const writing = monitor.flush();
    expect(monitor.store.ok).toBe(true);
    // The probe's own bound is what calls it down, not the 60 s the write may take.
    store.ping = () => Promise.reject(new Error('connect ECONNREFUSED'));
    await monitor.probe();
    expect(monitor.store.ok).toBe(false);
    expect(monitor.store.ok === false && monitor.store.reason).toMatch(/ECONNREFUSED/);
    release?.();
    await writing;
    store.ping = real.ping;
    store.transaction = real.transaction;
    await monitor.flush();
    expect(monitor.store.ok).toBe(true);
    expect([...monitor.findings.values()].some((f) => f.id === 'x509.validity.expired')).toBe(true);
  });
});
