// inspect shows how a PKCS#12 file is protected (MAC, each part's cipher, KDF, PRF, iterations) exactly as
// `openssl pkcs12 -info` reads the same file.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
const d = tempDir('p12info-');
const osl = (...a: string[]) => execFileSync('openssl', a, { cwd: d, stdio: 'pipe' }).toString();

const VARIANTS: Record<string, string[]> = {
  'openssl 3 default': [],
  legacy: ['-legacy'],
  'AES-128 key, unencrypted certificates, 5000 iterations, SHA-512 MAC': [
    '-keypbe',
    'AES-128-CBC',
    '-certpbe',
    'NONE',
    '-iter',
    '5000',
    '-macalg',
    'sha512',
  ],
  '3DES certificates, SHA-1 MAC': ['-certpbe', 'PBE-SHA1-3DES', '-keypbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
};

beforeAll(() => {
  osl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'k.pem',
    '-out',
    'c.pem',
    '-subj',
    '/CN=p12',
    '-days',
    '2',
  );
  for (const [i, args] of Object.values(VARIANTS).entries())
    osl('pkcs12', '-export', '-inkey', 'k.pem', '-in', 'c.pem', '-out', `v${i}.p12`, '-passout', 'pass:pw', ...args);
});

interface Pbe {
  what: string;
  algorithm: string;
  prf?: string;
  iterations?: number;
}
/** Our JSON in openssl's words: "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256". */
const opensslWords = (e: Pbe): string =>
  [
    e.algorithm,
    ...(e.iterations !== undefined ? [`Iteration ${e.iterations}`] : []),
    ...(e.prf ? [`PRF hmacWith${e.prf.replace('HMAC-', '')}`] : []),
  ].join(', ');

describe('PKCS#12 protection in inspect', () => {
  it.each(Object.keys(VARIANTS).map((name, i) => [name, i] as const))('%s', (_name, i) => {
    const file = join(d, `v${i}.p12`);
    const legacy = VARIANTS[_name]?.includes('-legacy') ? ['-legacy'] : [];
    // openssl prints the -info lines on stderr.
    const o = spawnSync('openssl', ['pkcs12', '-info', '-in', file, '-passin', 'pass:pw', '-noout', ...legacy], { encoding: 'utf8' });
    expect(o.status).toBe(0);
    const info = o.stdout + o.stderr;
    const r = spawnSync(process.execPath, [CLI, 'inspect', file, '--password', 'pw', '-o', 'json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const p = JSON.parse(r.stdout).sources[0].protection as { mac: { algorithm: string; iterations: number }; encryption: Pbe[] };
    const mac = /^MAC: (\S+), Iteration (\d+)$/m.exec(info);
    expect([p.mac.algorithm, p.mac.iterations]).toEqual([`HMAC-${mac?.[1]?.toUpperCase()}`, Number(mac?.[2])]);
    const theirs = [...info.matchAll(/^(PKCS7 Encrypted data|Shrouded Keybag): (.*)$/gm)].map(
      (m) => `${m[1] === 'Shrouded Keybag' ? 'private key' : 'certificates'}: ${m[2]}`,
    );
    expect(p.encryption.map((e) => `${e.what}: ${opensslWords(e)}`).sort()).toEqual(theirs.sort());
    const table = spawnSync(process.execPath, [CLI, 'inspect', file, '--password', 'pw'], { encoding: 'utf8' }).stdout;
    expect(table).toContain(`MAC: HMAC-${mac?.[1]?.toUpperCase()}, ${mac?.[2]} iterations`);
  });
});
