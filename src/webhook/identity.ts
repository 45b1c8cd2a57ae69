// Per-pod identity: the names a pod's certificate carries, the issuers that sign it (an Anchorage CA held in a
// kubernetes.io/tls Secret, or the Kubernetes CSR API with a signer name), and the Secret written for the pod
// (key, chain, trust bundle), owned by the pod so the garbage collector removes it with the pod.
import type { KeyObject } from 'node:crypto';
import { ApiError, CORE, type KubeClient, resourcePath } from '../kube/client.ts';
import { sleep } from '../kube/informer.ts';
import type { Certificate } from '../x509/certificate.ts';
import { createCsr } from '../x509/csr.ts';
import { generateKey, type KeyType } from '../x509/keys.ts';
import { certsFromPem, issueLeaf, type KeyedCert, keyPem, loadKeyPem } from './certs.ts';
import { IDENTITY_LABEL, type WebhookConfig } from './config.ts';

export interface PodFacts {
  name: string;
  namespace: string;
  uid: string;
  serviceAccount: string;
  labels: Record<string, string>;
}

export interface ServiceFacts {
  name: string;
  selector?: Record<string, string>;
}

export interface IdentityNames {
  commonName: string;
  dns: string[];
  uri: string[];
}

/** The Services selecting the pod (a non-empty selector, every pair in the pod's labels), sorted. */
export function selectingServices(pod: PodFacts, services: ServiceFacts[]): string[] {
  return services
    .filter((s) => s.selector && Object.keys(s.selector).length > 0 && Object.entries(s.selector).every(([k, v]) => pod.labels[k] === v))
    .map((s) => s.name)
    .sort();
}

export function identityNames(pod: PodFacts, services: string[], c: WebhookConfig['identity']): IdentityNames {
  const ns = pod.namespace;
  const dns = services.flatMap((s) => [s, `${s}.${ns}`, `${s}.${ns}.svc`, `${s}.${ns}.svc.${c.clusterDomain}`]);
  return { commonName: pod.name, dns, uri: [`spiffe://${c.trustDomain}/ns/${ns}/sa/${pod.serviceAccount}`] };
}

export interface Issued {
  /** The leaf first, then intermediates. */
  chain: Certificate[];
  key?: KeyObject;
  /** PEM of the roots a peer should trust. */
  trustPem: string;
}

export interface Issuer {
  /** Can it issue now? (the webhook admits without identity, with a warning, when not) */
  ready(): boolean;
  /** `backdateSeconds`: 0 where the lifetime must be exact (a PodCertificateRequest's bounds). */
  issue(
    names: IdentityNames,
    seconds: number,
    keyType: KeyType,
    publicKey?: KeyObject | Uint8Array,
    backdateSeconds?: number,
  ): Promise<Issued>;
  /** Re-check the issuer (reload a Secret); throws what is wrong. */
  refresh(): Promise<void>;
  describe(): string;
}

interface SecretObj {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: { uid: string }[];
  };
  type?: string;
  data?: Record<string, string>;
}

const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** An Anchorage CA in a Secret: tls.crt (the CA, then its chain), tls.key, optional ca.crt (the roots). */
export class SecretIssuer implements Issuer {
  private ca?: KeyedCert;
  private chain: Certificate[] = [];
  private trust = '';
  private okUntil = 0;
  private readonly client: KubeClient;
  private readonly ns: string;
  private readonly name: string;
  constructor(client: KubeClient, ref: { namespace: string; name: string }) {
    this.client = client;
    this.ns = ref.namespace;
    this.name = ref.name;
  }
  describe(): string {
    return `secret ${this.ns}/${this.name}`;
  }
  ready(): boolean {
    return this.ca !== undefined && Date.now() < this.okUntil;
  }
  async refresh(): Promise<void> {
    try {
      const s = await this.client.get<SecretObj>(resourcePath(CORE.secrets, this.ns, this.name));
      if (!s) throw new Error(`${this.describe()}: not found`);
      const certs = certsFromPem(unb64(s.data?.['tls.crt']));
      const first = certs[0];
      if (!first) throw new Error(`${this.describe()}: tls.crt holds no certificate`);
      if (!first.isCA) throw new Error(`${this.describe()}: tls.crt is not a CA certificate`);
      const key = loadKeyPem(unb64(s.data?.['tls.key']));
      this.ca = { cert: first, key };
      this.chain = certs;
      const roots = unb64(s.data?.['ca.crt']);
      this.trust = roots.includes('BEGIN CERTIFICATE') ? roots : (certs.at(-1) as Certificate).toPem();
      // Healthy for three refresh periods: an API hiccup does not take identities away at once.
      this.okUntil = Date.now() + 90_000;
    } catch (e) {
      this.okUntil = 0;
      throw e;
    }
  }
  async issue(
    names: IdentityNames,
    seconds: number,
    keyType: KeyType,
    publicKey?: KeyObject | Uint8Array,
    backdateSeconds?: number,
  ): Promise<Issued> {
    if (!this.ca) throw new Error(`${this.describe()}: not loaded`);
    const { cert, key } = issueLeaf(this.ca, {
      commonName: names.commonName,
      dns: names.dns,
      uri: names.uri,
      eku: ['serverAuth', 'clientAuth'],
      seconds,
      keyType,
      ...(publicKey && { publicKey }),
      ...(backdateSeconds !== undefined && { backdateSeconds }),
    });
    return { chain: [cert, ...this.chain], ...(key && { key }), trustPem: this.trust };
  }
}

/** The Kubernetes CSR API: one CertificateSigningRequest per certificate, approved by us when allowed, waited for. */
export class CsrIssuer implements Issuer {
  private readonly client: KubeClient;
  private readonly o: NonNullable<NonNullable<WebhookConfig['identity']['issuer']>['csr']>;
  private readonly namespace: string;
  private failedAt = 0;
  private trust = '';
  constructor(client: KubeClient, o: CsrIssuer['o'], namespace: string) {
    this.client = client;
    this.o = o;
    this.namespace = namespace;
  }
  describe(): string {
    return `CSR API signer ${this.o.signerName}`;
  }
  ready(): boolean {
    // Down for a minute after a failure: pods meanwhile go through without identity rather than wait.
    return Date.now() - this.failedAt > 60_000;
  }
  async refresh(): Promise<void> {
    const t = this.o.trustConfigMap;
    if (!t) return;
    const cm = await this.client.get<{ data?: Record<string, string> }>(resourcePath(CORE.configMaps, this.namespace, t.name));
    this.trust = cm?.data?.[t.key] ?? '';
  }
  async issue(names: IdentityNames, seconds: number, keyType: KeyType): Promise<Issued> {
    const kp = generateKey(keyType);
    const csr = createCsr({
      subject: `CN=${names.commonName}`,
      sans: { dns: names.dns, uri: names.uri },
      privateKey: kp.privateKey,
    });
    const name = `anchorage-identity-${names.commonName.slice(0, 200)}-${Date.now().toString(36)}`;
    const path = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
    try {
      await this.client.request('POST', path, {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: { name },
        spec: {
          request: b64(csr.toPem()),
          signerName: this.o.signerName,
          usages: ['digital signature', 'server auth', 'client auth'],
          expirationSeconds: Math.max(600, seconds),
        },
      });
      if (this.o.approve) {
        const cur = await this.client.get<Record<string, unknown>>(`${path}/${name}`);
        await this.client.request('PUT', `${path}/${name}/approval`, {
          ...cur,
          status: {
            conditions: [
              { type: 'Approved', status: 'True', reason: 'AnchorageIdentity', message: 'per-pod identity for an annotated pod' },
            ],
          },
        });
      }
      const end = Date.now() + this.o.timeoutSeconds * 1000;
      for (;;) {
        const cur = await this.client.get<{ status?: { certificate?: string; conditions?: { type: string; message?: string }[] } }>(
          `${path}/${name}`,
        );
        const bad = cur?.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
        if (bad) throw new Error(`${this.describe()}: CSR ${name} ${bad.type.toLowerCase()}: ${bad.message ?? ''}`);
        if (cur?.status?.certificate) {
          const chain = certsFromPem(unb64(cur.status.certificate));
          if (!chain.length) throw new Error(`${this.describe()}: CSR ${name}: status.certificate holds no certificate`);
          return { chain, key: kp.privateKey, trustPem: this.trust || (chain.at(-1) as Certificate).toPem() };
        }
        if (Date.now() > end) throw new Error(`${this.describe()}: CSR ${name} not signed within ${this.o.timeoutSeconds}s`);
        await sleep(250);
      }
    } catch (e) {
      this.failedAt = Date.now();
      throw e;
    } finally {
      await this.client.delete(`${path}/${name}`).catch(() => undefined);
    }
  }
}

/** The identity Secret of a pod: owned by it (garbage-collected with it), labelled with its UID. */
export function identitySecret(pod: PodFacts, secretName: string, issued: Issued): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName,
      namespace: pod.namespace,
      labels: { [IDENTITY_LABEL]: pod.uid, 'app.kubernetes.io/managed-by': 'anchorage-webhook' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid }],
    },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': b64(issued.chain.map((c) => c.toPem()).join('')),
      'tls.key': b64(issued.key ? keyPem(issued.key) : ''),
      'ca.crt': b64(issued.trustPem),
    },
  };
}

/** What the pod's Secret holds now (leaf, and whether it belongs to this pod). */
export function readIdentitySecret(s: SecretObj | undefined, podUid: string): { leaf?: Certificate; ours: boolean; exists: boolean } {
  if (!s) return { ours: true, exists: false };
  const ours = s.metadata.labels?.[IDENTITY_LABEL] === podUid || (s.metadata.ownerReferences ?? []).some((o) => o.uid === podUid);
  let leaf: Certificate | undefined;
  try {
    leaf = certsFromPem(unb64(s.data?.['tls.crt']))[0];
  } catch {
    leaf = undefined;
  }
  return { ...(leaf && { leaf }), ours, exists: true };
}

/** Create or replace the identity Secret. */
export async function writeIdentitySecret(
  client: KubeClient,
  body: Record<string, unknown>,
  existing?: { resourceVersion?: string },
): Promise<void> {
  const md = body.metadata as { name: string; namespace: string };
  if (existing) {
    await client.request('PUT', resourcePath(CORE.secrets, md.namespace, md.name), {
      ...body,
      metadata: { ...md, resourceVersion: existing.resourceVersion },
    });
    return;
  }
  try {
    await client.request('POST', resourcePath(CORE.secrets, md.namespace), body);
  } catch (e) {
    if (e instanceof ApiError && e.code === 409) throw new Error(`secret ${md.namespace}/${md.name} appeared meanwhile: retrying`);
    throw e;
  }
}

/** Same set of names? */
export function sameNames(leaf: Certificate, n: IdentityNames): boolean {
  const s = leaf.sans;
  const eq = (a: string[], b: string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
  return leaf.commonName === n.commonName && eq(s.dns, n.dns) && eq(s.uri, n.uri);
}
