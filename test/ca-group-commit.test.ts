// Group commit (src/ca/service.ts): issuance units that arrive together share one transaction, each under its
// own SAVEPOINT. On SQLite and a real PostgreSQL: 60 enrolments with their own tokens and 4 racing on one
// token, all at once. Every unit that can succeed does, the racers give exactly one certificate (the other
// three are refused, rolled back alone without taking their group down), the groups really were shared
// (fewer commits than certificates), the log has no gap and verifies, and openssl verifies what was issued.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { parseLogExport, verifyLog } from '../src/ca/log-verify.ts';
import { CaRefusal, CaService, type Issued } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import { openssl } from './support/openssl.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

const dir = mkdtempSync(join(tmpdir(), 'ca-group-'));
let pg: Postgres;

beforeAll(async () => {
  pg = await startPostgres('ca-group');
  openssl(
    dir,
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'k.key',
    '-out',
    'shared.csr',
    '-subj',
    '/',
    '-addext',
    'subjectAltName=DNS:race.web.svc',
  );
}, 300_000);

afterAll(async () => {
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['sqlite', 'postgres'] as const)('group commit on %s', (engine) => {
  it('shares commits between concurrent issuances; a failing unit is rolled back alone', async () => {
    const store = await openStore(engine === 'sqlite' ? `sqlite:${join(dir, 'ca.db')}` : pg.url);
    const svc = await CaService.open({ store, kek: loadKek('7'.repeat(64)) });
    try {
      await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.svc'] } });
      const csrs: string[] = [];
      for (let i = 0; i < 60; i++) {
        openssl(
          dir,
          'req',
          '-new',
          '-key',
          'k.key',
          '-out',
          `${engine}-${i}.csr`,
          '-subj',
          '/',
          '-addext',
          `subjectAltName=DNS:n${i}.web.svc`,
        );
        csrs.push(readFileSync(join(dir, `${engine}-${i}.csr`), 'utf8'));
      }
      const tokens = await Promise.all(csrs.map((_, i) => svc.createToken('web', [`DNS:n${i}.web.svc`], 'server', 600)));
      const race = await svc.createToken('web', ['DNS:race.web.svc'], 'server', 600);
      const shared = readFileSync(join(dir, 'shared.csr'), 'utf8');
      const before = { ...svc.groupStats };

      const outcomes = await Promise.allSettled([
        ...csrs.map((csr, i) => svc.issue({ ca: 'web', csr, token: tokens[i]?.token as string, requester: 'token' })),
        ...Array.from({ length: 4 }, () => svc.issue({ ca: 'web', csr: shared, token: race.token, requester: 'token' })),
      ]);
      const issued = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(issued).toHaveLength(61);
      expect(refused).toHaveLength(3);
      for (const r of refused) {
        expect(r).toBeInstanceOf(CaRefusal);
        expect((r as CaRefusal).message).toMatch(/bootstrap token already used/);
      }
      const commits = svc.groupStats.commits - before.commits;
      expect(svc.groupStats.units - before.units).toBe(61);
      expect(commits).toBeGreaterThan(0);
      expect(commits).toBeLessThan(61);

      // Every acknowledged certificate is stored, under its own log index, and the log has no gap.
      const rows = await store.all<{ serial: string; log_index: number }>('SELECT serial, log_index FROM ca_certificates');
      expect(rows).toHaveLength(61);
      const bySerial = new Map(rows.map((r) => [r.serial, Number(r.log_index)]));
      for (const i of issued as Issued[]) expect(bySerial.get(i.serial)).toBe(i.logIndex);
      const log = parseLogExport(JSON.stringify(await svc.exportLog()));
      expect(log.entries).toHaveLength(1 + 61 + 3); // the CA, the issuances, the refusals
      const types = log.entries.map((e) => (JSON.parse(e) as { type: string }).type);
      expect(types.filter((t) => t === 'issue')).toHaveLength(61);
      const pick = issued[37] as Issued;
      const report = verifyLog(log, { cert: pick.certificate });
      expect(report.ok, JSON.stringify(report.problems)).toBe(true);
      expect(report.certificate?.index).toBe(pick.logIndex);
      writeFileSync(join(dir, `${engine}-ca.pem`), (await svc.getCa('web')).chain[0]?.toPem() as string);
      writeFileSync(join(dir, `${engine}-pick.pem`), pick.certificate.toPem());
      expect(openssl(dir, 'verify', '-CAfile', `${engine}-ca.pem`, `${engine}-pick.pem`).trim()).toBe(`${engine}-pick.pem: OK`);
    } finally {
      await store.close();
    }
  }, 300_000);
});
