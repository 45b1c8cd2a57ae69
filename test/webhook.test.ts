// The webhook's mutation and AdmissionReview handling without a cluster. The JSON patches are applied by
// kubectl (`patch --local --type=json`: the RFC 6902 implementation the API server itself uses), and the results
// compared with pods written out by hand; bad configuration and flags fail as one line, exit 2; no
// AdmissionReview, however mangled, makes review() throw.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/webhook/config.ts';
import { type MutateContext, mutatePod, type PodLike } from '../src/webhook/mutate.ts';
import { review } from '../src/webhook/review.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';

const ROOT = join(import.meta.dirname, '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const T = '/etc/anchorage/trust';
const F = `${T}/ca-certificates.crt`;
const JAVA = `-Djavax.net.ssl.trustStore=${T}/truststore.jks -Djavax.net.ssl.trustStoreType=JKS -Djavax.net.ssl.trustStorePassword=changeit`;

let bin = '';
let dir = '';
beforeAll(async () => {
  bin = await kubeBinDir();
  dir = mkdtempSync(join(tmpdir(), 'webhook-unit-'));
}, K8S_BUILD_TIMEOUT_MS);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Apply a JSON patch with kubectl, offline. */
function kubectlPatch(pod: unknown, patch: unknown): Record<string, unknown> {
  const f = join(dir, 'pod.json');
  writeFileSync(f, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, ...(pod as object) }));
  const r = spawnSync(join(bin, 'kubectl'), ['patch', '--local', '-f', f, '--type=json', '-p', JSON.stringify(patch), '-o', 'json'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`kubectl patch: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const config = parseConfig({
  trust: {
    bundles: {
      default: { configMap: { name: 'anchorage-trust', key: 'ca.crt', jksKey: 'truststore.jks' } },
      ctb: { clusterTrustBundle: { signerName: 'example.com/corp' } },
    },
  },
  identity: { issuer: { secret: { namespace: 'anchorage', name: 'ca' } } },
});
const ctx = (o: Partial<MutateContext> = {}): MutateContext => ({
  config,
  namespace: 'ns',
  excluded: new Set(['kube-system', 'anchorage']),
  issuerReady: true,
  ...o,
});
const everyVar = (extra: Record<string, string> = {}) => [
  { name: 'SSL_CERT_FILE', value: F },
  { name: 'SSL_CERT_DIR', value: T },
  { name: 'NODE_EXTRA_CA_CERTS', value: F },
  { name: 'REQUESTS_CA_BUNDLE', value: F },
  { name: 'CURL_CA_BUNDLE', value: F },
  { name: 'GIT_SSL_CAINFO', value: F },
  { name: 'JAVA_TOOL_OPTIONS', value: JAVA },
  ...Object.entries(extra).map(([name, value]) => ({ name, value })),
];
const trustMount = { name: 'anchorage-trust', mountPath: T, readOnly: true };
const trustVolume = {
  name: 'anchorage-trust',
  projected: {
    defaultMode: 292,
    sources: [
      { configMap: { name: 'anchorage-trust', items: [{ key: 'ca.crt', path: 'ca-certificates.crt' }] } },
      { configMap: { name: 'anchorage-trust', optional: true, items: [{ key: 'truststore.jks', path: 'truststore.jks' }] } },
    ],
  },
};

describe('mutatePod, applied by kubectl', () => {
  it('a bare pod: every container and init container gets the mount and every variable; an annotation records it', () => {
    const pod = { spec: { initContainers: [{ name: 'i', image: 'x' }], containers: [{ name: 'a', image: 'x' }] } };
    const m = mutatePod(pod, ctx());
    const out = kubectlPatch(pod, m.patch) as { metadata: { annotations: Record<string, string> }; spec: unknown };
    expect(out.spec).toEqual({
      initContainers: [{ name: 'i', image: 'x', env: everyVar(), volumeMounts: [trustMount] }],
      containers: [{ name: 'a', image: 'x', env: everyVar(), volumeMounts: [trustMount] }],
      volumes: [trustVolume],
    });
    expect(out.metadata.annotations).toEqual({ 'trust.anchorage.dev/injected': 'default' });
    // Applying it again changes nothing: the pod is recognised as injected.
    expect(mutatePod(out as PodLike, ctx()).patch).toEqual([]);
  });

  it('never replaces what the pod has: variables (value or valueFrom), mount paths, volumes, annotations', () => {
    const pod = {
      metadata: { annotations: { keep: 'me' } },
      spec: {
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [
              { name: 'SSL_CERT_FILE', value: '/mine.pem' },
              { name: 'JAVA_TOOL_OPTIONS', valueFrom: { configMapKeyRef: { name: 'j', key: 'k' } } },
            ],
            volumeMounts: [{ name: 'mine', mountPath: T }],
          },
        ],
        volumes: [{ name: 'mine', emptyDir: {} }],
      },
    };
    const out = kubectlPatch(pod, mutatePod(pod, ctx()).patch) as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: unknown[]; volumes: unknown[] };
    };
    expect(out.spec.containers).toEqual([
      {
        name: 'a',
        image: 'x',
        env: [
          { name: 'SSL_CERT_FILE', value: '/mine.pem' },
          { name: 'JAVA_TOOL_OPTIONS', valueFrom: { configMapKeyRef: { name: 'j', key: 'k' } } },
          ...everyVar().filter((e) => e.name !== 'SSL_CERT_FILE' && e.name !== 'JAVA_TOOL_OPTIONS'),
        ],
        volumeMounts: [{ name: 'mine', mountPath: T }],
      },
    ]);
    expect(out.spec.volumes).toEqual([{ name: 'mine', emptyDir: {} }, trustVolume]);
    expect(out.metadata.annotations).toEqual({ keep: 'me', 'trust.anchorage.dev/injected': 'default' });
  });

  it('identity: a Secret volume mounted everywhere and its name annotated; none while the issuer is down (a warning)', () => {
    const pod = {
      metadata: { generateName: 'web-5d8f7c-', annotations: { 'identity.anchorage.dev/enabled': 'true' } },
      spec: { containers: [{ name: 'a', image: 'x' }] },
    };
    const m = mutatePod(pod, ctx());
    expect(m.identitySecret).toMatch(/^web-5d8f7c-identity-[0-9a-f]{12}$/);
    const out = kubectlPatch(pod, m.patch) as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: { volumeMounts: unknown[] }[]; volumes: unknown[] };
    };
    expect(out.spec.containers[0]?.volumeMounts).toEqual([
      trustMount,
      { name: 'anchorage-identity', mountPath: '/var/run/anchorage/identity', readOnly: true },
    ]);
    expect(out.spec.volumes).toContainEqual({ name: 'anchorage-identity', secret: { secretName: m.identitySecret } });
    expect(out.metadata.annotations['identity.anchorage.dev/secret']).toBe(m.identitySecret);
    const down = mutatePod(pod, ctx({ issuerReady: false }));
    expect(down.identitySecret).toBeUndefined();
    expect(down.warnings).toEqual(['anchorage: the identity issuer is not available: pod admitted without an identity']);
    const out2 = kubectlPatch(pod, down.patch) as { metadata: { annotations: Record<string, string> } };
    expect(out2.metadata.annotations['webhook.anchorage.dev/warning']).toMatch(/identity issuer is not available/);
  });

  it('namespace labels and pod annotations: opt-out, opt-in mode, bundle choice, containers, unknown bundle', () => {
    const pod = { spec: { containers: [{ name: 'a', image: 'x' }] } };
    expect(mutatePod(pod, ctx({ namespaceLabels: { 'trust.anchorage.dev/inject': 'disabled' } }))).toMatchObject({
      patch: [],
      skipped: 'namespace opted out',
    });
    expect(mutatePod(pod, ctx({ namespace: 'kube-system' }))).toMatchObject({ patch: [], skipped: 'excluded namespace' });
    const optIn = parseConfig({ trust: { mode: 'opt-in' } });
    expect(mutatePod(pod, ctx({ config: optIn }))).toMatchObject({ patch: [], skipped: 'not opted in' });
    expect(mutatePod(pod, ctx({ config: optIn, namespaceLabels: { 'trust.anchorage.dev/inject': 'enabled' } })).bundle).toBe('default');
    const ctb = mutatePod(pod, ctx({ namespaceLabels: { 'trust.anchorage.dev/bundle': 'ctb' } }));
    const out = kubectlPatch(pod, ctb.patch) as { spec: { containers: { env: { name: string }[] }[]; volumes: unknown[] } };
    expect(out.spec.volumes).toEqual([
      {
        name: 'anchorage-trust',
        projected: {
          defaultMode: 292,
          sources: [
            { clusterTrustBundle: { signerName: 'example.com/corp', labelSelector: { matchLabels: {} }, path: 'ca-certificates.crt' } },
          ],
        },
      },
    ]);
    // No truststore in a ClusterTrustBundle: no JAVA_TOOL_OPTIONS.
    expect(out.spec.containers[0]?.env.map((e) => e.name)).not.toContain('JAVA_TOOL_OPTIONS');
    const unknown = mutatePod({ metadata: { annotations: { 'trust.anchorage.dev/bundle': 'nope' } }, ...pod }, ctx());
    expect(unknown.patch).toEqual([]);
    expect(unknown.warnings).toEqual(["anchorage: no trust bundle named 'nope' is configured: trust not injected"]);
    const two = {
      metadata: { annotations: { 'trust.anchorage.dev/containers': 'b, ghost' } },
      spec: {
        containers: [
          { name: 'a', image: 'x' },
          { name: 'b', image: 'x' },
        ],
      },
    };
    const m = mutatePod(two, ctx());
    expect(m.warnings).toEqual(['anchorage: trust.anchorage.dev/containers names no container ghost']);
    const o2 = kubectlPatch(two, m.patch) as { spec: { containers: { env?: unknown[] }[] } };
    expect(o2.spec.containers[0]?.env).toBeUndefined();
    expect(o2.spec.containers[1]?.env).toHaveLength(7);
  });
});

describe('review()', () => {
  const rctx = { config, excluded: new Set(['kube-system']), issuerReady: true, labelsOf: () => undefined };
  const body = (request: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  const podKind = { group: '', version: 'v1', kind: 'Pod' };

  it('answers a pod CREATE with a base64 JSONPatch and the uid', () => {
    const a = review(
      body({ uid: 'abc', kind: podKind, operation: 'CREATE', namespace: 'ns', object: { spec: { containers: [{ name: 'a' }] } } }),
      rctx,
    );
    expect(a.status).toBe(200);
    const r = JSON.parse(a.body);
    expect(r).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'abc', allowed: true, patchType: 'JSONPatch' },
    });
    expect(Array.isArray(JSON.parse(Buffer.from(r.response.patch, 'base64').toString()))).toBe(true);
  });

  it('bad input: clear answers, never a throw', () => {
    expect(review('{', rctx)).toMatchObject({ status: 400, result: 'invalid' });
    expect(review('[]', rctx)).toMatchObject({ status: 400, result: 'invalid' });
    expect(review(body({}), rctx)).toMatchObject({ status: 400, body: 'AdmissionReview without request.uid' });
    expect(review(body({ uid: 'u', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, operation: 'CREATE' }), rctx)).toMatchObject(
      { status: 200, result: 'skipped' },
    );
    const del = JSON.parse(review(body({ uid: 'u', kind: podKind, operation: 'DELETE' }), rctx).body);
    expect(del.response).toEqual({
      uid: 'u',
      allowed: true,
      warnings: ['anchorage: webhook handles pod CREATE only, not Pod DELETE: allowed unchanged'],
    });
    for (const object of [
      null,
      7,
      'x',
      [],
      {},
      { spec: null },
      { spec: { containers: [1] } },
      { spec: { containers: [], initContainers: {} } },
      { spec: { containers: [], volumes: 'x' } },
    ]) {
      const a = review(body({ uid: 'u', kind: podKind, operation: 'CREATE', namespace: 'ns', object }), rctx);
      expect(a.status, JSON.stringify(object)).toBe(200);
      const r = JSON.parse(a.body).response;
      expect(r.allowed).toBe(true);
      expect(r.patch).toBeUndefined();
      expect(r.warnings[0]).toMatch(/allowed unchanged/);
    }
  });

  it('policy deny: a pod that cannot get what it asks for is refused with the reason, allowed: false, 403', () => {
    const deny = parseConfig({
      trust: { bundles: { default: { configMap: { name: 'anchorage-trust' } } } },
      identity: { issuer: { secret: { namespace: 'anchorage', name: 'ca' } } },
      policy: { identityUnavailable: 'deny', unknownBundle: 'deny', malformedPod: 'deny' },
    });
    const dctx = { ...rctx, config: deny };
    const create = (object: unknown, issuerReady = true) =>
      review(body({ uid: 'd', kind: podKind, operation: 'CREATE', namespace: 'ns', object }), { ...dctx, issuerReady });
    const refused = (a: ReturnType<typeof review>) => {
      expect(a).toMatchObject({ status: 200, result: 'denied' });
      const r = JSON.parse(a.body).response;
      expect(r).toMatchObject({ uid: 'd', allowed: false, status: { code: 403, reason: 'Forbidden' } });
      expect(r.patch).toBeUndefined();
      return r.status.message as string;
    };
    const identityPod = {
      metadata: { annotations: { 'identity.anchorage.dev/enabled': 'true' } },
      spec: { containers: [{ name: 'a', image: 'x' }] },
    };
    expect(refused(create(identityPod, false))).toBe(
      'anchorage: pod refused: the pod asks for an identity (identity.anchorage.dev/enabled) and the identity issuer is not available (policy.identityUnavailable: deny)',
    );
    // With the issuer up the same pod is mutated; a pod that does not ask is never refused for it.
    expect(create(identityPod, true).result).toBe('mutated');
    expect(create({ spec: { containers: [{ name: 'a' }] } }, false).result).toBe('mutated');
    // No issuer configured at all: said so.
    const noIssuer = parseConfig({ policy: { identityUnavailable: 'deny' } });
    const a = review(body({ uid: 'd', kind: podKind, operation: 'CREATE', namespace: 'ns', object: identityPod }), {
      ...rctx,
      config: noIssuer,
      issuerReady: false,
    });
    expect(refused(a)).toMatch(/identity issuer is not configured \(policy.identityUnavailable: deny\)$/);
    expect(
      refused(create({ metadata: { annotations: { 'trust.anchorage.dev/bundle': 'nope' } }, spec: { containers: [{ name: 'a' }] } })),
    ).toBe("anchorage: pod refused: no trust bundle named 'nope' is configured (policy.unknownBundle: deny)");
    // Both at once: both reasons, one message.
    expect(
      refused(
        create(
          {
            metadata: { annotations: { 'trust.anchorage.dev/bundle': 'nope', 'identity.anchorage.dev/enabled': 'true' } },
            spec: { containers: [{ name: 'a' }] },
          },
          false,
        ),
      ),
    ).toMatch(/no trust bundle named 'nope'.*; the pod asks for an identity/);
    expect(refused(create({ spec: { containers: 'x' } }))).toBe(
      'anchorage: pod refused: malformed pod: the pod has no spec.containers list (policy.malformedPod: deny)',
    );
    expect(refused(create(null))).toMatch(/no pod object/);
    // An excluded namespace or an opted-out pod is never refused.
    expect(
      review(body({ uid: 'd', kind: podKind, operation: 'CREATE', namespace: 'kube-system', object: identityPod }), {
        ...dctx,
        issuerReady: false,
      }).result,
    ).toBe('skipped');
    // Anything but a pod CREATE stays allowed.
    expect(JSON.parse(review(body({ uid: 'd', kind: podKind, operation: 'DELETE' }), dctx).body).response.allowed).toBe(true);
    // The default policy is allow.
    expect(parseConfig({}).policy).toEqual({ identityUnavailable: 'allow', unknownBundle: 'allow', malformedPod: 'allow' });
    expect(() => parseConfig({ policy: { identityUnavailable: 'maybe' } })).toThrow(/policy.identityUnavailable/);
  });

  it('fuzz: 3000 mangled AdmissionReviews (seeded), each answered 200 or 400', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const values: unknown[] = [null, 0, -1, '', 'x', true, [], {}, [{}], { name: 1 }, [null], '__proto__', { env: 3, volumeMounts: [7] }];
    const base = {
      uid: 'u',
      kind: podKind,
      operation: 'CREATE',
      namespace: 'ns',
      object: { metadata: { annotations: {} }, spec: { containers: [{ name: 'a', env: [], volumeMounts: [] }], volumes: [] } },
    };
    for (let i = 0; i < 3000; i++) {
      const r = structuredClone(base) as Record<string, unknown>;
      // Replace a random node at a random depth with a random value.
      let node = r as Record<string, unknown>;
      for (let d = rnd(5); d > 0; d--) {
        const keys = Object.keys(node);
        const k = keys[rnd(keys.length)] as string;
        const next = node[k];
        if (typeof next !== 'object' || next === null) break;
        node = next as Record<string, unknown>;
      }
      const keys = Object.keys(node);
      node[keys.length ? (keys[rnd(keys.length)] as string) : 'x'] = values[rnd(values.length)];
      const a = review(body(r), rctx);
      expect([200, 400]).toContain(a.status);
    }
  });
});

describe('configuration and flags', () => {
  it('refuses a bad configuration with the path of the problem', () => {
    expect(() => parseConfig({ trust: { bogus: 1 } })).toThrow(/trust: Unrecognized key/);
    expect(() => parseConfig({ trust: { defaultBundle: 'x' } })).toThrow(/trust.defaultBundle 'x' is not in trust.bundles/);
    expect(() => parseConfig({ trust: { bundles: { a: { configMap: { name: 'c' }, clusterTrustBundle: { name: 'x' } } } } })).toThrow(
      /exactly one of configMap and clusterTrustBundle/,
    );
    expect(() => parseConfig({ identity: { lifetimeSeconds: 5 } })).toThrow(/identity.lifetimeSeconds/);
  });

  it('anchorage webhook: a bad config file or flag is one line, exit 2', () => {
    const cli = (...a: string[]) =>
      spawnSync(NODE, [join(ROOT, 'src', 'cli', 'main.ts'), 'webhook', ...a], { encoding: 'utf8', timeout: 60_000 });
    writeFileSync(join(dir, 'bad.yaml'), 'trust: {mode: sometimes}\n');
    const r = cli('--config', join(dir, 'bad.yaml'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: .*bad\.yaml: trust\.mode: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(1 << 20)}\n`);
    expect(cli('--config', join(dir, 'big.yaml')).stderr).toMatch(/too large/);
    expect(cli('--config', join(dir, 'missing.yaml')).status).toBe(2);
    const d = cli('--ca-lifetime', '5x');
    expect([d.status, d.stderr.trim()]).toEqual([2, "error: --ca-lifetime: '5x' is not a duration (like 90s, 15m, 12h, 365d)"]);
  });
});
