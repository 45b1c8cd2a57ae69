// Incremental judging (src/monitor/incremental.ts) against its oracle: after every random change, the
// report the monitor builds from the groups it judged again plus the ones it kept must equal one scan of
// everything at the same instant (ClusterState.judgeAll, the scan `anchorage scan` makes). The objects go
// through the monitor's own extraction (src/monitor/extract.ts) from Kubernetes-shaped objects; the
// certificates are real (the project's issuer) and chosen to link in every way scan links them: shared
// CAs and chains, same-name CAs with other keys, intermediates, a missing issuer, expired ones, keys that
// do or do not match, caBundles with Service backends named by serving certificates (wildcards too),
// cert-manager Certificates, trust-bundle ConfigMaps, kubeconfigs, node-tree files, probed endpoints.
import { describe, expect, it } from 'vitest';
import { ClusterState } from '../src/monitor/cluster.ts';
import { type Extracted, extract } from '../src/monitor/extract.ts';
import type { EndpointInput } from '../src/scan/scan.ts';
import { issueCertificate } from '../src/x509/build.ts';
import type { Certificate } from '../src/x509/certificate.ts';
import { generateKey, type KeyPair } from '../src/x509/keys.ts';

interface Ca {
  cert: Certificate;
  kp: KeyPair;
}
const NOW = new Date('2026-12-01T12:00:00Z');
const DAY = 86_400_000;

function ca(subject: string, parent?: Ca, o: { expired?: boolean } = {}): Ca {
  const kp = generateKey('ecdsa-p256');
  const validity = o.expired ? { notBefore: new Date(NOW.getTime() - 40 * DAY), notAfter: new Date(NOW.getTime() - DAY) } : { days: 365 };
  const cert = issueCertificate({
    profile: { subject, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity },
    publicKey: kp.publicKey,
    ...(parent ? { issuer: { cert: parent.cert, key: parent.kp.privateKey } } : { signingKey: kp.privateKey }),
    now: NOW,
  });
  return { cert, kp };
}

function leaf(issuer: Ca, subject: string, dns: string[], o: { days?: number; expired?: boolean; kp?: KeyPair } = {}): Ca {
  const kp = o.kp ?? generateKey('ecdsa-p256');
  const validity = o.expired
    ? { notBefore: new Date(NOW.getTime() - 40 * DAY), notAfter: new Date(NOW.getTime() - DAY) }
    : { days: o.days ?? 90 };
  const cert = issueCertificate({
    profile: { subject, sans: { dns }, keyUsage: ['digitalSignature'], extKeyUsage: ['serverAuth'], validity },
    publicKey: kp.publicKey,
    issuer: { cert: issuer.cert, key: issuer.kp.privateKey },
    now: NOW,
  });
  return { cert, kp };
}

const keyPem = (kp: KeyPair): string => kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A fixed pool of certificates and keys, linked in the ways scan links them. */
function pool() {
  const rootA = ca('CN=incr root A');
  const rootA2 = ca('CN=incr root A'); // same name, other key
  const rootB = ca('CN=incr root B');
  const interA = ca('CN=incr inter A', rootA);
  const interB = ca('CN=incr inter B', rootB);
  const offline = ca('CN=incr offline CA'); // never placed: its leaves have no issuer in the scan
  const oldCa = ca('CN=incr old CA', undefined, { expired: true });
  const cas = [rootA, rootA2, rootB, interA, interB, oldCa];
  const shared = generateKey('ecdsa-p256');
  const leaves = [
    leaf(rootA, 'CN=svc-0.ns1.svc', ['svc-0.ns1.svc']),
    leaf(interA, 'CN=svc-1.ns1.svc', ['svc-1.ns1.svc']),
    leaf(interB, 'CN=svc-2.ns2.svc', ['svc-2.ns2.svc']),
    leaf(rootB, 'CN=wild.ns2', ['*.ns2.svc']),
    leaf(offline, 'CN=svc-3.ns1.svc', ['svc-3.ns1.svc']),
    leaf(rootA, 'CN=old', ['old.ns1.svc'], { expired: true }),
    leaf(interA, 'CN=soon', ['soon.ns1.svc'], { days: 5 }),
    leaf(rootA2, 'CN=svc-0.ns1.svc', ['svc-0.ns1.svc']), // same name as leaf 0, another CA of the same name
    leaf(rootB, 'CN=shared key one', ['one.ns3.svc'], { kp: shared }),
    leaf(interB, 'CN=shared key two', ['two.ns3.svc'], { kp: shared }),
    leaf(oldCa, 'CN=under old', ['u.ns3.svc']),
    leaf(rootA, 'CN=kube-apiserver', ['kubernetes', 'kubernetes.default.svc']),
  ];
  return { cas, leaves, rootA, interA };
}

type Pool = ReturnType<typeof pool>;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomObject(p: Pool, r: () => number, name: string): { key: string; x: Extracted } {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const kind = Math.floor(r() * 8);
  const ns = pick(['ns1', 'ns2', 'ns3']);
  const meta = { name, namespace: ns };
  if (kind <= 2) {
    // A TLS Secret: leaf (with or without its chain), a key that may or may not match, maybe ca.crt.
    const l = pick(p.leaves);
    const chain = r() < 0.5 ? pick(p.cas).cert.toPem() : '';
    const data: Record<string, string> = { 'tls.crt': b64(l.cert.toPem() + chain) };
    if (r() < 0.8) data['tls.key'] = b64(keyPem(r() < 0.85 ? l.kp : pick(p.leaves).kp));
    if (r() < 0.4) data['ca.crt'] = b64(pick(p.cas).cert.toPem());
    return { key: `Secret|${ns}/${name}`, x: extract('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: meta, data }) };
  }
  if (kind === 3) {
    const bundle = Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick([...p.cas, ...p.leaves]).cert.toPem()).join('');
    return {
      key: `ConfigMap|${ns}/${name}`,
      x: extract('ConfigMap', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta,
        data: { [pick(['ca-bundle.crt', 'trust.pem', 'notes'])]: bundle },
      }),
    };
  }
  if (kind === 4) {
    const svc = pick(['svc-0', 'svc-1', 'svc-2', 'svc-9', 'x']);
    return {
      key: `ValidatingWebhookConfiguration|${name}`,
      x: extract('ValidatingWebhookConfiguration', {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name },
        webhooks: [
          {
            name: 'w.example.com',
            clientConfig: { caBundle: b64(pick(p.cas).cert.toPem()), service: { namespace: pick(['ns1', 'ns2']), name: svc } },
          },
        ],
      }),
    };
  }
  if (kind === 5) {
    return {
      key: `Certificate|${ns}/${name}`,
      x: extract('Certificate', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta,
        spec: { secretName: pick(['a', 'b', 'c', 'd']), dnsNames: [pick(['svc-0.ns1.svc', 'one.ns3.svc', 'zzz.ns1.svc'])] },
      }),
    };
  }
  if (kind === 6) {
    // A kubeconfig in a Secret: judged against the API server certificate wherever it is.
    const kc = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: c\n  cluster:\n    server: https://x:6443\n    certificate-authority-data: ${b64(pick(p.cas).cert.toPem())}`,
      'users:',
      `- name: u\n  user:\n    client-certificate-data: ${b64(p.leaves[1]?.cert.toPem() ?? '')}\n    client-key-data: ${b64(keyPem(pick(p.leaves).kp))}`,
      'contexts: []',
      '',
    ].join('\n');
    return {
      key: `Secret|${ns}/${name}`,
      x: extract('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: meta, data: { kubeconfig: b64(kc) } }),
    };
  }
  // A node tree's file (not an object key): everything about nodes is judged together.
  const node = pick(['cp1', 'w1']);
  const file = pick(['pki/ca.crt', 'pki/apiserver.crt', 'pki/apiserver.key', 'pki/ca.key']);
  const data =
    file === 'pki/ca.crt'
      ? p.rootA.cert.toPem()
      : file === 'pki/ca.key'
        ? keyPem(p.rootA.kp)
        : file === 'pki/apiserver.crt'
          ? (p.leaves[11] as Ca).cert.toPem()
          : keyPem((p.leaves[11] as Ca).kp);
  const source = `nodes/${node}/etc/kubernetes/${file}`;
  return { key: `file|${source}`, x: { values: [{ source, data: Buffer.from(data) }], backends: [], certManager: [], failures: [] } };
}

function endpoint(p: Pool, r: () => number): EndpointInput {
  const l = p.leaves[Math.floor(r() * p.leaves.length)] as Ca;
  const reached = r() < 0.8;
  return {
    for: r() < 0.5 ? 'endpoint' : 'ValidatingWebhookConfiguration/hook-1[w.example.com.caBundle]',
    probe: {
      endpoint: `10.0.0.${Math.floor(r() * 3)}:443`,
      name: 'svc-1.ns1.svc',
      reached,
      chain: reached ? [l.cert.der, p.interA.cert.der] : [],
      ...(reached ? { verified: r() < 0.5, verifyError: 'unable to get local issuer certificate' } : { error: 'refused' }),
    },
  };
}

describe('incremental judging', () => {
  const p = pool();

  // One group a scan, and batches of a few objects (several independent groups scanned together).
  for (const [seed, batchObjects] of [
    [1, 1],
    [2, 1],
    [3, 3],
    [4, 5],
  ] as const) {
    it(`equals a full scan after every change of a random sequence (seed ${seed}, batches of ${batchObjects})`, () => {
      const r = rng(seed);
      const c = new ClusterState({ name: 'incr', kind: 'kubeconfig', now: () => NOW, debounceMs: 3_600_000, batchObjects });
      try {
        const names = ['a', 'b', 'c', 'd', 'e', 'hook-1', 'f', 'g', 'h', 'i', 'j', 'k'];
        const keys: string[] = [];
        let judged = 0;
        let groups = 0;
        const ids = new Set<string>();
        let relations = 0;
        for (let step = 0; step < 60; step++) {
          const op = r();
          if (op < 0.65 || keys.length === 0) {
            const o = randomObject(p, r, names[Math.floor(r() * names.length)] as string);
            c.setObject(o.key, o.x);
            if (!keys.includes(o.key)) keys.push(o.key);
          } else if (op < 0.85) {
            const k = keys.splice(Math.floor(r() * keys.length), 1)[0] as string;
            c.setObject(k, undefined);
          } else if (op < 0.95) c.setEndpoint(`ep${Math.floor(r() * 2)}`, endpoint(p, r));
          else c.setEndpoint(`ep${Math.floor(r() * 2)}`, undefined);
          // Sometimes several changes land in one scan (a burst within the debounce).
          if (r() < 0.3) continue;
          const view = c.rescan();
          judged += c.lastJudged.judged;
          groups += c.lastJudged.groups;
          expect(view.report).toEqual(c.judgeAll(NOW));
          for (const f of view.report.findings) ids.add(f.id);
          relations += view.report.relations.length;
        }
        if (process.env.INCR_DEBUG) console.log(seed, [...ids].sort().join(' '), relations, judged, groups);
        // It was incremental: groups untouched by a change were kept.
        expect(judged).toBeLessThan(groups);
      } finally {
        c.stop();
      }
    });
  }

  it('judges together the objects that hold a value of one source name, and equals a full scan', () => {
    const c = new ClusterState({ name: 'incr', kind: 'kubeconfig', now: () => NOW, debounceMs: 3_600_000 });
    try {
      // Two objects under other keys, one source name, certificates that share nothing else.
      const a = leaf(p.interA, 'CN=dup a', ['dup-a.example.com']);
      const b = leaf(p.cas[4] as Ca, 'CN=dup b', ['dup-b.example.com']);
      const value = (l: Ca) => ({ source: 'ns1/Secret/dup[tls.crt]', data: Buffer.from(l.cert.toPem()) });
      c.setObject('file|one', { values: [value(a)], backends: [], certManager: [], failures: [] });
      c.setObject('file|two', { values: [value(b)], backends: [], certManager: [], failures: [] });
      c.setObject('file|three', {
        values: [
          { source: 'ns1/Secret/other[tls.crt]', data: Buffer.from(leaf(p.cas[2] as Ca, 'CN=other', ['other.example.com']).cert.toPem()) },
        ],
        backends: [],
        certManager: [],
        failures: [],
      });
      const view = c.rescan();
      expect(view.report).toEqual(c.judgeAll(NOW));
      expect(c.lastJudged.groups).toBe(2);
    } finally {
      c.stop();
    }
  });

  it('keeps the unchanged groups and judges the changed one only; everything again once the last judgement is old', () => {
    let now = NOW;
    const c = new ClusterState({
      name: 'incr2',
      kind: 'kubeconfig',
      now: () => now,
      debounceMs: 3_600_000,
      rejudgeMs: 60_000,
      batchObjects: 1,
    });
    try {
      const r = rng(9);
      // Ten self-contained Secrets (each its own self-signed CA and leaf): ten groups.
      for (let i = 0; i < 10; i++) {
        const root = ca(`CN=alone ${i}`);
        const l = leaf(root, `CN=alone-leaf-${i}`, [`alone-${i}.ns9.svc`]);
        c.setObject(
          `Secret|ns9/s${i}`,
          extract('Secret', {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: `s${i}`, namespace: 'ns9' },
            data: { 'tls.crt': b64(l.cert.toPem() + root.cert.toPem()), 'tls.key': b64(keyPem(l.kp)) },
          }),
        );
      }
      c.rescan();
      expect(c.lastJudged).toEqual({ groups: 10, judged: 10, objects: 10, scans: 10 });
      const o = randomObject(p, r, 's3');
      c.setObject('Secret|ns9/s3', {
        ...o.x,
        values: o.x.values.map((v) => ({ ...v, source: v.source.replace(/^ns\d\/Secret\/s3/, 'ns9/Secret/s3') })),
      });
      const v = c.rescan();
      expect(c.lastJudged.judged).toBe(1);
      expect(v.report).toEqual(c.judgeAll(now));
      now = new Date(NOW.getTime() + 61_000);
      c.rescan();
      expect(c.lastJudged.judged).toBe(c.lastJudged.groups);
    } finally {
      c.stop();
    }
  });

  // The bench's shape: one CA (here a root and an intermediate) in every Secret's chain. The group is split
  // at that CA (ClusterState.splitAtHub) when the parts judged apart merge into what a scan of the group
  // makes; the changes also bring what forbids the split (the CA's key, a CA of the same name, a leaf whose
  // issuer is a hub's issuer, a Secret without the chain, a caBundle, a bundle of the CA alone) and take it
  // away again. Each pass must equal a full scan.
  function hubPool() {
    const root = ca('CN=hub root');
    const inter = ca('CN=hub inter', root);
    const sameName = ca('CN=hub root'); // same name, other key
    const other = ca('CN=hub other');
    const shared = generateKey('ecdsa-p256');
    const leaves = [
      ...Array.from({ length: 8 }, (_, i) => leaf(inter, `CN=h${i}.hub.svc`, [`h${i}.hub.svc`])),
      leaf(inter, 'CN=hub expired', ['x.hub.svc'], { expired: true }),
      leaf(inter, 'CN=hub soon', ['soon.hub.svc'], { days: 5 }),
      leaf(inter, 'CN=hub shared one', ['s1.hub.svc'], { kp: shared }),
      leaf(inter, 'CN=hub shared two', ['s2.hub.svc'], { kp: shared }),
      leaf(root, 'CN=under root', ['r.hub.svc']), // issued by the root: a hub's issuer
      leaf(other, 'CN=under other', ['o.hub.svc']),
    ];
    return { root, inter, sameName, other, leaves };
  }

  function hubObject(h: ReturnType<typeof hubPool>, r: () => number, name: string): { key: string; x: Extracted } {
    const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
    const meta = { name, namespace: 'hub' };
    const roll = r();
    const chain = h.inter.cert.toPem() + h.root.cert.toPem();
    if (roll < 0.8) {
      // Mostly the common leaves (the hub is then split); the rest link across parts or forbid the split.
      const l = r() < 0.85 ? (h.leaves[Math.floor(r() * 8)] as Ca) : pick(h.leaves);
      const data: Record<string, string> = { 'tls.crt': b64(l.cert.toPem() + (r() < 0.95 ? chain : '')) };
      if (r() < 0.9) data['tls.key'] = b64(keyPem(r() < 0.9 ? l.kp : pick(h.leaves).kp));
      if (r() < 0.2) data['ca.crt'] = b64(h.root.cert.toPem());
      return { key: `Secret|hub/${name}`, x: extract('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: meta, data }) };
    }
    if (roll < 0.85) {
      // A CA's key beside its certificate.
      const c = pick([h.root, h.inter]);
      const data = {
        'tls.crt': b64(c.cert.toPem() + (c === h.inter ? h.root.cert.toPem() : h.inter.cert.toPem())),
        'tls.key': b64(keyPem(c.kp)),
      };
      return { key: `Secret|hub/${name}`, x: extract('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: meta, data }) };
    }
    if (roll < 0.9) {
      const bundle = pick([h.sameName, h.other, h.root]).cert.toPem() + chain;
      return {
        key: `ConfigMap|hub/${name}`,
        x: extract('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { 'ca-bundle.crt': bundle } }),
      };
    }
    if (roll < 0.95)
      return {
        key: `ConfigMap|hub/${name}`,
        x: extract('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta, data: { 'ca.crt': h.root.cert.toPem() } }),
      };
    return {
      key: `ValidatingWebhookConfiguration|${name}`,
      x: extract('ValidatingWebhookConfiguration', {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name },
        webhooks: [{ name: 'w.example.com', clientConfig: { caBundle: b64(chain), service: { namespace: 'hub', name: 'h1' } } }],
      }),
    };
  }

  for (const seed of [11, 12, 13]) {
    it(`splits a group at the CA every object holds and still equals a full scan (seed ${seed})`, () => {
      const h = hubPool();
      const r = rng(seed);
      const c = new ClusterState({ name: 'hub', kind: 'kubeconfig', now: () => NOW, debounceMs: 3_600_000, batchObjects: 2 });
      try {
        const names = Array.from({ length: 24 }, (_, i) => `s${i}`);
        const keys: string[] = [];
        // Start from the plain shape: every Secret a leaf with the chain, and its key.
        for (const n of names.slice(0, 16)) {
          const l = h.leaves[Math.floor(r() * 8)] as Ca;
          const key = `Secret|hub/${n}`;
          c.setObject(
            key,
            extract('Secret', {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: n, namespace: 'hub' },
              data: { 'tls.crt': b64(l.cert.toPem() + h.inter.cert.toPem() + h.root.cert.toPem()), 'tls.key': b64(keyPem(l.kp)) },
            }),
          );
          keys.push(key);
        }
        let view = c.rescan();
        expect(view.report).toEqual(c.judgeAll(NOW));
        let split = c.lastJudged.groups > 1 ? 1 : 0;
        for (let step = 0; step < 50; step++) {
          if (r() < 0.75 || keys.length < 4) {
            const o = hubObject(h, r, names[Math.floor(r() * names.length)] as string);
            for (const k of keys.filter((k) => k.endsWith(`/${o.key.split('/').pop()}`) || k.endsWith(`|${o.key.split('|').pop()}`)))
              if (k !== o.key) {
                c.setObject(k, undefined);
                keys.splice(keys.indexOf(k), 1);
              }
            c.setObject(o.key, o.x);
            if (!keys.includes(o.key)) keys.push(o.key);
          } else {
            const k = keys.splice(Math.floor(r() * keys.length), 1)[0] as string;
            c.setObject(k, undefined);
          }
          if (r() < 0.2) continue;
          view = c.rescan();
          expect(view.report).toEqual(c.judgeAll(NOW));
          if (c.lastJudged.groups > 1) split++;
        }
        // The split happened (else this test proves nothing about it).
        expect(split).toBeGreaterThan(0);
      } finally {
        c.stop();
      }
    });
  }
});
