// A rogue self-signed CA with the cluster CA's name among the intermediates: the diagnosis is the untrusted
// root it is (openssl: error 19, "self-signed certificate in certificate chain"), not a key mismatch.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const d = tempDir('rogue-');
beforeAll(() => {
  for (const ca of ['real', 'rogue']) opensslCa(d, ca, '/CN=kubernetes');
  opensslIssue(d, 'rogue', 'admin', '/CN=admin', 'extendedKeyUsage=clientAuth\n');
});

it('UNTRUSTED_ROOT under every profile, as openssl says', () => {
  const o = spawnSync('openssl', ['verify', '-CAfile', join(d, 'real.crt'), '-untrusted', join(d, 'rogue.crt'), join(d, 'admin.crt')], {
    encoding: 'utf8',
  });
  expect(o.status).not.toBe(0);
  expect(o.stdout + o.stderr).toMatch(/error 19 at 1 depth lookup: self-signed certificate in certificate chain/);
  const r = spawnSync(
    process.execPath,
    [CLI, 'verify', join(d, 'admin.crt'), '--roots', join(d, 'real.crt'), '--intermediates', join(d, 'rogue.crt'), '-o', 'json'],
    { encoding: 'utf8' },
  );
  expect(r.status).toBe(1);
  const doc = JSON.parse(r.stdout);
  expect(doc.code).toBe('UNTRUSTED_ROOT');
  expect(doc.profiles.map((p: { code: string }) => p.code)).toEqual(['UNTRUSTED_ROOT', 'UNTRUSTED_ROOT', 'UNTRUSTED_ROOT']);
  expect(doc.bestPath.map((c: { subject: string }) => c.subject)).toEqual(['CN=admin', 'CN=kubernetes']);
});
