// The certificate spool (src/cli/spool.ts): what a replay gives is what the recorded walk gave, for every kind of
// source the walk meets, across its chunk boundaries and through records larger than a chunk; nothing but
// certificates is written (no private key); past its budget or where it cannot be created, there is no replay
// and the walk itself is unchanged; a replay reads as it goes.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DAY, issue, NOW, newCa } from '../../test/support/lint-testkit.ts';
import { writeKubeconfig } from '../k8s/kubeconfig.ts';
import { generateKey } from '../x509/keys.ts';
import { eachInput, type SourceRead } from './inputs.ts';
import { CertificateSpool } from './spool.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-spool-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a walk's consumer sees of a source: name, error, format, warnings, certificates (DER, position). */
function seen(r: SourceRead): unknown {
  return {
    source: r.source,
    error: r.error,
    format: r.result?.format,
    warnings: r.result?.warnings,
    certs: r.result?.objects
      .filter((o) => o.kind === 'certificate')
      .map((o) => ({ location: o.location, der: Buffer.from(o.cert.der).toString('hex'), subject: o.cert.subject })),
  };
}

/** What a walk gives, each source looked at before the next is read (a reused buffer's views last that long). */
function walk(w: Iterable<SourceRead>): unknown[] {
  const out: unknown[] = [];
  for (const r of w) out.push(seen(r));
  return out;
}

/** A tree of every kind of source: PEM with a key, a bundle, DER, a kubeconfig, a damaged block, no certificate, unreadable. */
function tree(): { root: string; keyPem: string } {
  const root = mkdtempSync(join(dir, 'tree-'));
  mkdirSync(join(root, 'sub'));
  const ca = newCa('CN=spool-root');
  const kp = generateKey('ecdsa-p256');
  const leaf = issue(ca, { subject: 'CN=spool-leaf', sans: { dns: ['spool.example'] } }, { key: kp });
  const keyPem = kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(join(root, 'ca.crt'), ca.cert.toPem());
  writeFileSync(join(root, 'tls.pem'), leaf.toPem() + keyPem);
  writeFileSync(join(root, 'sub', 'bundle.pem'), leaf.toPem() + ca.cert.toPem());
  writeFileSync(join(root, 'sub', 'leaf.der'), leaf.der);
  writeFileSync(join(root, 'damaged.pem'), `${ca.cert.toPem()}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
  writeFileSync(join(root, 'notes.txt'), 'nothing here\n');
  writeFileSync(
    join(root, 'admin.conf'),
    writeKubeconfig({
      clusterName: 'k',
      server: 'https://cp:6443',
      caPem: ca.cert.toPem(),
      userName: 'admin',
      clientCertPem: leaf.toPem(),
      clientKeyPem: keyPem,
    }),
  );
  // Unreadable, even by root: a link to nowhere.
  symlinkSync(join(root, 'gone.crt'), join(root, 'sub', 'dangling.crt'));
  return { root, keyPem };
}

/** The spool's file, through this process's descriptor (it is unlinked as soon as it is opened). */
function spoolFile(): string | undefined {
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.includes('anchorage-spool-') && target.endsWith('(deleted)')) return `/proc/self/fd/${fd}`;
  }
  return undefined;
}

describe('certificate spool', () => {
  it('replays the recorded walk: every source as the walk gave it, certificates as views or copies', () => {
    const { root, keyPem } = tree();
    const spool = new CertificateSpool();
    const walked = walk(spool.record(eachInput([root])));
    expect(spool.complete).toBe(true);
    expect(walked.length).toBe(8);
    // Two sources the walk reports as errors: a file of no known format, a link to nowhere.
    expect(
      walked.filter((s) => (s as { error?: string }).error !== undefined).map((s) => basename((s as { source: string }).source)),
    ).toEqual(['notes.txt', 'dangling.crt']);
    expect(walk(spool.replay(true))).toEqual(walked);
    const kept = [...spool.replay(false)];
    expect(kept.map(seen)).toEqual(walked);
    // Copies stay valid after the walk moved on; views of the reused buffer are only promised until the next source.
    expect(
      kept
        .flatMap((r) => r.result?.objects ?? [])
        .every((o) => o.kind === 'certificate' && o.cert.der.buffer.byteLength === o.cert.der.length),
    ).toBe(true);
    // No private key, in any form, is written: not the PEM, not its base64 body, not its DER.
    const file = spoolFile();
    expect(file).toBeDefined();
    const bytes = readFileSync(file as string);
    expect(bytes.length).toBe(spool.bytes);
    const keyDer = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(bytes.includes(keyDer)).toBe(false);
    expect(bytes.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    expect(bytes.includes(Buffer.from(keyPem.split('\n')[1] as string))).toBe(false);
    spool.close();
    expect(spoolFile()).toBeUndefined();
  });

  it('holds records across its 1 MiB chunks and records larger than one', () => {
    const root = mkdtempSync(join(dir, 'big-'));
    const ca = newCa('CN=spool-big-root');
    const old = new Date(NOW.getTime() - 10 * DAY);
    const leaves = Array.from({ length: 200 }, (_, i) =>
      issue(ca, {
        subject: `CN=leaf-${i}`,
        sans: { dns: Array.from({ length: 40 }, (_, j) => `n${j}.leaf-${i}.example`) },
        validity: { notBefore: old, days: 30 },
      }),
    );
    const pem = leaves.map((c) => c.toPem()).join('');
    // One source far larger than a chunk (its record too), then many that straddle chunk boundaries.
    writeFileSync(join(root, 'a-bundle.pem'), pem.repeat(6));
    for (let i = 0; i < 1200; i++)
      writeFileSync(join(root, `leaf-${String(i).padStart(4, '0')}.crt`), (leaves[i % leaves.length] as { toPem(): string }).toPem());
    const spool = new CertificateSpool();
    const walked = walk(spool.record(eachInput([root])));
    expect(spool.complete).toBe(true);
    expect(spool.bytes).toBeGreaterThan(2 * 1024 * 1024);
    expect((walked[0] as { certs: unknown[] }).certs.length).toBe(1200);
    expect(walk(spool.replay(true))).toEqual(walked);
    expect(walk(spool.replay(false))).toEqual(walked);
    // A replay reads as it goes: with its file closed after the first source, the next read fails.
    const it = spool.replay(true)[Symbol.iterator]();
    expect(it.next().done).toBe(false);
    spool.close();
    expect(() => {
      for (let r = it.next(); !r.done; r = it.next());
    }).toThrow(/EBADF|bad file descriptor/i);
  });

  it('past its budget, or where it cannot be created, it replays nothing and the walk is unchanged', () => {
    const { root } = tree();
    const full = walk(eachInput([root]));
    for (const spool of [
      new CertificateSpool(undefined, 2000),
      new CertificateSpool(join(dir, 'missing')),
      new CertificateSpool(undefined, 0),
    ]) {
      expect(walk(spool.record(eachInput([root])))).toEqual(full);
      expect(spool.complete).toBe(false);
      expect(() => spool.replay(true)).toThrow(/not completed/);
      spool.close();
    }
    // Stopped before the walk's end: not complete either.
    const spool = new CertificateSpool();
    for (const _ of spool.record(eachInput([root]))) break;
    expect(spool.complete).toBe(false);
    spool.close();
    expect(spoolFile()).toBeUndefined();
  });
});
