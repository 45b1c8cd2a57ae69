// The Kubernetes CSR signer (certificates.k8s.io/v1) for the signer names `anchorage.dev/<ca>`: on the shared
// controller runtime (src/kube: an informer over CertificateSigningRequests, the work queue, a Lease for the
// leader). It approves nothing: approval is the cluster's (`kubectl certificate approve`, an approver
// controller). An approved, unsigned CSR for one of its signer names goes through the named CA's policy like
// any other request (requester `k8s:<spec.username>`, profile from spec.usages, lifetime from
// spec.expirationSeconds); the certificate (then the CA's intermediates, never a self-signed root) goes to
// status.certificate, a refusal to a `Failed` condition with the reason. Both are in the CA's audit and
// transparency logs, as every issuance and refusal is.
import type { Counter, Registry } from 'prom-client';
import { Counter as PromCounter } from 'prom-client';
import { ApiError, CORE, type KubeClient, type KubeObject, type ResourceType, resourcePath } from '../kube/client.ts';
import { Informer, sleep } from '../kube/informer.ts';
import type { Logger } from '../kube/log.ts';
import { WorkQueue } from '../kube/queue.ts';
import type { Profile } from './policy.ts';
import { CaRefusal, type CaService, MAX_CSR_BYTES } from './service.ts';

export const CSR_TYPE: ResourceType = {
  group: 'certificates.k8s.io',
  version: 'v1',
  resource: 'certificatesigningrequests',
  kind: 'CertificateSigningRequest',
  namespaced: false,
};

export const DEFAULT_SIGNER_DOMAIN = 'anchorage.dev';

export interface CsrCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface CsrObject extends KubeObject {
  spec: {
    request?: string;
    signerName: string;
    usages?: string[];
    expirationSeconds?: number;
    username?: string;
    groups?: string[];
    uid?: string;
  };
  status?: { conditions?: CsrCondition[]; certificate?: string };
}

/** What the signer does with a CSR as it stands (pure: the tests and the controller share it). */
export type CsrDecision =
  | { action: 'skip'; why: string }
  | { action: 'fail'; reason: string; message: string }
  | { action: 'sign'; ca: string; profile: Profile; days?: number; requester: string; request: Buffer };

/** Usages a signer of TLS identities accepts; 'server auth' and 'client auth' choose the profile. */
const NEUTRAL_USAGES = new Set(['digital signature', 'key encipherment', 'signing']);

export function profileOfUsages(usages: readonly string[]): Profile | string {
  const u = new Set(usages);
  const bad = [...u].filter((x) => !NEUTRAL_USAGES.has(x) && x !== 'server auth' && x !== 'client auth');
  if (bad.length)
    return `usages ${bad.join(', ')} are not issued by this signer (server auth, client auth, digital signature, key encipherment)`;
  const server = u.has('server auth');
  const client = u.has('client auth');
  if (server && client) return 'peer';
  if (server) return 'server';
  if (client) return 'client';
  return 'the usages name neither server auth nor client auth';
}

const isTrue = (c: CsrCondition | undefined): boolean => c?.status === 'True';

export function decide(csr: CsrObject, domain = DEFAULT_SIGNER_DOMAIN): CsrDecision {
  const signer = csr.spec?.signerName ?? '';
  if (!signer.startsWith(`${domain}/`)) return { action: 'skip', why: `signer ${signer} is not ours` };
  const conds = csr.status?.conditions ?? [];
  if (csr.status?.certificate) return { action: 'skip', why: 'already signed' };
  if (conds.some((c) => c.type === 'Failed' && isTrue(c))) return { action: 'skip', why: 'already failed' };
  if (conds.some((c) => c.type === 'Denied' && isTrue(c))) return { action: 'skip', why: 'denied' };
  if (!conds.some((c) => c.type === 'Approved' && isTrue(c))) return { action: 'skip', why: 'not approved' };
  const ca = signer.slice(domain.length + 1);
  const profile = profileOfUsages(csr.spec.usages ?? []);
  if (profile !== 'server' && profile !== 'client' && profile !== 'peer')
    return { action: 'fail', reason: 'SignerValidationFailure', message: profile };
  const b64 = csr.spec.request ?? '';
  if (b64.length > (MAX_CSR_BYTES * 4) / 3 + 4)
    return { action: 'fail', reason: 'SignerValidationFailure', message: `too large: a certificate request over ${MAX_CSR_BYTES} bytes` };
  const exp = csr.spec.expirationSeconds;
  return {
    action: 'sign',
    ca,
    profile,
    ...(exp !== undefined ? { days: exp / 86400 } : {}),
    requester: `k8s:${csr.spec.username ?? 'unknown'}`,
    request: Buffer.from(b64, 'base64'),
  };
}

export interface SignerOptions {
  client: KubeClient;
  service: CaService;
  log: Logger;
  registry?: Registry;
  /** Signer names are `<domain>/<ca>` (default anchorage.dev). */
  domain?: string;
  workers?: number;
  /**
   * Publish each CA's trust bundle (the roots of every generation not retired: old and new during a
   * rotation) as the ConfigMap `anchorage-ca-<ca>` (key `ca.crt`) in this namespace, for the trust bundles
   * controller to source; checked every `publishIntervalMs` (default 30 s) by the leader.
   */
  publishNamespace?: string;
  publishIntervalMs?: number;
}

export const bundleConfigMapName = (ca: string): string => `anchorage-ca-${ca}`;

export class CsrSigner {
  private readonly o: SignerOptions;
  readonly informer: Informer<CsrObject>;
  private queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 60_000 });
  private workers?: Promise<void>;
  private readonly domain: string;
  private readonly log: Logger;
  /** Issued but not yet written to status (a lost status write is retried with the same certificate). */
  private readonly pending = new Map<string, string>();
  private readonly outcomes?: Counter;
  private publishing?: { abort: AbortController; done: Promise<void> };
  private readonly published = new Map<string, string>();

  constructor(o: SignerOptions) {
    this.o = o;
    this.domain = o.domain ?? DEFAULT_SIGNER_DOMAIN;
    this.log = o.log.child({ controller: 'csr-signer' });
    // CSRs of other signers are kept as their name only: no request bytes cached for them.
    this.informer = new Informer<CsrObject>(o.client, CSR_TYPE, {
      log: this.log,
      transform: (c) =>
        c.spec?.signerName?.startsWith(`${this.domain}/`)
          ? c
          : { metadata: { name: c.metadata.name, resourceVersion: c.metadata.resourceVersion }, spec: { signerName: c.spec?.signerName } },
    }).on((_ev, c) => {
      if (decide(c, this.domain).action !== 'skip') this.queue.add(c.metadata.name);
    });
    if (o.registry)
      this.outcomes = new PromCounter({
        name: 'anchorage_ca_k8s_csr_total',
        help: 'CertificateSigningRequests handled by the anchorage.dev signer, by outcome',
        labelNames: ['ca', 'outcome'],
        registers: [o.registry],
      });
  }

  /** Start the cache (every replica); resolves when it is synced. */
  async start(): Promise<void> {
    this.informer.start();
    await this.informer.synced;
  }

  get synced(): boolean {
    return this.informer.hasSynced;
  }

  /** Start signing (the leader). */
  startWorkers(): void {
    if (this.workers) return;
    this.queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 60_000 });
    for (const c of this.informer.list()) if (decide(c, this.domain).action !== 'skip') this.queue.add(c.metadata.name);
    this.workers = this.queue.run(
      this.o.workers ?? 2,
      (k) => this.reconcile(k),
      (k, e, d) => this.log.error({ csr: k, err: (e as Error).message, retryInMs: d }, 'signing failed'),
    );
    if (this.o.publishNamespace && !this.publishing) {
      const abort = new AbortController();
      const loop = async (): Promise<void> => {
        while (!abort.signal.aborted) {
          try {
            await this.publishBundles();
          } catch (e) {
            this.log.warn({ err: (e as Error).message }, 'publishing trust bundles failed: retrying');
          }
          await sleep(this.o.publishIntervalMs ?? 30_000, abort.signal);
        }
      };
      this.publishing = { abort, done: loop() };
    }
  }

  /** Apply each CA's trust bundle ConfigMap when it changed since the last write. */
  async publishBundles(): Promise<void> {
    const ns = this.o.publishNamespace as string;
    for (const ca of await this.o.service.listCas()) {
      const pem = (await this.o.service.trustBundle(ca.name)).map((c) => c.toPem()).join('');
      if (this.published.get(ca.name) === pem) continue;
      const name = bundleConfigMapName(ca.name);
      await this.o.client.apply(
        resourcePath(CORE.configMaps, ns, name),
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: ns, labels: { 'ca.anchorage.dev/name': ca.name } },
          data: { 'ca.crt': pem },
        },
        'anchorage-ca',
      );
      this.published.set(ca.name, pem);
      this.log.info(
        { ca: ca.name, configMap: `${ns}/${name}`, certificates: pem.split('BEGIN CERTIFICATE').length - 1 },
        'trust bundle published',
      );
    }
  }

  async stop(): Promise<void> {
    this.publishing?.abort.abort();
    await this.publishing?.done;
    this.queue.shutdown();
    await this.workers;
    this.workers = undefined;
    await this.informer.stop();
  }

  private async writeStatus(c: CsrObject, status: NonNullable<CsrObject['status']>): Promise<void> {
    const path = `${resourcePath(CSR_TYPE, undefined, c.metadata.name)}/status`;
    // PUT with the cached resourceVersion: a newer object (e.g. just denied) makes this a 409 and a retry.
    await this.o.client.request('PUT', path, { ...c, apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', status });
  }

  async reconcile(name: string): Promise<void> {
    const c = this.informer.get(name);
    if (!c) return;
    const d = decide(c, this.domain);
    if (d.action === 'skip') return;
    const uid = c.metadata.uid ?? name;
    const now = new Date().toISOString();
    const fail = async (reason: string, message: string, ca: string): Promise<void> => {
      const conditions = [
        ...(c.status?.conditions ?? []),
        { type: 'Failed', status: 'True', reason, message: message.slice(0, 1000), lastUpdateTime: now, lastTransitionTime: now },
      ];
      await this.writeStatus(c, { ...c.status, conditions });
      this.outcomes?.inc({ ca, outcome: 'failed' });
      this.log.info({ csr: name, ca, reason, message }, 'CSR failed');
    };
    if (d.action === 'fail') return fail(d.reason, d.message, c.spec.signerName.slice(this.domain.length + 1));
    let pem = this.pending.get(uid);
    if (!pem) {
      try {
        const issued = await this.o.service.issue({
          ca: d.ca,
          csr: d.request,
          profile: d.profile,
          ...(d.days !== undefined ? { days: d.days } : {}),
          requester: d.requester,
        });
        // The leaf, then the intermediates; the self-signed root is the trust anchor, not part of the chain.
        pem = [issued.certificate, ...issued.chain.filter((x) => !x.selfSigned)].map((x) => x.toPem()).join('');
        this.pending.set(uid, pem);
        this.log.info({ csr: name, ca: d.ca, serial: issued.serial, logIndex: issued.logIndex }, 'CSR signed');
      } catch (e) {
        // A store that is down is worth retrying; any other refusal is final (and already audited).
        if (e instanceof CaRefusal && e.status !== 503) return fail('SignerValidationFailure', e.message, d.ca);
        throw e;
      }
    }
    try {
      await this.writeStatus(c, { ...c.status, certificate: Buffer.from(pem).toString('base64') });
      this.pending.delete(uid);
      this.outcomes?.inc({ ca: d.ca, outcome: 'signed' });
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) {
        this.pending.delete(uid);
        return;
      }
      throw e;
    }
  }
}
