// CA rotation on PostgreSQL with two replicas (two CaService instances, each its own connection pool) issuing
// all the while, and the rotation steps run by the CLI as separate processes: two `ca rotate begin` at once
// give one new generation (the other is refused), `switch` moves both replicas to the new key without a
// restart, every certificate issued meanwhile verifies (openssl) against the generation its record names,
// `retire` is refused while the old generation has certificates outstanding and goes through once they are
// revoked, and the transparency log verifies with every step in it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { parseLogExport, verifyLog } from '../src/ca/log-verify.ts';
import { CaService, type Issued } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import { waitFor } from './cluster/harness.ts';
import { openssl } from './support/openssl.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'ca-rotpg-'));
const KEK = 'b'.repeat(64);
let pg: Postgres;
const stores: Store[] = [];
let a: CaService;
let b: CaService;

/** The CLI as its own process (several at once). */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(node, [main, 'ca', ...args, '--db', pg.url, '--kek', `file:${join(dir, 'kek')}`], { cwd: dir });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  writeFileSync(join(dir, 'kek'), `${KEK}\n`, { mode: 0o600 });
  pg = await startPostgres('ca-rotpg');
  for (let i = 0; i < 2; i++) stores.push(await openStore(pg.url));
  a = await CaService.open({ store: stores[0] as Store, kek: loadKek(KEK) });
  b = await CaService.open({ store: stores[1] as Store, kek: loadKek(KEK) });
  await a.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.svc'] } });
}, 300_000);

afterAll(async () => {
  for (const s of stores) await s.close();
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('rotation on PostgreSQL with two replicas issuing', () => {
  it('begin (raced), switch, retire while both replicas issue; every certificate verifies against its generation', async () => {
    const issued: Issued[] = [];
    let stop = false;
    let n = 0;
    const key = generateKey('ecdsa-p256').privateKey;
    const loop = async (svc: CaService) => {
      while (!stop) {
        const i = n++;
        const csr = createCsr({ subject: '', privateKey: key, sans: { dns: [`n${i}.web.svc`] } }).toPem();
        issued.push(await svc.issue({ ca: 'web', csr, requester: 'test' }));
      }
    };
    const genOf = async () =>
      new Map(
        (await (stores[0] as Store).all<{ serial: string; generation: number }>('SELECT serial, generation FROM ca_certificates')).map(
          (r) => [r.serial, Number(r.generation)],
        ),
      );
    const workers = [a, a, b, b].map(loop);
    try {
      await waitFor('issuance under way', () => issued.length >= 8, 120_000, 50);
      const begins = await Promise.all([cli('rotate', 'begin', 'web'), cli('rotate', 'begin', 'web')]);
      expect(begins.map((r) => r.code).sort()).toEqual([0, 2]);
      expect(begins.find((r) => r.code === 2)?.stderr).toMatch(/already rotating/);
      const mark = issued.length;
      await waitFor('issuance after begin', () => issued.length >= mark + 8, 120_000, 50);
      const sw = await cli('rotate', 'switch', 'web');
      expect(sw.code, sw.stderr).toBe(0);
      // Both replicas issue with generation 2 now, without a restart.
      const after = issued.length;
      await waitFor(
        'both replicas on generation 2',
        async () => {
          if (issued.length < after + 16) return false;
          const gens = await genOf();
          return issued.slice(-8).every((i) => gens.get(i.serial) === 2);
        },
        120_000,
        100,
      );
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    // Every certificate verifies against the CA certificate of the generation its record names.
    const gens = await genOf();
    expect(gens.size).toBe(issued.length);
    const generations = await a.generations('web');
    expect(generations.map((g) => [g.gen, g.state])).toEqual([
      [1, 'previous'],
      [2, 'active'],
    ]);
    for (const g of generations) writeFileSync(join(dir, `gen${g.gen}.pem`), g.chain[0]?.toPem() as string);
    const count = { 1: 0, 2: 0 } as Record<number, number>;
    for (const [i, c] of issued.entries()) {
      const g = gens.get(c.serial) as number;
      count[g] = (count[g] ?? 0) + 1;
      writeFileSync(join(dir, `c${i}.pem`), c.certificate.toPem());
      expect(openssl(dir, 'verify', '-CAfile', `gen${g}.pem`, `c${i}.pem`).trim()).toBe(`c${i}.pem: OK`);
    }
    expect(count[1]).toBeGreaterThan(0);
    expect(count[2]).toBeGreaterThan(0);

    // Retire: refused while generation 1 has certificates outstanding; after revoking them it goes through.
    const early = await cli('rotate', 'retire', 'web');
    expect(early.code).toBe(2);
    expect(early.stderr).toContain(`still has ${count[1]} valid, unrevoked certificate(s)`);
    for (const [serial, g] of gens) if (g === 1) await b.revoke({ ca: 'web', serial, reason: 'superseded', requester: 'test' });
    const retire = await cli('rotate', 'retire', 'web');
    expect(retire.code, retire.stderr).toBe(0);
    expect((await b.generations('web')).map((g) => g.state)).toEqual(['retired', 'active']);
    expect((await a.trustBundle('web')).map((c) => c.sha256)).toEqual([generations[1]?.chain[0]?.sha256]);

    // The log verifies and holds every step.
    const log = parseLogExport(JSON.stringify(await b.exportLog()));
    expect(verifyLog(log).ok).toBe(true);
    const steps = log.entries.map((e) => JSON.parse(e) as { type: string; reason?: string }).filter((e) => e.type === 'ca');
    expect(steps.map((e) => e.reason ?? 'created')).toEqual([
      'created',
      'generation 2 created (published, not issuing yet)',
      'generation 2 issues from now on',
      'generation 1 retired',
    ]);
  }, 600_000);
});
