// `anchorage lint` over directories streams (src/cli/commands/lint.ts streamLint: four walks, holding only
// the certificates that issue others or share a key). Its report must be what the in-memory engine
// (lintCertificates over every certificate at once, the path the lint tests check against zlint and the
// spec) reports over the same certificates: issuers found by key id and by signature, re-keyed CAs,
// copies of a CA, shared keys, bundles, kubeconfigs and a file named twice.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lintPaths } from '../src/cli/commands/lint.ts';
import { readInputs } from '../src/cli/inputs.ts';
import { writeKubeconfig } from '../src/k8s/kubeconfig.ts';
import { type LintTarget, lintCertificates } from '../src/lint/engine.ts';
import { generateKey } from '../src/x509/keys.ts';
import { DAY, issue, NOW, newCa } from './support/lint-testkit.ts';

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
    for (const paths of cases) {
      const streamed = lintPaths(paths, { at: NOW.toISOString() });
      const expected = lintCertificates(collected(paths), { now: NOW });
      expect({ ...streamed, skipped: [] }, paths.join(' ')).toEqual({ ...expected, skipped: [] });
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
  });
});
