// `scan --ca-log`: a certificate an Anchorage CA signed that its transparency log lacks is flagged
// (scan.ca.not-in-log). The CA's key is taken out of the store and used by openssl to sign a certificate
// outside the service; the scan of a folder holding the CA, a certificate the service issued and the
// rogue one flags the rogue one only. A log exported before an issuance (validly signed, just older) makes
// that issuance missing too; a log that does not verify is refused.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek, openKey } from '../src/ca/kek.ts';
import { CaService } from '../src/ca/service.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import { anchorage } from './cluster/harness.ts';
import { openssl } from './support/openssl.ts';

const dir = mkdtempSync(join(tmpdir(), 'ca2-scan-log-'));
const certs = join(dir, 'certs');
const KEK = 'c'.repeat(64);
let store: Store;
let svc: CaService;
let issuedSha = '';
let rogueSha = '';

const sha = (file: string) =>
  openssl(dir, 'x509', '-in', file, '-noout', '-fingerprint', '-sha256').trim().split('=')[1]?.replace(/:/g, '').toLowerCase() as string;

beforeAll(async () => {
  mkdirSync(certs);
  store = await openStore(`sqlite:${join(dir, 'ca.db')}`);
  svc = await CaService.open({ store, kek: loadKek(KEK) });
  await svc.createCa({ name: 'web', requester: 'test', policy: { dns: ['*.web.svc'] } });
  writeFileSync(join(dir, 'log-before.json'), JSON.stringify(await svc.exportLog()));
  const key = generateKey('ecdsa-p256').privateKey;
  const r = await svc.issue({
    ca: 'web',
    csr: createCsr({ subject: 'CN=a.web.svc', privateKey: key, sans: { dns: ['a.web.svc'] } }).toPem(),
    requester: 'test',
  });
  writeFileSync(join(certs, 'a.crt'), r.certificate.toPem());
  writeFileSync(join(certs, 'ca.crt'), (await svc.getCa('web')).chain[0]?.toPem() as string);
  writeFileSync(join(dir, 'log.json'), JSON.stringify(await svc.exportLog()));
  // The CA's key, used outside the service.
  const row = await store.get<{ key_sealed: string }>("SELECT key_sealed FROM ca_authorities WHERE name = 'web'");
  writeFileSync(join(dir, 'ca.key'), openKey(loadKek(KEK), 'web', row?.key_sealed as string).export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
  });
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
    'rogue.key',
    '-out',
    'rogue.csr',
    '-subj',
    '/CN=rogue.web.svc',
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'rogue.csr',
    '-CA',
    join(certs, 'ca.crt'),
    '-CAkey',
    'ca.key',
    '-days',
    '30',
    '-out',
    join(certs, 'rogue.crt'),
  );
  issuedSha = sha(join(certs, 'a.crt'));
  rogueSha = sha(join(certs, 'rogue.crt'));
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const notInLog = (log: string) => {
  const r = anchorage(['scan', certs, '--ca-log', join(dir, log), '-o', 'json']);
  expect(r.stderr).toBe('');
  const report = JSON.parse(r.stdout) as {
    findings: { id: string; sha256?: string; why: string; severity: string; locations: string[] }[];
  };
  return { code: r.code, found: report.findings.filter((f) => f.id === 'scan.ca.not-in-log') };
};

describe('scan --ca-log', () => {
  it('flags the certificate the CA key signed outside the service, and nothing the service issued', () => {
    const { code, found } = notInLog('log.json');
    expect(found.map((f) => f.sha256)).toEqual([rogueSha]);
    expect(found[0]?.severity).toBe('error');
    expect(found[0]?.why).toBe("CN=rogue.web.svc was signed by Anchorage CA 'web' but is not in its transparency log");
    expect(found[0]?.locations).toEqual([join(certs, 'rogue.crt')]);
    expect(code).toBe(1);
  });

  it('with an older log (validly signed, before the issuance) the issuance is missing too', () => {
    expect(
      notInLog('log-before.json')
        .found.map((f) => f.sha256)
        .sort(),
    ).toEqual([issuedSha, rogueSha].sort());
  });

  it('without --ca-log nothing is flagged; a log that does not verify is refused', () => {
    const plain = JSON.parse(anchorage(['scan', certs, '-o', 'json']).stdout) as { findings: { id: string }[] };
    expect(plain.findings.filter((f) => f.id === 'scan.ca.not-in-log')).toEqual([]);
    const log = JSON.parse(readFileSync(join(dir, 'log.json'), 'utf8')) as { entries: string[] };
    log.entries.splice(1, 1); // drop the issuance of a.web.svc
    writeFileSync(join(dir, 'cut.json'), JSON.stringify(log));
    const r = anchorage(['scan', certs, '--ca-log', join(dir, 'cut.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --ca-log .*cut\.json: the log does not verify: /);
  });
});
