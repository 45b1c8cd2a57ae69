// Retention (`ca prune`) on both stores, SQLite and a real PostgreSQL: certificates issued three weeks ago
// (the service's clock set back) for a day, and one for two months. `ca prune --expired-for 5d`, run as the
// CLI, removes the records of the two expired ones and keeps the current one; the CRL (read by openssl)
// lists only the revoked certificate that has not expired, before and after; OCSP (openssl) answers
// `unknown` for a pruned serial; the transparency log still verifies and still proves the pruned
// certificate's issuance; the prune itself is an audit and log entry.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek } from '../src/ca/kek.ts';
import { parseLogExport, verifyLog } from '../src/ca/log-verify.ts';
import { CaService, type Issued } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import { openssl } from './support/openssl.ts';
import { type Postgres, startPostgres } from './support/postgres.ts';

const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');
const main = join(root, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'ca-prune-'));
const KEK = 'f'.repeat(64);
let pg: Postgres;

beforeAll(async () => {
  writeFileSync(join(dir, 'kek'), `${KEK}\n`, { mode: 0o600 });
  pg = await startPostgres('ca-prune');
}, 300_000);

afterAll(async () => {
  await pg?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const csr = (name: string, dns: string): string => {
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
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    '/',
    '-addext',
    `subjectAltName=DNS:${dns}`,
  );
  return readFileSync(join(dir, `${name}.csr`), 'utf8');
};
const crlSerials = (der: Uint8Array, tag: string): string => {
  writeFileSync(join(dir, `${tag}.crl`), der);
  return openssl(dir, 'crl', '-inform', 'DER', '-in', `${tag}.crl`, '-noout', '-text');
};
const hexSerial = (s: string) => s.toUpperCase().replace(/^0+/, '');

describe.each(['sqlite', 'postgres'] as const)('ca prune on %s', (engine) => {
  it('removes the records of long-expired certificates, keeps current ones, the CRL and the log stay right', async () => {
    const db = engine === 'sqlite' ? `sqlite:${join(dir, 'ca.db')}` : pg.url;
    const ca = `web-${engine}`;
    // Three weeks ago: two one-day certificates (one revoked), one for sixty days (revoked), a token.
    let clock = new Date(Date.now() - 21 * 86400_000);
    const store = await openStore(db);
    const svc = await CaService.open({ store, kek: loadKek(KEK), now: () => clock });
    try {
      await svc.createCa({ name: ca, requester: 'test', days: 365, policy: { dns: ['*.web.svc'], maxDays: 90 } });
      const old1 = await svc.issue({ ca, csr: csr(`${engine}-a`, 'a.web.svc'), days: 1, requester: 'test' });
      const old2 = await svc.issue({ ca, csr: csr(`${engine}-c`, 'c.web.svc'), days: 1, requester: 'test' });
      const current = await svc.issue({ ca, csr: csr(`${engine}-b`, 'b.web.svc'), days: 60, requester: 'test' });
      await svc.revoke({ ca, serial: old1.serial, requester: 'test', reason: 'keyCompromise' });
      await svc.revoke({ ca, serial: current.serial, requester: 'test', reason: 'superseded' });
      await svc.createToken(ca, ['DNS:d.web.svc'], 'server', 3600);
      clock = new Date();

      // The CRL lists the revoked certificate that is still valid, not the expired one, before any prune.
      const before = crlSerials(await svc.crl(ca), `${engine}-before`);
      expect(before).toContain(hexSerial(current.serial));
      expect(before).not.toContain(hexSerial(old1.serial));

      const r = spawnSync(node, [main, 'ca', 'prune', ca, '--expired-for', '5d', '--db', db, '--kek', `file:${join(dir, 'kek')}`], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^pruned 2 certificate record\(s\) and 1 token\(s\) expired before \S+ \(log entry \d+\)$/m);

      const left = await store.all<{ serial: string }>('SELECT serial FROM ca_certificates WHERE ca = ? ORDER BY serial', [ca]);
      expect(left.map((x) => x.serial)).toEqual([current.serial]);
      const names = await store.all<{ name: string }>('SELECT name FROM ca_names ORDER BY name');
      expect(names.map((n) => n.name)).not.toContain('DNS:a.web.svc');
      expect(names.map((n) => n.name)).toContain('DNS:b.web.svc');

      const after = crlSerials(await svc.crl(ca), `${engine}-after`);
      expect(after).toContain(hexSerial(current.serial));
      writeFileSync(join(dir, `${engine}-ca.pem`), (await svc.getCa(ca)).chain[0]?.toPem() as string);

      // OCSP: the pruned serial is unknown, the kept revoked one still revoked (openssl reads the answers).
      const ocspFor = async (i: Issued, tag: string) => {
        writeFileSync(join(dir, `${tag}.pem`), i.certificate.toPem());
        openssl(dir, 'ocsp', '-issuer', `${engine}-ca.pem`, '-cert', `${tag}.pem`, '-no_nonce', '-reqout', `${tag}.req`);
        writeFileSync(join(dir, `${tag}.resp`), await svc.ocsp(ca, readFileSync(join(dir, `${tag}.req`))));
        return openssl(
          dir,
          'ocsp',
          '-respin',
          `${tag}.resp`,
          '-issuer',
          `${engine}-ca.pem`,
          '-cert',
          `${tag}.pem`,
          '-noverify',
          '-no_nonce',
        );
      };
      expect(await ocspFor(old1, `${engine}-ocsp-a`)).toMatch(/: unknown/);
      expect(await ocspFor(current, `${engine}-ocsp-b`)).toMatch(/: revoked/);

      // The log keeps the pruned certificate's issuance; it verifies and proves it; the prune is recorded.
      const log = parseLogExport(JSON.stringify(await svc.exportLog()));
      const report = verifyLog(log, { cert: old2.certificate });
      expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(report.certificate).toMatchObject({ included: true, serial: old2.serial });
      const entries = log.entries.map((e) => JSON.parse(e) as { type: string; ca: string; reason?: string });
      expect(entries.at(-1)).toMatchObject({
        type: 'prune',
        ca,
        reason: expect.stringMatching(/^removed 2 certificate record\(s\) and 1 token\(s\)/),
      });
      expect((await svc.audit(ca, 1))[0]).toMatchObject({ action: 'prune', outcome: 'pruned' });

      // Nothing is left to prune within the retention; with none, the revoked one goes once it expires (not yet).
      expect(await svc.prune({ ca, retainDays: 5, requester: 'test' })).toMatchObject({ certificates: 0, tokens: 0 });
      expect(await svc.prune({ ca, retainDays: 0, requester: 'test' })).toMatchObject({ certificates: 0 });
    } finally {
      await store.close();
    }
  }, 300_000);
});
