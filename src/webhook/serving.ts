// The webhook's own TLS: a serving CA kept in a Secret of the webhook's namespace (shared by every replica), a
// serving leaf each replica issues itself from it (its key never leaves the process), and the caBundle of the
// MutatingWebhookConfigurations kept equal to the CA bundle. Rotation never breaks a handshake: the leader first
// adds the next CA to the bundle (Secret key `next.crt`), waits until every webhook configuration carries it,
// and only then promotes it; the old CA stays in the bundle until it expires, for replicas still serving from it.
import { ApiError, CORE, type KubeClient, resourcePath } from '../kube/client.ts';
import type { Logger } from '../kube/log.ts';
import type { Certificate } from '../x509/certificate.ts';
import { certsFromPem, issueLeaf, type KeyedCert, keyPem, loadKeyPem, newCa, pastFraction } from './certs.ts';

export interface ServingOptions {
  client: KubeClient;
  log: Logger;
  namespace: string;
  /** The Secret holding the serving CA. */
  secretName: string;
  /** MutatingWebhookConfigurations whose caBundle we keep. */
  webhookConfigurations: string[];
  /** DNS names and IPs of the serving certificate. */
  dnsNames: string[];
  ips: string[];
  caSeconds: number;
  leafSeconds: number;
}

interface SecretObj {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

export interface CaState {
  current: KeyedCert;
  next?: KeyedCert;
  /** PEM of every CA a client must trust now. */
  bundle: string;
  resourceVersion?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

export const WEBHOOK_CONFIGS = {
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  resource: 'mutatingwebhookconfigurations',
  kind: 'MutatingWebhookConfiguration',
  namespaced: false,
};

function parseSecret(s: SecretObj): CaState {
  const d = s.data ?? {};
  const current = { cert: certsFromPem(unb64(d['tls.crt']))[0] as Certificate, key: loadKeyPem(unb64(d['tls.key'])) };
  if (!current.cert) throw new Error(`secret ${s.metadata.name}: no tls.crt`);
  const nextCert = d['next.crt'] ? certsFromPem(unb64(d['next.crt']))[0] : undefined;
  const next = nextCert && d['next.key'] ? { cert: nextCert, key: loadKeyPem(unb64(d['next.key'])) } : undefined;
  return {
    current,
    ...(next && { next }),
    bundle: unb64(d['ca.crt']),
    ...(s.metadata.resourceVersion && { resourceVersion: s.metadata.resourceVersion }),
  };
}

/** The bundle of these CAs, dropping expired ones and duplicates, newest first. */
export function bundleOf(cas: Certificate[], now = new Date()): string {
  const seen = new Set<string>();
  return cas
    .filter((c) => c.notAfter > now && !seen.has(c.sha256) && seen.add(c.sha256))
    .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())
    .map((c) => c.toPem())
    .join('');
}

export class Serving {
  private readonly o: ServingOptions;
  state?: CaState;
  /** The serving leaf this replica serves, and the CA it came from. */
  leaf?: { certPem: string; keyPem: string; cert: Certificate; caSha: string };
  constructor(o: ServingOptions) {
    this.o = o;
  }

  private get path(): string {
    return resourcePath(CORE.secrets, this.o.namespace, this.o.secretName);
  }

  private secretBody(
    st: { current: KeyedCert; next?: KeyedCert; bundle: string },
    rv?: string,
  ): SecretObj & { apiVersion: string; kind: string } {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.o.secretName,
        namespace: this.o.namespace,
        ...(rv && { resourceVersion: rv }),
        labels: { 'app.kubernetes.io/managed-by': 'anchorage-webhook' },
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(st.current.cert.toPem()),
        'tls.key': b64(keyPem(st.current.key)),
        'ca.crt': b64(st.bundle),
        ...(st.next && { 'next.crt': b64(st.next.cert.toPem()), 'next.key': b64(keyPem(st.next.key)) }),
      },
    };
  }

  /** Read the CA Secret, creating it when missing (any replica may; a lost race re-reads). */
  async load(): Promise<CaState> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const s = await this.o.client.get<SecretObj>(this.path);
      if (s) {
        this.state = parseSecret(s);
        return this.state;
      }
      const ca = newCa(`anchorage-webhook-ca ${new Date().toISOString()}`, this.o.caSeconds);
      try {
        await this.o.client.request(
          'POST',
          resourcePath(CORE.secrets, this.o.namespace),
          this.secretBody({ current: ca, bundle: bundleOf([ca.cert]) }),
        );
        this.o.log.info({ secret: `${this.o.namespace}/${this.o.secretName}`, ca: ca.cert.sha256 }, 'created the serving CA');
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409)) throw e;
      }
    }
    throw new Error(`could not create or read secret ${this.o.namespace}/${this.o.secretName}`);
  }

  /** A new serving leaf when there is none, the CA changed, or 2/3 of its life is gone. True when it changed. */
  refreshLeaf(now = new Date()): boolean {
    const st = this.state;
    if (!st) return false;
    const caSha = st.current.cert.sha256;
    if (this.leaf && this.leaf.caSha === caSha && !pastFraction(this.leaf.cert, 2 / 3, now.getTime())) return false;
    const { cert, key } = issueLeaf(st.current, {
      commonName: this.o.dnsNames[0] ?? this.o.ips[0] ?? 'anchorage-webhook',
      dns: this.o.dnsNames,
      ip: this.o.ips,
      eku: ['serverAuth'],
      seconds: this.o.leafSeconds,
      now,
    });
    this.leaf = { certPem: cert.toPem() + st.current.cert.toPem(), keyPem: keyPem(key as never), cert, caSha };
    this.o.log.info(
      { serial: cert.serialNumber, notAfter: cert.notAfter.toISOString(), ca: caSha.slice(0, 16) },
      'serving certificate issued',
    );
    return true;
  }

  /** Leader only: rotate the CA when due, in two steps; keep every webhook configuration's caBundle equal to the bundle. */
  async reconcile(now = new Date()): Promise<void> {
    let st = await this.load();
    const allCarry = async (pem: string): Promise<boolean> => {
      const configs = await Promise.all(
        this.o.webhookConfigurations.map((n) => this.o.client.get<WebhookConfiguration>(resourcePath(WEBHOOK_CONFIGS, undefined, n))),
      );
      return configs.every((c) => !c || (c.webhooks ?? []).every((w) => unb64(w.clientConfig?.caBundle).includes(pem.trim())));
    };
    // Step 2: the next CA is in every caBundle: promote it.
    if (st.next && (await allCarry(st.next.cert.toPem()))) {
      const promoted = { current: st.next, bundle: bundleOf([st.next.cert, st.current.cert, ...certsFromPem(st.bundle)], now) };
      await this.o.client.request('PUT', this.path, this.secretBody(promoted, st.resourceVersion));
      this.o.log.info({ ca: st.next.cert.sha256 }, 'serving CA rotated: the next CA is now the current one');
      st = await this.load();
    } else if (!st.next && pastFraction(st.current.cert, 2 / 3, now.getTime())) {
      // Step 1: a next CA, added to the bundle only.
      const next = newCa(`anchorage-webhook-ca ${now.toISOString()}`, this.o.caSeconds, 'ecdsa-p256', now);
      const withNext = { current: st.current, next, bundle: bundleOf([next.cert, st.current.cert, ...certsFromPem(st.bundle)], now) };
      await this.o.client.request('PUT', this.path, this.secretBody(withNext, st.resourceVersion));
      this.o.log.info({ next: next.cert.sha256 }, 'serving CA due for rotation: the next CA joins the bundle');
      st = await this.load();
    } else {
      // Drop expired CAs from the bundle.
      const pruned = bundleOf(certsFromPem(st.bundle), now);
      if (pruned && pruned !== st.bundle) {
        await this.o.client.request('PUT', this.path, this.secretBody({ ...st, bundle: pruned }, st.resourceVersion));
        st = await this.load();
      }
    }
    await this.syncCaBundles(st.bundle);
  }

  /** Set caBundle on every webhook of our configurations that differs; a configuration not there yet is skipped. */
  async syncCaBundles(bundle: string): Promise<number> {
    let changed = 0;
    for (const n of this.o.webhookConfigurations) {
      const p = resourcePath(WEBHOOK_CONFIGS, undefined, n);
      for (let attempt = 0; attempt < 3; attempt++) {
        const c = await this.o.client.get<WebhookConfiguration>(p);
        if (!c) break;
        const want = b64(bundle);
        const stale = (c.webhooks ?? []).filter((w) => w.clientConfig?.caBundle !== want);
        if (!stale.length) break;
        for (const w of stale) w.clientConfig = { ...w.clientConfig, caBundle: want };
        try {
          await this.o.client.request('PUT', p, c);
          changed += stale.length;
          this.o.log.info({ configuration: n, webhooks: stale.map((w) => w.name) }, 'caBundle updated');
          break;
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 409)) throw e;
        }
      }
    }
    return changed;
  }
}

interface WebhookConfiguration {
  metadata: { name: string; resourceVersion?: string };
  webhooks?: { name: string; clientConfig?: { caBundle?: string; url?: string; service?: unknown } }[];
}
