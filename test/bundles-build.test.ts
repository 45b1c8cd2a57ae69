// `anchorage bundle build`, the controller's offline twin: sources from manifests, filters, private keys
// refused, deterministic output, formats opened by openssl and keytool, tenant rules.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { anchorage } from './cluster/harness.ts';
import { bundleFingerprints, openssl, opensslCa, opensslFingerprint, opensslIssue } from './support/openssl.ts';

let dir: string;
const pem = (n: string): string => readFileSync(join(dir, `${n}.crt`), 'utf8');
const fp = (certPem: string): string => opensslFingerprint(certPem);
const fps = bundleFingerprints;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bundles-build-'));
  opensslCa(dir, 'root-a', '/CN=Root A', 30);
  opensslCa(dir, 'root-b', '/CN=Root B', 30);
  opensslIssue(dir, 'root-a', 'leaf', '/CN=leaf.example', 'basicConstraints=CA:FALSE', 30);
  // An expired CA, self-signed by `openssl ca` with explicit dates.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\nx509_extensions = e\n[p]\ncommonName = supplied\n[e]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n',
  );
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
    'old.key',
    '-out',
    'old.csr',
    '-subj',
    '/CN=Old Root',
  );
  openssl(
    dir,
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-selfsign',
    '-keyfile',
    'old.key',
    '-in',
    'old.csr',
    '-out',
    'old.crt',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20210101000000Z',
    '-rand_serial',
    '-notext',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const indent = (s: string, n: number): string =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');

function config(spec: string, extra = ''): string {
  const f = join(dir, `cfg-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, `${spec}\n${extra}`);
  return f;
}

describe('anchorage bundle build', () => {
  const objects = () => `---
apiVersion: v1
kind: ConfigMap
metadata: {name: roots, namespace: anchorage, labels: {trust: "yes"}}
data:
  a.crt: |
${indent(pem('root-a'), 4)}
  notes.txt: not a certificate
---
apiVersion: v1
kind: Secret
metadata: {name: more, namespace: anchorage, labels: {trust: "yes"}}
data:
  ca.crt: ${Buffer.from(pem('root-b') + pem('old') + pem('leaf')).toString('base64')}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {bundle: "on"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
`;

  it('writes sorted, de-duplicated, filtered PEM, PKCS#12 and JKS that openssl and keytool open, the same bytes twice', () => {
    const cfg = config(
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: corp}
spec:
  sources:
  - configMap: {name: roots, keys: ["*.crt"]}
  - secret: {selector: {matchLabels: {trust: "yes"}}, keys: [ca.crt]}
  - inLine: |
${indent(pem('root-a'), 6)}
  filters: {dropExpired: true, dropNonCA: true}
  target:
    namespaceSelector: {matchLabels: {bundle: "on"}}
    configMap:
      data: [{key: ca.crt}, {key: truststore.p12, format: PKCS12, password: pw}, {key: truststore.jks, format: JKS}]
    secret:
      data: [{key: ca.crt}]
    clusterTrustBundle: {signerName: example.com/corp}`,
      objects(),
    );
    const out = join(dir, 'out1');
    const r = anchorage(['bundle', 'build', '--config', cfg, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ClusterBundle corp: 2 CA certificates/);
    const bundlePem = readFileSync(join(out, 'configmap', 'ca.crt'), 'utf8');
    // Root A (once, from two sources) and Root B; the leaf (not a CA) and the expired root are dropped.
    expect(fps(bundlePem).sort()).toEqual([fp(pem('root-a')), fp(pem('root-b'))].sort());
    expect(execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(out, 'configmap', 'ca.crt')]).length).toBeGreaterThan(0);
    const subjects = execFileSync('openssl', ['pkcs12', '-in', join(out, 'configmap', 'truststore.p12'), '-passin', 'pass:pw', '-nokeys'])
      .toString()
      .match(/subject=.*$/gm);
    expect(subjects?.map((s) => s.replace(/ /g, '')).sort()).toEqual(['subject=CN=RootA', 'subject=CN=RootB']);
    const ks = execFileSync('keytool', [
      '-list',
      '-v',
      '-keystore',
      join(out, 'configmap', 'truststore.jks'),
      '-storepass',
      'changeit',
    ]).toString();
    expect(ks).toMatch(/Your keystore contains 2 entries/);
    expect(ks.match(/trustedCertEntry/g)).toHaveLength(2);
    const p12ks = execFileSync('keytool', [
      '-list',
      '-keystore',
      join(out, 'configmap', 'truststore.p12'),
      '-storetype',
      'PKCS12',
      '-storepass',
      'pw',
    ]).toString();
    expect(p12ks).toMatch(/Your keystore contains 2 entries/);
    // The manifests: a ConfigMap and a Secret in the selected namespace only, and the ClusterTrustBundle.
    const docs = parseAllDocuments(readFileSync(join(out, 'manifests.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`)).toEqual([
      'ConfigMap team-a/corp',
      'Secret team-a/corp',
      'ClusterTrustBundle /example.com:corp:corp',
    ]);
    expect(docs[0].metadata.labels['trust.anchorage.dev/bundle']).toBe('c.corp');
    expect(docs[0].data['ca.crt']).toBe(bundlePem);
    expect(Buffer.from(docs[1].data['ca.crt'], 'base64').toString()).toBe(bundlePem);
    expect(docs[2].spec.trustBundle).toBe(bundlePem);
    // Deterministic: a second build gives the same bytes.
    const out2 = join(dir, 'out2');
    expect(anchorage(['bundle', 'build', '--config', cfg, '--out', out2]).code).toBe(0);
    for (const f of ['configmap/ca.crt', 'configmap/truststore.p12', 'configmap/truststore.jks', 'manifests.yaml'])
      expect(readFileSync(join(out2, f)).equals(readFileSync(join(out, f)))).toBe(true);
  });

  it('refuses a source holding a private key, and never writes it', () => {
    const cfg = config(
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: leaky}
spec:
  sources:
  - inLine: |
${indent(pem('root-a') + readFileSync(join(dir, 'root-a.key'), 'utf8'), 6)}
  target: {configMap: {data: [{key: ca.crt}]}}`,
    );
    const out = join(dir, 'leaky');
    const r = anchorage(['bundle', 'build', '--config', cfg, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: ClusterBundle leaky: PrivateKeyInSource: inLine: holds a private key/);
    expect(spawnSync('ls', [out]).status).not.toBe(0);
  });

  it("refuses a tenant's Bundle that reads another namespace", () => {
    const cfg = config(
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: Bundle
metadata: {name: mine, namespace: team-a}
spec:
  sources: [{secret: {name: more, namespace: anchorage}}]
  target: {configMap: {data: [{key: ca.crt}]}}`,
      objects(),
    );
    const r = anchorage(['bundle', 'build', '--config', cfg, '--out', join(dir, 'tenant')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /CrossNamespaceRefused: source secret in namespace 'anchorage': a Bundle reads only its own namespace 'team-a'/,
    );
  });

  it("reads trust-manager's Bundle as it is", () => {
    const cfg = config(
      `apiVersion: trust.cert-manager.io/v1alpha1
kind: Bundle
metadata: {name: tm}
spec:
  sources:
  - configMap: {name: roots, key: a.crt}
  - useDefaultCAs: true
  target:
    configMap: {key: root-certs.pem}
    additionalFormats: {jks: {key: bundle.jks}}`,
      objects(),
    );
    const out = join(dir, 'tm');
    const r = anchorage(['bundle', 'build', '--config', cfg, '--out', out, '--namespace', 'team-b']);
    expect(r.stderr).toBe('');
    // Over a hundred public roots: compared by their base64 bodies rather than one openssl run each.
    const bodies = (text: string): string[] =>
      [...text.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END/g)].map((m) => (m[1] as string).replace(/\s/g, ''));
    const n = bodies(readFileSync(join(out, 'configmap', 'root-certs.pem'), 'utf8'));
    expect(n).toContain(bodies(pem('root-a'))[0]);
    expect(n).toContain(bodies(readFileSync('/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt', 'utf8'))[0]);
    expect(new Set(n).size).toBe(n.length);
    // Debian's package: one root per file under /usr/share/ca-certificates/mozilla, plus Root A.
    expect(n.length).toBe(readdirSync('/usr/share/ca-certificates/mozilla').filter((f) => f.endsWith('.crt')).length + 1);
    expect(r.stdout).toMatch(/default CAs debian-ca-certificates\/\S+\+sha256:[0-9a-f]{12}/);
    expect(
      execFileSync('keytool', ['-list', '-keystore', join(out, 'configmap', 'bundle.jks'), '-storepass', 'changeit']).toString(),
    ).toMatch(new RegExp(`Your keystore contains ${n.length} entries`));
  });

  it("reads trust-manager's v1alpha2 ClusterBundle: sourceRefs with key wildcards, inLineCAs, PKCS12 profiles, the JKS key", () => {
    const cfg = config(
      `apiVersion: trust-manager.io/v1alpha2
kind: ClusterBundle
metadata:
  name: tm2
  annotations: {internal.trust-manager.io/jks-key: bundle.jks}
spec:
  sourceRefs:
  - {kind: ConfigMap, name: roots, key: "*.crt"}
  - {kind: Secret, selector: {matchLabels: {trust: "yes"}}, key: "ca.*"}
  inLineCAs: |
${indent(pem('root-a'), 4)}
  target:
    namespaceSelector: {matchLabels: {bundle: "on"}}
    configMap:
      data:
      - {key: ca.pem}
      - {key: legacy.p12, format: PKCS12}
      - {key: modern.p12, format: PKCS12, password: pw, profile: Modern2023}
      - {key: bundle.jks, format: PKCS12, password: changeit}
      metadata: {labels: {team: platform}}
    secret:
      data: [{key: ca.pem}]`,
      objects(),
    );
    const out = join(dir, 'tm2');
    const r = anchorage(['bundle', 'build', '--config', cfg, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Root A (configMap and inline), Root B, the expired root and the leaf from the Secret (no filters in v1alpha2).
    expect(fps(readFileSync(join(out, 'configmap', 'ca.pem'), 'utf8')).sort()).toEqual(
      [fp(pem('root-a')), fp(pem('root-b')), fp(pem('old')), fp(pem('leaf'))].sort(),
    );
    // trust-manager's default profile (LegacyDES: 3DES, SHA-1 MAC) with no password, and Modern2023 with one.
    const info = (f: string, pass: string): string => {
      const r = spawnSync('openssl', ['pkcs12', '-in', join(out, 'configmap', f), '-passin', `pass:${pass}`, '-nokeys', '-info'], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      return r.stdout + r.stderr;
    };
    const legacy = info('legacy.p12', '');
    expect(legacy).toMatch(/pbeWithSHA1And3-KeyTripleDES-CBC/);
    expect(legacy).toMatch(/MAC: sha1/);
    const modern = info('modern.p12', 'pw');
    expect(modern).toMatch(/AES-256-CBC/);
    expect(modern).toMatch(/MAC: sha256/);
    // The key trust-manager's conversion marks as the Bundle's JKS is a JKS keystore.
    expect(
      execFileSync('keytool', [
        '-list',
        '-keystore',
        join(out, 'configmap', 'bundle.jks'),
        '-storetype',
        'JKS',
        '-storepass',
        'changeit',
      ]).toString(),
    ).toMatch(/Your keystore contains 4 entries/);
    const docs = parseAllDocuments(readFileSync(join(out, 'manifests.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual(['ConfigMap team-a/tm2', 'Secret team-a/tm2']);
    expect(docs[0].metadata.labels.team).toBe('platform');
    expect(docs[1].metadata.labels.team).toBeUndefined();
    expect(docs[0].metadata.labels['trust.anchorage.dev/bundle']).toBe('tmc.tm2');
  });

  it('resolves bundle sources from the other bundles of the config, and needs --bundle to choose', () => {
    const cfg = config(
      `apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: partners}
spec:
  sources:
  - inLine: |
${indent(pem('root-b'), 6)}
  target: {configMap: {data: [{key: ca.crt}]}}
---
apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: all}
spec:
  sources: [{bundle: {name: partners}}, {configMap: {name: roots, keys: [a.crt]}}]
  target: {configMap: {data: [{key: ca.crt}]}}`,
      objects(),
    );
    const none = anchorage(['bundle', 'build', '--config', cfg, '--out', join(dir, 'two')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: config: 2 bundles \(partners, all\): choose one with --bundle/);
    const out = join(dir, 'all');
    const r = anchorage(['bundle', 'build', '--config', cfg, '--bundle', 'all', '--out', out]);
    expect(r.stderr).toBe('');
    expect(fps(readFileSync(join(out, 'configmap', 'ca.crt'), 'utf8')).sort()).toEqual([fp(pem('root-a')), fp(pem('root-b'))].sort());
    const missing = anchorage(['bundle', 'build', '--config', cfg, '--bundle', 'nope', '--out', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--bundle: no bundle named 'nope'/);
  });

  it('keeps a removed CA for the grace period across builds into the same folder, then drops it', () => {
    const rot = (pems: string): string =>
      config(`apiVersion: trust.anchorage.dev/v1alpha1
kind: ClusterBundle
metadata: {name: rot}
spec:
  sources:
  - inLine: |
${indent(pems, 6)}
  rotation: {gracePeriodSeconds: 3600}
  target: {configMap: {data: [{key: ca.crt}]}}`);
    const out = join(dir, 'rot');
    const build = (cfg: string, now: string): ReturnType<typeof anchorage> =>
      anchorage(['bundle', 'build', '--config', cfg, '--out', out, '--force', '--now', now]);
    const bundle = (): string[] => fps(readFileSync(join(out, 'configmap', 'ca.crt'), 'utf8')).sort();
    expect(build(rot(pem('root-a') + pem('root-b')), '2026-06-01T10:00:00Z').code).toBe(0);
    expect(bundle()).toEqual([fp(pem('root-a')), fp(pem('root-b'))].sort());
    // B leaves the sources: still in the bundle, listed as retiring since this build.
    const second = build(rot(pem('root-a')), '2026-06-01T10:30:00Z');
    expect(second.stderr).toBe('');
    expect(second.stdout).toMatch(/2 CA certificates \(1 retiring\)/);
    expect(bundle()).toEqual([fp(pem('root-a')), fp(pem('root-b'))].sort());
    const status = JSON.parse(readFileSync(join(out, 'status.json'), 'utf8'));
    expect(status.retiring.map((x: { sha256: string; removedAt: string }) => [x.sha256, x.removedAt])).toEqual([
      [fp(pem('root-b')), '2026-06-01T10:30:00Z'],
    ]);
    expect(status.fingerprints).toEqual([fp(pem('root-a'))]);
    // Within the grace period B stays; an hour after it left, it is gone.
    expect(build(rot(pem('root-a')), '2026-06-01T11:29:00Z').code).toBe(0);
    expect(bundle()).toEqual([fp(pem('root-a')), fp(pem('root-b'))].sort());
    expect(build(rot(pem('root-a')), '2026-06-01T11:31:00Z').code).toBe(0);
    expect(bundle()).toEqual([fp(pem('root-a'))]);
    expect(JSON.parse(readFileSync(join(out, 'status.json'), 'utf8')).retiring).toEqual([]);
    // A status.json that is not one is refused, nothing written.
    writeFileSync(join(out, 'status.json'), '{"retiring": 5}');
    const bad = build(rot(pem('root-a')), '2026-06-01T12:00:00Z');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/status.json: not the status.json of a previous bundle build/);
  });
});
