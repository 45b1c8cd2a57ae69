// `inspect` over directories streams: output identical to the collected report, and memory that does not
// grow with the number of files (a 20,000-file tree inspected under a 96 MB heap; the collected report
// took ~15 KB per certificate). The memory bound is a guard, not a timing assertion.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { inspectPaths, renderInspect, streamInspect } from '../src/cli/inspect-view.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const caKp = generateKey('ecdsa-p256');
const ca = issueCertificate({
  profile: { subject: 'CN=stream-ca', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 30 } },
  publicKey: caKp.publicKey,
  signingKey: caKp.privateKey,
});

describe('inspect streamed', () => {
  it('prints what the collected report prints, in every format, keys matched across files', () => {
    const small = join(dir, 'small');
    mkdirSync(join(small, 'sub'), { recursive: true });
    const leafKp = generateKey('ed25519');
    const leaf = issueCertificate({
      profile: { subject: 'CN=leaf,O=streaming', sans: { dns: ['a.example', 'b.example'], ip: ['10.0.0.1'] }, validity: { days: 5 } },
      publicKey: leafKp.publicKey,
      issuer: { cert: ca, key: caKp.privateKey },
    });
    // The key sorts before its certificate, and another copy of the certificate sits in a bundle after it.
    writeFileSync(join(small, 'a-leaf.key'), leafKp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileSync(join(small, 'b-leaf.crt'), leaf.toPem());
    writeFileSync(join(small, 'sub', 'bundle.pem'), `${leaf.toPem()}${ca.toPem()}`);
    writeFileSync(join(small, 'sub', 'ca.key'), caKp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileSync(join(small, 'sub', 'garbage.crt'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    writeFileSync(join(small, 'z-notes.txt'), 'nothing here\n');
    const at = new Date('2026-01-02T03:04:05Z');
    const cases: [string[], boolean][] = [
      [[small], true],
      [[join(small, 'b-leaf.crt')], false],
      [[join(small, 'b-leaf.crt'), join(small, 'sub')], true],
      [[join(small, 'sub', 'ca.key'), join(small, 'b-leaf.crt')], false],
    ];
    for (const [paths, failed] of cases) {
      const report = inspectPaths(paths, { at });
      // The report must be a real one: keys matched to their certificates, the garbage file reported.
      if (paths[0] === small) {
        const key = report.sources.find((s) => s.source.endsWith('a-leaf.key'))?.objects[0] as
          | { matchesCertificates?: unknown[] }
          | undefined;
        expect(key?.matchesCertificates?.length).toBe(2);
        expect(report.sources.find((s) => s.source.endsWith('garbage.crt'))?.error).toBeTruthy();
      }
      const expected = {
        table: renderInspect(report),
        json: `${JSON.stringify(report, null, 2)}\n`,
        yaml: stringify(report, { lineWidth: 0 }),
      };
      for (const format of ['table', 'json', 'yaml'] as const) {
        const chunks: string[] = [];
        const r = streamInspect(paths, format, (c) => chunks.push(c), { at });
        expect(chunks.join(''), `${format} ${paths.join(' ')}`).toBe(expected[format]);
        expect(r.failed).toBe(failed);
      }
    }
  });

  it('inspects 20,000 certificate files under a 96 MB heap, every file in the output', () => {
    const big = join(dir, 'big');
    const leafKp = generateKey('ecdsa-p256');
    const names: string[] = [];
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(big, `d${String(d).padStart(2, '0')}`), { recursive: true });
      for (let i = 0; i < 1000; i++) {
        const n = d * 1000 + i;
        const c = issueCertificate({
          profile: {
            subject: `O=system:nodes,CN=system:node:worker-${n}`,
            sans: { dns: [`worker-${n}`, `worker-${n}.cluster.local`], ip: [`10.1.${n >> 8}.${n & 255}`] },
            extKeyUsage: ['clientAuth', 'serverAuth'],
            validity: { days: 30 },
          },
          publicKey: leafKp.publicKey,
          issuer: { cert: ca, key: caKp.privateKey },
        });
        const f = join(big, `d${String(d).padStart(2, '0')}`, `worker-${String(i).padStart(4, '0')}.crt`);
        writeFileSync(f, c.toPem());
        names.push(f);
      }
    }
    const outFile = join(dir, 'big.json');
    const fd = openSync(outFile, 'w');
    let r: ReturnType<typeof spawnSync>;
    try {
      r = spawnSync(node, ['--max-old-space-size=96', main, 'inspect', big, '-o', 'json'], {
        stdio: ['ignore', fd, 'pipe'],
        encoding: 'utf8',
        timeout: 280_000,
      });
    } finally {
      closeSync(fd);
    }
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(outFile, 'utf8')) as {
      sources: { source: string; objects: { kind: string; subject: string }[]; error?: string }[];
    };
    expect(report.sources.map((s) => s.source)).toEqual(names);
    for (const [i, s] of report.sources.entries()) {
      expect(s.error).toBeUndefined();
      expect(s.objects.map((o) => `${o.kind} ${o.subject}`)).toEqual([`certificate O=system:nodes,CN=system:node:worker-${i}`]);
    }
  });
});
