// `anchorage lint` over directories streams (src/cli/commands/lint.ts streamLint: two walks in the common
// case, up to four, holding only the certificates that issue others or share a key). Its report must be what the in-memory engine
// (lintCertificates over every certificate at once, the path the lint tests check against zlint and the
// spec) reports over the same certificates: issuers found by key id and by signature, re-keyed CAs,
// copies of a CA, shared keys, bundles, kubeconfigs and a file named twice.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MAX_KEY_GUESSED, streamLint, streamLintJson, streamLintSarif, streamLintTable, streamLintYaml } from '../src/cli/commands/lint.ts';
import { readInputs } from '../src/cli/inputs.ts';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import { type LintTarget, lintCertificates, MAX_SHARERS_LISTED } from '../src/lint/engine.ts';
import { loadPolicy } from '../src/lint/policy.ts';
import { toSarif } from '../src/lint/sarif.ts';
import { generateKey } from '../src/x509/keys.ts';
import { lintPaths, renderLint } from './support/lint-report.ts';
import { DAY, issue, NOW, newCa } from './support/lint-testkit.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-lint-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The targets readInputs gives, as `anchorage lint` built them before it streamed. */
function collected(paths: string[]): LintTarget[] {
  const targets: LintTarget[] = [];
  for (const r of readInputs(paths)) {
    const certs = (r.result?.objects ?? []).filter((o) => o.kind === 'certificate');
    for (const o of certs) {
      const t: LintTarget = { cert: o.cert, source: r.source };
      if (certs.length > 1 || r.result?.format === 'kubeconfig') t.location = o.location;
      targets.push(t);
    }
  }
  return targets;
}

describe('lint streamed', () => {
  it('reports what the in-memory engine reports over the same certificates', () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'a', 'b'), { recursive: true });
    const ca = newCa('CN=stream-root');
    // The same name, another key (a re-keyed CA), and a third never written: its leaf claims the name.
    const rekeyed = newCa('CN=stream-root');
    const ghost = newCa('CN=stream-root');
    const old = newCa('CN=old-root', {}, new Date(NOW.getTime() - 4000 * DAY));
    // An intermediate without key ids: its leaves' issuer is found by signature.
    const interKp = generateKey('ecdsa-p256');
    const inter = {
      cert: issue(
        ca,
        {
          subject: 'CN=stream-int',
          ca: true,
          keyUsage: ['keyCertSign', 'cRLSign'],
          sans: {},
          subjectKeyId: false,
          validity: { days: 400 },
        },
        { key: interKp },
      ),
      key: interKp.privateKey,
    };
    const shared = generateKey('ecdsa-p256');
    // A leaf that issued another: CA evidence comes only from the set (issuesOthers), found after it in the walk.
    const fakeKp = generateKey('ecdsa-p256');
    const fake = {
      cert: issue(ca, { subject: 'CN=not-a-ca', sans: { dns: ['not-a-ca.example'] } }, { key: fakeKp }),
      key: fakeKp.privateKey,
    };
    const files: [string, string][] = [
      ['ca.crt', ca.cert.toPem()],
      ['a/ca-copy.crt', ca.cert.toPem()],
      ['a/rekeyed.crt', rekeyed.cert.toPem()],
      ['a/b/inter.crt', inter.cert.toPem()],
      ['old.crt', old.cert.toPem()],
      ['leaf-1.crt', issue(ca, { subject: 'CN=one', sans: { dns: ['one.example'] } }).toPem()],
      ['leaf-2.crt', issue(rekeyed, { subject: 'CN=two', sans: { dns: ['two.example'] } }).toPem()],
      ['leaf-3.crt', issue(ghost, { subject: 'CN=three', sans: { dns: ['three.example'] } }).toPem()],
      ['a/leaf-4.crt', issue(inter, { subject: 'CN=four', sans: { dns: ['four.example'] }, authorityKeyId: false }).toPem()],
      ['a/b/shared-1.crt', issue(ca, { subject: 'CN=shared-one', sans: { dns: ['s1.example'] } }, { key: shared }).toPem()],
      ['a/b/shared-2.crt', issue(old, { subject: 'CN=shared-two', sans: { dns: ['s2.example'] } }, { key: shared }).toPem()],
      [
        'bundle.pem',
        `${issue(inter, { subject: 'CN=apiserver', sans: { dns: ['kubernetes'] }, authorityKeyId: false }).toPem()}${inter.cert.toPem()}${ca.cert.toPem()}`,
      ],
      ['a/not-a-ca.crt', fake.cert.toPem()],
      ['z-issued-by-a-leaf.crt', issue(fake, { subject: 'CN=five', sans: { dns: ['five.example'] } }).toPem()],
      ['self.crt', issue(null, { subject: 'CN=self', sans: { dns: ['self.example'] } }).toPem()],
      ['notes.txt', 'no certificate here\n'],
      [
        'admin.conf',
        writeKubeconfig({
          clusterName: 'kubernetes',
          server: 'https://cp1:6443',
          caPem: ca.cert.toPem(),
          userName: 'kubernetes-admin',
          clientCertPem: issue(ca, {
            subject: 'CN=kubernetes-admin,O=kubeadm:cluster-admins',
            sans: {},
            extKeyUsage: ['clientAuth'],
          }).toPem(),
        }),
      ],
    ];
    for (const [name, text] of files) writeFileSync(join(tree, name), text);
    const cases = [[tree], [join(tree, 'leaf-1.crt')], [join(tree, 'a'), join(tree, 'a', 'leaf-4.crt'), join(tree, 'bundle.pem')]];
    let findings = 0;
    // A leaf that issued another and a key shared under two names are missed by the first walk's guess (a walk
    // reads the pool), an intermediate without key ids needs signatures (a walk looks up every issuer).
    expect(streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined).walks).toBe(4);
    for (const paths of cases) {
      const streamed = lintPaths(paths, { at: NOW.toISOString() });
      const expected = lintCertificates(collected(paths), { now: NOW });
      expect({ ...streamed, skipped: [] }, paths.join(' ')).toEqual({ ...expected, skipped: [] });
      // The later walks replay the first one's spool; without it they read the files: the same findings.
      const bySpool: unknown[] = [];
      const byFiles: unknown[] = [];
      const policy = loadPolicy(undefined);
      expect(streamLint(paths, { policy, now: NOW }, (f) => bySpool.push(f)).spooled).toBe(true);
      expect(streamLint(paths, { policy, now: NOW, spoolBytes: 0 }, (f) => byFiles.push(f)).spooled).toBe(false);
      expect(bySpool).toEqual(expected.findings);
      expect(byFiles).toEqual(expected.findings);
      findings += expected.findings.length;
      if (paths[0] === tree) {
        // The set-wide facts really were exercised: a claimed issuer, a shared key, CA evidence by issuance.
        const ids = new Set(expected.findings.map((f) => f.lintId));
        expect(ids.has('x509.signature.not-by-issuer'), [...ids].join(' ')).toBe(true);
        expect(ids.has('k8s.key.shared-across-roles'), [...ids].join(' ')).toBe(true);
        expect(ids.has('x509.ca.ca-false') || ids.has('x509.ca.basic-constraints-missing'), [...ids].join(' ')).toBe(true);
        expect(streamed.skipped.map((s) => s.source)).toEqual([join(tree, 'notes.txt')]);
      }
    }
    expect(findings).toBeGreaterThan(0);
    // -o json, written as the last walk goes: the report's fields, findings before the summary.
    // A clean CA alone: no finding, SARIF's empty results array.
    const clean = join(dir, 'clean');
    mkdirSync(clean);
    writeFileSync(join(clean, 'ca.crt'), newCa('CN=clean-root').cert.toPem());
    expect(lintPaths([clean], { at: NOW.toISOString() }).findings).toEqual([]);
    for (const paths of [...cases, [join(tree, 'self.crt')], [clean]]) {
      const report = lintPaths(paths, { at: NOW.toISOString() });
      const chunks: string[] = [];
      const r = streamLintJson(paths, { at: NOW.toISOString() }, (c) => chunks.push(c));
      const { certificates, findings: fs, summary, skipped } = report;
      expect(chunks.join(''), paths.join(' ')).toBe(`${JSON.stringify({ certificates, findings: fs, summary, skipped }, null, 2)}\n`);
      expect(r).toEqual({ certificates, summary });
      // -o yaml, written as the last walk goes: what the YAML library prints for the whole document, which reads back
      // as the report.
      let yaml = '';
      const ry = streamLintYaml(paths, { at: NOW.toISOString() }, (c) => {
        yaml += c;
      });
      expect(yaml, paths.join(' ')).toBe(stringify({ certificates, findings: fs, summary, skipped }, { lineWidth: 0 }));
      expect(parse(yaml)).toEqual(JSON.parse(JSON.stringify(report)));
      expect(ry).toEqual({ certificates, summary });
      // -o sarif, written as the last walk goes: toSarif's document as JSON.stringify prints it.
      let sarif = '';
      const rs = streamLintSarif(paths, { at: NOW.toISOString() }, (c) => {
        sarif += c;
      });
      expect(sarif, paths.join(' ')).toBe(`${JSON.stringify(toSarif(report), null, 2)}\n`);
      expect(rs).toEqual({ certificates, summary });
      // The table, printed at the end from the GroupedTable, in memory and through its temporary files.
      for (const budget of [undefined, 1]) {
        let table = '';
        const t = streamLintTable(
          paths,
          { at: NOW.toISOString(), verbose: true },
          (c) => {
            table += c;
          },
          NOW,
          budget,
        );
        expect(table, paths.join(' ')).toBe(renderLint(report, { verbose: true }));
        expect(t).toEqual({ certificates, summary });
      }
    }
    // Nothing lintable: the one-line error, and nothing written before it.
    const none = join(dir, 'no-certificates');
    mkdirSync(none);
    const written: string[] = [];
    expect(() => streamLintJson([none], {}, (c) => written.push(c))).toThrow(/no certificates found/);
    expect(written).toEqual([]);
  });

  it('holds neither copies of one certificate nor renewals under one name and key (the same report all the same)', () => {
    const tree = join(dir, 'copies');
    mkdirSync(tree);
    const ca = newCa('CN=copies-root');
    const kp = generateKey('ecdsa-p256');
    const leaf = issue(ca, { subject: 'CN=copied', sans: { dns: ['copied.example'] } }).toPem();
    writeFileSync(join(tree, 'ca.crt'), ca.cert.toPem());
    for (let i = 0; i < 20; i++) writeFileSync(join(tree, `copy-${String(i).padStart(2, '0')}.crt`), leaf);
    for (const name of ['renewed-1.crt', 'renewed-2.crt'])
      writeFileSync(join(tree, name), issue(ca, { subject: 'CN=renewed', sans: { dns: ['renewed.example'] } }, { key: kp }).toPem());
    const streamed = streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined);
    // The CA is guessed in the first walk and every issuer is found by key id: two walks.
    expect(streamed).toMatchObject({ certificates: 23, pooled: 1, walks: 2 });
    expect({ ...lintPaths([tree], { at: NOW.toISOString() }), skipped: [] }).toEqual({
      ...lintCertificates(collected([tree]), { now: NOW }),
      skipped: [],
    });
    // Another name under the renewed key: now the key is shared, and its holders are held.
    writeFileSync(join(tree, 'other-name.crt'), issue(ca, { subject: 'CN=other', sans: { dns: ['other.example'] } }, { key: kp }).toPem());
    // The key's two subjects are in the pool now (the first renewal stands for its name), kept by the first walk
    // as each key's first holders: still two walks.
    expect(streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined)).toMatchObject({
      certificates: 24,
      pooled: 3,
      walks: 2,
    });
    const report = lintPaths([tree], { at: NOW.toISOString() });
    expect({ ...report, skipped: [] }).toEqual({ ...lintCertificates(collected([tree]), { now: NOW }), skipped: [] });
    expect(report.findings.some((f) => f.lintId === 'k8s.key.shared-across-roles')).toBe(true);
  });

  it('holds, of one key shared under many names, only the subjects a finding names (the same report all the same)', () => {
    const tree = join(dir, 'one-key');
    mkdirSync(join(tree, 'b'), { recursive: true });
    const ca = newCa('CN=one-key-root');
    const kp = generateKey('ecdsa-p256');
    writeFileSync(join(tree, 'ca.crt'), ca.cert.toPem());
    // 30 names under one key, in two folders; some names held twice (a renewal, a copy), one of them early,
    // so the pool's first holders are not simply the first files.
    const leaf = (n: number): string => issue(ca, { subject: `CN=holder-${n}`, sans: { dns: [`h${n}.example`] } }, { key: kp }).toPem();
    for (let i = 0; i < 30; i++) writeFileSync(join(tree, i < 15 ? '.' : 'b', `leaf-${String(i).padStart(2, '0')}.crt`), leaf(i));
    writeFileSync(join(tree, 'leaf-00-renewed.crt'), leaf(0));
    writeFileSync(join(tree, 'leaf-03-copy.crt'), readFileSync(join(tree, 'leaf-03.crt')));
    writeFileSync(join(tree, 'b', 'leaf-29-renewed.crt'), leaf(29));
    const streamed = streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined);
    // The CA (named as an issuer) and the first holders of the key's first MAX_SHARERS_LISTED + 1 names, kept
    // by the first walk.
    expect(streamed).toMatchObject({ certificates: 34, pooled: 1 + MAX_SHARERS_LISTED + 1, walks: 2 });
    const report = lintPaths([tree], { at: NOW.toISOString() });
    expect({ ...report, skipped: [] }).toEqual({ ...lintCertificates(collected([tree]), { now: NOW }), skipped: [] });
    const shared = report.findings.filter((f) => f.lintId === 'k8s.key.shared-across-roles');
    expect(shared).toHaveLength(33);
    // Each names ten other holders and counts the other 19 of the 30 names.
    for (const f of shared) expect(f.message).toMatch(/ and 19 more$/);
  });

  it('past MAX_KEY_GUESSED keys, reads the holders of a shared key in a walk of their own (the same report all the same)', () => {
    const tree = join(dir, 'many-keys');
    mkdirSync(tree);
    const ca = newCa('CN=many-keys-root');
    writeFileSync(join(tree, 'ca.crt'), ca.cert.toPem());
    const kp = generateKey('ecdsa-p256');
    // Two names under one key first, then more distinct keys than the first walk keeps first holders of.
    for (const n of ['a', 'b'])
      writeFileSync(
        join(tree, `0-shared-${n}.crt`),
        issue(ca, { subject: `CN=shared-${n}`, sans: { dns: [`${n}.example`] } }, { key: kp }).toPem(),
      );
    const pems: string[] = [];
    for (let i = 0; i < MAX_KEY_GUESSED + 2; i++)
      pems.push(issue(ca, { subject: `CN=own-${i}`, sans: { dns: [`own-${i}.example`] } }).toPem());
    // In a few bundles: the walk order is the files' order, and fewer files keep the test quick.
    for (let b = 0; b < 8; b++) writeFileSync(join(tree, `1-own-${b}.pem`), pems.filter((_, i) => i % 8 === b).join(''));
    const streamed = streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined);
    expect(streamed).toMatchObject({ certificates: MAX_KEY_GUESSED + 5, pooled: 3, walks: 3 });
    const report = lintPaths([tree], { at: NOW.toISOString() });
    expect({ ...report, skipped: [] }).toEqual({ ...lintCertificates(collected([tree]), { now: NOW }), skipped: [] });
    expect(report.findings.filter((f) => f.lintId === 'k8s.key.shared-across-roles')).toHaveLength(2);
  });

  it('finds issuers met after their certificates, copies of CAs and re-keyed CAs in two walks when key ids tell them apart', () => {
    const tree = join(dir, 'issuers-last');
    mkdirSync(join(tree, 'c1'), { recursive: true });
    mkdirSync(join(tree, 'c2'));
    const root = newCa('CN=last-root');
    const intKp = generateKey('ecdsa-p256');
    const inter = {
      cert: issue(
        root,
        { subject: 'CN=last-int', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], sans: {}, validity: { days: 400 } },
        { key: intKp },
      ),
      key: intKp.privateKey,
    };
    // The same name under another key: its leaf names it by key id, the other leaves name the first.
    const rekeyed = newCa('CN=last-int');
    const expired = new Date(NOW.getTime() - 400 * DAY);
    for (const copy of ['c1', 'c2']) {
      // Leaves first in the walk ("a-…" sorts before "int…" and "root…"), the CAs after them.
      for (let i = 0; i < 3; i++)
        writeFileSync(
          join(tree, copy, `a-leaf-${i}.crt`),
          issue(inter, {
            subject: `CN=leaf-${copy}-${i}`,
            sans: { dns: [`leaf-${i}.example`] },
            ...(i === 2 && { validity: { notBefore: expired, notAfter: new Date(expired.getTime() + DAY) } }),
          }).toPem(),
        );
      writeFileSync(
        join(tree, copy, 'a-rekeyed-leaf.crt'),
        issue(rekeyed, { subject: 'CN=rekeyed-leaf', sans: { dns: ['r.example'] } }).toPem(),
      );
      writeFileSync(join(tree, copy, 'int.crt'), inter.cert.toPem());
      writeFileSync(join(tree, copy, 'int-rekeyed.crt'), rekeyed.cert.toPem());
      writeFileSync(join(tree, copy, 'root.crt'), root.cert.toPem());
    }
    const streamed = streamLint([tree], { policy: loadPolicy(undefined), now: NOW }, () => undefined);
    expect(streamed).toMatchObject({ certificates: 14, pooled: 6, walks: 2 });
    const report = lintPaths([tree], { at: NOW.toISOString() });
    const expected = lintCertificates(collected([tree]), { now: NOW });
    expect(expected.findings.length).toBeGreaterThan(0);
    expect({ ...report, skipped: [] }).toEqual({ ...expected, skipped: [] });
  });

  it('writes -o json while the last walk is under way (a file removed after the first output is missed)', async () => {
    // Not a timing test: the reader takes the first chunk, removes the file the walk meets last, then reads
    // on. A command that printed at the end has walked every file before its first byte; a streaming one
    // is held by the full pipe long before the last file (the findings before it are megabytes), so it
    // meets the file gone and fails. Assumes a pipe holds less than a few MiB (Linux: 64 KiB by default).
    const tree = join(dir, 'json-stream');
    mkdirSync(tree, { recursive: true });
    const ca = newCa('CN=json-stream-root');
    // Expired leaves without SANs: several findings each, ~3 KB of JSON per certificate.
    const old = new Date(NOW.getTime() - 400 * DAY);
    for (let i = 0; i < 2000; i++) {
      const c = issue(ca, { subject: `CN=leaf-${i}`, sans: {}, validity: { notBefore: old, notAfter: new Date(old.getTime() + DAY) } });
      writeFileSync(join(tree, `leaf-${String(i).padStart(5, '0')}.crt`), c.toPem());
    }
    const last = join(tree, 'leaf-01999.crt');
    // Without a place for the certificate spool (src/cli/spool.ts) the last walk reads the files, as here it must;
    // the spool's replay reads as it goes too (src/cli/spool.test.ts).
    const child = spawn(node, [main, 'lint', tree, '-o', 'json', '--at', NOW.toISOString()], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: join(dir, 'no-such-folder') },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const out = child.stdout as Readable;
    const first = await new Promise<Buffer>((resolve, reject) => {
      out.once('readable', () => resolve(out.read() as Buffer));
      child.once('error', reject);
    });
    expect(first.toString('latin1')).toMatch(/^\{\n {2}"certificates": 2000,\n {2}"findings": \[/);
    rmSync(last);
    let rest = 0;
    for await (const c of out) rest += (c as Buffer).length;
    const code = await new Promise<number | null>((resolve) =>
      child.exitCode !== null ? resolve(child.exitCode) : child.once('close', resolve),
    );
    expect(first.length + rest).toBeGreaterThan(1_000_000);
    expect(stderr).toMatch(/changed while being linted|no such file/);
    expect(code).toBe(2);
  });
});
