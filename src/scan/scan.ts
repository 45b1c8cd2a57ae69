// `anchorage scan`: sources → inventory → findings (the lint catalog over every place a certificate was
// seen, plus the inventory-level checks below) → the documented report (docs/scan-schema.md). Pure: the
// caller reads files, the Kubernetes API and live endpoints and hands over bytes and handshake results.
import { createHash, hash } from 'node:crypto';
import { CA_LOG_FINDINGS, type CaLogIndex, certificatesMissingFromLog } from '../ca/log-scan.ts';
import { InputError } from '../common/errors.ts';
import {
  type CertEntry,
  type Inventory,
  InventoryBuilder,
  type InventorySource,
  isObjectKey,
  type Location,
  nodeOfPath,
  showLocation,
} from '../inventory/inventory.ts';
import { readObjects } from '../inventory/read.ts';
import type { Backend, CertManagerCertificate } from '../k8s/cluster-source.ts';
import { rolesForPath } from '../k8s/role-detect.ts';
import { K8S_ROLES } from '../k8s/roles.ts';
import { LINTS_BY_ID } from '../lint/catalog.ts';
import { type LintTarget, lintCertificates } from '../lint/engine.ts';
import { DEFAULT_POLICY, type Policy } from '../lint/policy.ts';
import { SEVERITY_RANK, type Severity, safeSubject } from '../lint/types.ts';
import { describeNames, matchesHost, parseHost } from '../trust/names.ts';
import { normaliseName, TrustIndex } from '../trust/pool.ts';
import { SignatureCache } from '../trust/sigcache.ts';
import { verifyChain } from '../trust/verify.ts';
import { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import { spkiSha256 } from '../x509/keys.ts';
import { looksLikePem, type PemBlock, scanPem } from '../x509/pem.ts';
import { type ComponentFlags, componentFlags } from './components.ts';
import type { EndpointProbe } from './endpoint.ts';
import { privateKeySpki } from './key-spki.ts';
import { controlPlaneRelations } from './relations.ts';

export const SCAN_SCHEMA_VERSION = 'anchorage.scan/v1';

export interface ScanFinding {
  /** Stable id: a lint id (docs/findings.md) or a `scan.*` id. */
  id: string;
  severity: Severity;
  /** Every place involved: a file path (with the position inside it), or `namespace/kind/name[key]`. */
  locations: string[];
  /** The certificate the finding is about, when there is one. */
  subject?: string;
  sha256?: string;
  /** Plain words: what was seen. */
  why: string;
  /** What to do about it. */
  fix: string;
}

export interface ScanCertificate {
  sha256: string;
  subject: string;
  issuer: string;
  notAfter: string;
  isCA: boolean;
  selfSigned: boolean;
  role: string | null;
  spkiSha256: string;
  /** Certificates in this scan that signed this one (verified by signature). */
  issuedBy: string[];
  /** Where private keys for this certificate's public key were seen. */
  keyLocations: string[];
  locations: Location[];
}

export interface ScanReport {
  schema: typeof SCAN_SCHEMA_VERSION;
  generatedAt: string;
  /** The time expiry and validity were judged at. */
  at: string;
  summary: { certificates: number; keys: number; sources: number; unreadable: number } & Record<Severity, number>;
  findings: ScanFinding[];
  certificates: ScanCertificate[];
  /** Sources that could not be read, or held nothing Anchorage reads, with the reason. */
  skipped: { source: string; reason: string }[];
  /** Live TLS endpoints probed (`--endpoint`, the API server, webhook `url` backends). */
  endpoints: ScanEndpoint[];
  /** Consumer → server relations and whether the TLS handshake succeeds (or would), and why. */
  relations: ScanRelation[];
}

export interface ScanEndpoint {
  endpoint: string;
  /** The name the certificate must carry (SNI). */
  name: string;
  /** What this endpoint is: `endpoint` (--endpoint), `apiserver`, or the caBundle source whose backend it is. */
  for: string;
  reached: boolean;
  error?: string;
  protocol?: string;
  /** SHA-256 of each presented certificate, leaf first (each is in `certificates`). */
  chain: string[];
  /** When a CA was given (kubeconfig CA, caBundle): whether OpenSSL accepted the chain and name, and why not. */
  verified?: boolean;
  verifyError?: string;
  clientCert?: { accepted: boolean; reason?: string };
}

export interface ScanRelation {
  /** Who connects: a kubeconfig cluster, a caBundle, `anchorage` for a probed endpoint. */
  consumer: string;
  /** Who serves: `host:port`, `service <ns>/<name>`, a file. */
  server: string;
  /** SHA-256 of the certificates the consumer trusts. */
  anchors: string[];
  /** `handshake`: a real TLS handshake was made; `predicted`: from the certificates in the scan. */
  basis: 'handshake' | 'predicted';
  verdict: 'ok' | 'fails' | 'unchecked';
  why: string;
}

/** A probed endpoint, handed to `scan`. */
export interface EndpointInput {
  probe: EndpointProbe;
  /** `endpoint`, `apiserver`, or a caBundle source. */
  for: string;
  /** Where the CA the handshake was checked with came from (a kubeconfig, a caBundle source). */
  caSource?: string;
}

/** The inventory-level findings this module adds to the lint catalog. Documented in docs/findings.md. */
export const SCAN_FINDINGS = {
  ...CA_LOG_FINDINGS,
  'scan.chain.untrusted': {
    severity: 'error',
    description: 'The certificate does not chain to any root in the scan: a signature, CA flag or constraint on its path fails.',
    remediation: 'Reissue it from the CA that should sign it, or replace the broken CA certificate on its path.',
  },
  'scan.chain.wrong-ca': {
    severity: 'error',
    description:
      "The certificate's Kubernetes role needs a given cluster CA (ca.crt, etcd/ca.crt, front-proxy-ca.crt), and the CA found at that file did not sign it: the components that check it reject it.",
    remediation:
      'Reissue it from the CA at the file the role table names (anchorage pki init fills the gap), or find where the other CA came from.',
  },
  'scan.chain.issuer-not-found': {
    severity: 'warning',
    description: 'No certificate in the scan has the name the certificate gives as its issuer, so its trust cannot be checked.',
    remediation: 'Include the issuing CA (scan its directory or Secret too), or ignore when the CA is kept offline on purpose.',
  },
  'scan.ca.same-name-different-key': {
    severity: 'warning',
    description:
      'Two CA certificates carry one subject name but different keys: clients that pick issuers by name may choose the wrong one.',
    remediation: 'Outside a planned CA rotation, find which CA is rogue or stale and remove it; give a new CA a new name.',
  },
  'scan.key.ca-key-on-worker': {
    severity: 'error',
    description: "A CA's private key is on a worker node: whoever controls that node can issue any identity the CA signs.",
    remediation: 'Delete the key from the worker and rotate the CA (anchorage pki rotate-ca): the key must be assumed copied.',
  },
  'scan.key.mismatch': {
    severity: 'error',
    description: 'A private key stored with a certificate does not belong to it: TLS with this pair fails.',
    remediation: 'Put the key that was issued with the certificate beside it, or reissue the certificate for this key.',
  },
  'scan.kubeconfig.ca-did-not-sign-server': {
    severity: 'error',
    description:
      "A kubeconfig's certificate-authority does not verify the API server certificate found in the scan: clients using it fail the TLS handshake.",
    remediation:
      "Replace the kubeconfig's certificate-authority-data with the CA that signed the API server certificate (the cluster ca.crt).",
  },
  'scan.relation.handshake-fails': {
    severity: 'error',
    description:
      "A control-plane connection predicted from the node trees fails: the CA one side is configured to trust (kube-apiserver's --etcd-cafile, etcd's --trusted-ca-file, a kubelet's client CA, --kubelet-certificate-authority, --requestheader-client-ca-file, kube-system/extension-apiserver-authentication) does not verify the other side's certificate, the name it is dialled by is not in it, or the front-proxy client's CN is not an allowed name.",
    remediation:
      'Reissue the certificate named first from the CA the other side trusts (anchorage pki init fills the gap), or point the flag at the CA that signed it; for the front proxy, issue the client with a CN from --requestheader-allowed-names.',
  },
  'scan.endpoint.name-mismatch': {
    severity: 'error',
    description:
      'A live endpoint serves a certificate that does not carry the name it was reached by (DNS name or IP in subjectAltName): clients that check names refuse it.',
    remediation: 'Reissue the serving certificate with that name in its subjectAltName, or reach the endpoint by a name it carries.',
  },
  'scan.endpoint.untrusted': {
    severity: 'error',
    description:
      'A live endpoint presented a chain the CA its clients are given (kubeconfig certificate-authority, --endpoint-ca) does not verify: the TLS handshake fails.',
    remediation:
      "Serve a certificate that CA signed (with its intermediates), or give the clients the CA that signed the endpoint's certificate.",
  },
  'scan.endpoint.client-cert-rejected': {
    severity: 'error',
    description:
      'A live endpoint refused the client certificate it was offered (a TLS alert after the handshake): that client cannot connect.',
    remediation: "Issue the client certificate from the CA the server's client-ca-file names, or add that CA to the server's client CAs.",
  },
  'scan.cabundle.backend-untrusted': {
    severity: 'error',
    description:
      "A webhook, APIService or conversion caBundle does not verify its backend's serving certificate (or the name the API server dials): the API server's calls to it fail.",
    remediation:
      "Put the CA that signed the backend's serving certificate into the caBundle, or reissue the serving certificate from the caBundle's CA for <service>.<namespace>.svc.",
  },
  'scan.cabundle.backend-unchecked': {
    severity: 'notice',
    description:
      "A caBundle's backend could not be checked: no serving certificate for <service>.<namespace>.svc was found in the scan, or its url could not be reached.",
    remediation:
      "Scan the namespace or Secret that holds the backend's serving certificate, or make the url reachable from where the scan runs.",
  },
  'scan.bundle.non-ca': {
    severity: 'error',
    description:
      'A trust bundle in the cluster (a webhook/APIService/CRD caBundle, a CA-bundle ConfigMap key, a cert-manager issuer caBundle) carries a certificate that is not a CA: it can anchor nothing but itself. (CA files and kubeconfigs: the lint k8s.bundle.non-ca.)',
    remediation: 'Remove it from the bundle; put the CA that issued it there instead when clients need it.',
  },
  'scan.bundle.expired': {
    severity: 'warning',
    description:
      'A trust bundle carries an expired certificate: dead weight that hides which CA is really in use, and no client can chain to it.',
    remediation: 'Remove the expired certificate from the bundle (keep its successor).',
  },
  'scan.cert-manager.secret-stale': {
    severity: 'warning',
    description:
      "A cert-manager Certificate's Secret holds a certificate that lacks a DNS name the Certificate asks for: the Secret is stale or was written by something else.",
    remediation: 'Let cert-manager reissue it (cmctl renew, or delete the Secret), and find what else writes that Secret.',
  },
} as const satisfies Record<string, { severity: Severity; description: string; remediation: string }>;
export type ScanFindingId = keyof typeof SCAN_FINDINGS;

export interface ScanInput {
  /** A file path, or `namespace/kind/name[key]`. */
  source: string;
  data: Uint8Array;
}

export interface ScanOptions {
  /** The time expiry and validity are judged at. */
  now: Date;
  /** When the report is made (default: `now`); the module never reads the clock. */
  generatedAt?: Date;
  policy?: Policy;
  password?: string;
  /** Sources that failed before reading (unreachable API, unreadable directory): reported under `skipped`. */
  failures?: { source: string; reason: string }[];
  /** Live TLS endpoints probed; their chains join the inventory. */
  endpoints?: EndpointInput[];
  /** Webhook/APIService/conversion caBundles and their backends (src/scan/cluster.ts). */
  backends?: Backend[];
  certManager?: CertManagerCertificate[];
  /**
   * Component flags read from the cluster (the kube-system mirror pods, src/scan/cluster.ts): what kube-apiserver
   * and etcd run with now. They come before the flags of manifests and units found among the files.
   */
  components?: readonly ComponentFlags[];
  /** Anchorage CA transparency logs (src/ca/log-scan.ts): certificates their CAs signed must be in them. */
  caLog?: CaLogIndex;
}

/** Most sources one scan takes (each is parsed and kept in memory). */
export const MAX_SOURCES = 500_000;

interface NodeInfo {
  roles: Set<string>;
}

/** What one value parsed to, kept by the SHA-256 of its bytes: the same bytes at another place are not parsed again. */
type Parsed = { result: InventorySource['result']; warnings: readonly string[] } | { error: string };
/** Values cached: each at most 256 KiB, 64 MiB of values in all (a kube-root-ca.crt in every namespace, a chain in many Secrets). */
const PARSE_CACHE_MAX_BYTES = 256 * 1024;
const PARSE_CACHE_BUDGET = 64 * 1024 * 1024;

/**
 * A scan fed one source at a time: each is parsed and folded into the inventory at once and its bytes and
 * parse dropped (a cluster's Secrets stream in page by page), then `finish` judges the whole.
 */
export class Scanner {
  private readonly builder = new InventoryBuilder();
  private readonly nodeRoles = new Map<string, NodeInfo>();
  private readonly skipped: ScanReport['skipped'] = [];
  private readonly password: string | undefined;
  private readonly components: ComponentFlags[] = [];
  private sources = 0;
  /** One signature check per (issuer key, certificate), shared by the issuer edges and every path built later. */
  readonly sigCache = new SignatureCache();
  /** Parses by the SHA-256 of the bytes (the parse of a value depends on its bytes and the password only). */
  private readonly parsed = new Map<string, Parsed>();
  private parsedBytes = 0;
  /** Values whose parse came from the cache (tests, benchmarks). */
  parseCacheHits = 0;

  constructor(o: { password?: string } = {}) {
    this.password = o.password;
  }

  add(f: ScanInput): void {
    if (++this.sources > MAX_SOURCES) throw new InputError(`too many sources: over ${MAX_SOURCES}`);
    this.read(f);
  }

  private read(f: ScanInput): void {
    if (f.source.endsWith('manifest.json') && /(^|\/)manifest\.json$/.test(f.source)) {
      if (readManifestNodes(f, this.nodeRoles)) return;
    }
    const n = nodeOfPath(f.source);
    const location: InventorySource['location'] = { source: f.source };
    if (n) {
      location.node = n.node;
      location.nodePath = n.nodePath;
    }
    const flags = componentFlags(f.source, location.node, f.data);
    if (flags) {
      this.components.push(flags);
      return;
    }
    const key = f.data.length <= PARSE_CACHE_MAX_BYTES ? hash('sha256', f.data, 'base64') : undefined;
    let p = key === undefined ? undefined : this.parsed.get(key);
    if (p) this.parseCacheHits++;
    else {
      p = this.parse(f.data);
      if (key !== undefined && this.parsedBytes + f.data.length <= PARSE_CACHE_BUDGET) {
        this.parsed.set(key, p);
        this.parsedBytes += f.data.length;
      }
    }
    if ('error' in p) {
      this.skipped.push({ source: f.source, reason: p.error });
      return;
    }
    for (const w of p.warnings) this.skipped.push({ source: f.source, reason: w });
    // The inventory keeps each certificate once and never changes a parse: one parse may serve many places.
    this.builder.add({ location, result: p.result });
  }

  private parse(data: Uint8Array): Parsed {
    try {
      const fast = this.password === undefined ? readPlainPem(data) : undefined;
      if (fast) return { result: fast, warnings: [] };
      const result = readObjects(data, this.password === undefined ? {} : { password: this.password });
      return { result, warnings: result.warnings };
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      return { error: e.message };
    }
  }

  /** Judge everything added (plus the endpoints' chains) and make the report. */
  finish(opts: ScanOptions): ScanReport {
    const skipped: ScanReport['skipped'] = [...(opts.failures ?? [])];
    for (const e of opts.endpoints ?? []) {
      if (!e.probe.reached) skipped.push({ source: `tls://${e.probe.endpoint}`, reason: e.probe.error ?? 'not reached' });
      e.probe.chain.forEach((der, i) => {
        this.read({ source: `tls://${e.probe.endpoint}[chain ${i}]`, data: der });
      });
    }
    skipped.push(...this.skipped);
    const sig = this.sigCache;
    const inv = this.builder.finish((c, i) => sig.verify(c, i.publicKey, i.spkiSha256));
    const relations: ScanRelation[] = [];
    const components = [...(opts.components ?? []), ...this.components];
    const findings = judge(inv, { ...opts, nodeRoles: this.nodeRoles, relations, sigCache: sig, components });
    const certificates = [...inv.certificates.values()].map((e) => certificateJson(e, inv));
    const off = new Set((opts.policy ?? DEFAULT_POLICY).lints.disabled);
    if (opts.caLog && !off.has('scan.ca.not-in-log'))
      for (const m of certificatesMissingFromLog(certificates, opts.caLog))
        findings.push({
          ...scanFinding(
            'scan.ca.not-in-log',
            (certificates.find((c) => c.sha256 === m.sha256)?.locations ?? []).map((l) => (l.at ? `${l.source} (${l.at})` : l.source)),
            `${m.subject} was signed by Anchorage CA '${m.ca}' but is not in its transparency log`,
          ),
          subject: m.subject,
          sha256: m.sha256,
        });
    findings.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.id.localeCompare(b.id));
    const summary: ScanReport['summary'] = {
      certificates: inv.certificates.size,
      keys: inv.keys.size,
      sources: this.sources + (opts.failures?.length ?? 0),
      unreadable: skipped.length,
      error: 0,
      warning: 0,
      notice: 0,
    };
    for (const f of findings) summary[f.severity]++;
    return {
      schema: SCAN_SCHEMA_VERSION,
      generatedAt: (opts.generatedAt ?? opts.now).toISOString(),
      at: opts.now.toISOString(),
      summary,
      findings,
      certificates,
      skipped,
      endpoints: (opts.endpoints ?? []).map(endpointJson),
      relations,
    };
  }
}

/** Parse the inputs, build the inventory and judge it. */
export function scan(inputs: readonly ScanInput[], opts: ScanOptions): ScanReport {
  if (inputs.length > MAX_SOURCES) throw new InputError(`too many sources: ${inputs.length} (at most ${MAX_SOURCES})`);
  const s = new Scanner(opts.password === undefined ? {} : { password: opts.password });
  for (const f of inputs) s.add(f);
  return s.finish(opts);
}

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
const PLAIN_KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

/**
 * The common case read without node:crypto: PEM holding only certificates and unencrypted private keys
 * whose public half their DER carries (key-spki.ts). Undefined for anything else, which the general
 * reader then takes (its answers and errors are the reference; this path gives the same objects).
 */
export function readPlainPem(data: Uint8Array): InventorySource['result'] | undefined {
  if (!looksLikePem(data)) return undefined;
  let blocks: PemBlock[];
  try {
    blocks = scanPem(Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1'));
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
  if (!blocks.length) return undefined;
  const objects: InventorySource['result']['objects'][number][] = [];
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i] as PemBlock;
    const location = blocks.length > 1 ? `block ${i + 1} (line ${b.line})` : `line ${b.line}`;
    if (CERT_LABELS.has(b.label)) {
      let cert: Certificate;
      try {
        cert = new Certificate(b.der);
      } catch (e) {
        if (e instanceof DerError || e instanceof InputError) return undefined;
        throw e;
      }
      objects.push({ kind: 'certificate', cert, location });
    } else if (PLAIN_KEY_LABELS.has(b.label) && Object.keys(b.headers).length === 0) {
      const spki = privateKeySpki(b.label, b.der);
      if (!spki) return undefined;
      objects.push({ kind: 'private-key', spkiSha256: spkiSha256(spki), location });
    } else return undefined;
  }
  return { format: 'pem', objects };
}

function endpointJson(e: EndpointInput): ScanEndpoint {
  const p = e.probe;
  const out: ScanEndpoint = { endpoint: p.endpoint, name: p.name, for: e.for, reached: p.reached, chain: [] };
  if (p.error !== undefined) out.error = p.error;
  if (p.protocol !== undefined) out.protocol = p.protocol;
  out.chain = p.chain.map((d) => createHash('sha256').update(d).digest('hex'));
  if (p.verified !== undefined) out.verified = p.verified;
  if (p.verifyError !== undefined) out.verifyError = p.verifyError;
  if (p.clientCert) out.clientCert = p.clientCert;
  return out;
}

/** A `pki init` manifest names each node's roles (control-plane, worker, etcd). False when the file is not one. */
function readManifestNodes(f: ScanInput, out: Map<string, NodeInfo>): boolean {
  if (f.data.length > 64 * 1024 * 1024) return false;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(f.data).toString('utf8'));
  } catch {
    return false;
  }
  const d = doc as { schema?: unknown; nodes?: unknown };
  if (typeof d?.schema !== 'string' || !d.schema.startsWith('anchorage.pki-manifest/') || !Array.isArray(d.nodes)) return false;
  for (const n of d.nodes as { name?: unknown; roles?: unknown }[])
    if (typeof n?.name === 'string' && Array.isArray(n.roles)) out.set(n.name, { roles: new Set(n.roles.map(String)) });
  return true;
}

function certificateJson(e: CertEntry, inv: Inventory): ScanCertificate {
  let spki = '';
  try {
    spki = e.cert.spkiSha256;
  } catch {}
  return {
    sha256: e.sha256,
    subject: safeSubject(e.cert),
    issuer: safe(() => e.cert.issuer, ''),
    notAfter: e.cert.notAfter.toISOString(),
    isCA: safe(() => e.cert.isCA, false),
    selfSigned: safe(() => e.cert.selfSigned, false),
    role: e.role ?? null,
    spkiSha256: spki,
    issuedBy: e.issuers,
    keyLocations: (inv.keys.get(spki)?.locations ?? []).map(showLocation),
    locations: e.locations,
  };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) return fallback;
    throw e;
  }
}

function scanFinding(id: ScanFindingId, locations: string[], why: string, cert?: Certificate): ScanFinding {
  const d = SCAN_FINDINGS[id];
  const f: ScanFinding = { id, severity: d.severity, locations: [...new Set(locations)], why, fix: d.remediation };
  if (cert) {
    f.subject = safeSubject(cert);
    f.sha256 = cert.sha256;
  }
  return f;
}

interface JudgeContext extends ScanOptions {
  nodeRoles: Map<string, NodeInfo>;
  relations: ScanRelation[];
  sigCache: SignatureCache;
  components: readonly ComponentFlags[];
}

function judge(inv: Inventory, o: JudgeContext): ScanFinding[] {
  const policy = o.policy ?? DEFAULT_POLICY;
  const overrides = policy.lints.severity;
  const off = new Set(policy.lints.disabled);
  const sig = o.sigCache;
  const out: ScanFinding[] = [...lintFindings(inv, policy, o.now)];
  const add = (f: ScanFinding): void => {
    if (off.has(f.id)) return;
    const sev = overrides[f.id];
    out.push(sev ? { ...f, severity: sev } : f);
  };
  // A signer the lints already name (by the issuer's role or a key that did not sign) is not reported twice.
  const flagged = new Set(out.filter((f) => SIGNER_LINTS.has(f.id)).map((f) => f.sha256));
  const chain = chainFindings(inv, o.now, sig).filter((f) => !flagged.has(f.sha256));
  for (const f of chain) add(f);
  for (const f of chain) flagged.add(f.sha256);
  for (const f of wrongCa(inv, o.now, sig))
    if (!flagged.has(f.sha256)) {
      add(f);
      flagged.add(f.sha256);
    }
  for (const f of sameNameFindings(inv)) add(f);
  for (const f of caKeyOnWorker(inv, o.nodeRoles)) add(f);
  for (const f of keyMismatch(inv)) add(f);
  for (const f of kubeconfigCa(inv, o.now, o.relations, sig, o.components)) add(f);
  // The control plane's own connections: each recorded; a failure already explained by its certificate's
  // signer (wrong CA, untrusted chain) is not reported twice.
  for (const r of controlPlaneRelations(inv, o.components, o.now, sig)) {
    o.relations.push(r.relation);
    if (r.failed && !flagged.has(r.failed.cert.sha256))
      add(
        scanFinding(
          'scan.relation.handshake-fails',
          r.failed.locations,
          `${r.relation.consumer} → ${r.relation.server}: ${r.failed.why}`,
          r.failed.cert,
        ),
      );
  }
  for (const f of endpointFindings(inv, o.endpoints ?? [], o.relations)) add(f);
  for (const f of backendFindings(inv, o.backends ?? [], o.endpoints ?? [], o.now, o.relations, sig)) add(f);
  const linted = new Set(out.filter((f) => f.id === 'k8s.bundle.non-ca').flatMap((f) => f.locations.map((l) => `${f.sha256}\u0000${l}`)));
  for (const f of bundleFindings(inv, o.now, linted)) add(f);
  for (const f of certManagerFindings(inv, o.certManager ?? [])) add(f);
  return out;
}

/**
 * The lint catalog over every place each certificate was seen; one finding per (lint, certificate, message)
 * with all its places. A certificate repeated at many Kubernetes object keys (a CA in every namespace's
 * ca.crt) is linted once per kind of place: there the role comes from the certificate alone, so every such
 * place gets the same verdict (files are each linted: their paths name roles).
 */
function lintFindings(inv: Inventory, policy: Policy, now: Date): ScanFinding[] {
  const perSource = new Map<string, number>();
  // Indexed loops over the places here and below: run once, as cold code, an array iterator allocates per step.
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const source = (e.locations[li] as Location).source;
      perSource.set(source, (perSource.get(source) ?? 0) + 1);
    }
  const targets: LintTarget[] = [];
  /** Per target: every place it stands for (shown only for the targets a lint reports: a clean CA's 20,000 places are not). */
  const places: Location[][] = [];
  /** Per certificate, the target of each kind of place (several certificates in the source: +1, CA data: +2), or -1. */
  const classes = [-1, -1, -1, -1];
  for (const e of inv.certificates.values()) {
    classes.fill(-1);
    const locations = e.locations;
    for (let j = 0; j < locations.length; j++) {
      const l = locations[j] as Location;
      const sourceCount = perSource.get(l.source) ?? 1;
      const caData = l.at?.includes('certificate-authority') === true;
      // k8s.bundle.non-ca names its source: a non-CA certificate at CA data is linted at each place.
      const cls = isObjectKey(l.source) && !(caData && !safe(() => e.cert.isCA, false)) ? (sourceCount > 1 ? 1 : 0) + (caData ? 2 : 0) : -1;
      const i = cls < 0 ? -1 : (classes[cls] as number);
      if (i >= 0) {
        places[i]?.push(l);
        continue;
      }
      const t: LintTarget = { cert: e.cert, source: l.source, sourceCount };
      if (l.at !== undefined) t.location = l.at;
      if (cls >= 0) classes[cls] = targets.length;
      targets.push(t);
      places.push([l]);
    }
  }
  // The inventory keeps its certificates to the end: the lints decode on copies (~10 KiB a certificate less).
  const report = lintCertificates(targets, { policy, now, lintCopies: true });
  const byKey = new Map<string, ScanFinding>();
  /** Per finding, its places as a set: a CA seen at 20,000 object keys must not cost a list search per place. */
  const placed = new Map<ScanFinding, Set<string>>();
  const placeOf = new Map<string, number>();
  targets.forEach((t, i) => {
    placeOf.set(`${t.source}\u0000${t.location ?? ''}`, i);
  });
  const shown = new Map<number, string[]>();
  const placesOf = (i: number): string[] => {
    let s = shown.get(i);
    if (!s) {
      s = (places[i] as Location[]).map(showLocation);
      shown.set(i, s);
    }
    return s;
  };
  for (const f of report.findings) {
    const i = placeOf.get(`${f.source ?? ''}\u0000${f.location ?? ''}`);
    const where = i === undefined ? [f.source ?? ''] : placesOf(i);
    const k = `${f.lintId}\u0000${f.sha256}\u0000${f.message}`;
    const have = byKey.get(k);
    if (have) {
      let seen = placed.get(have);
      if (!seen) {
        seen = new Set(have.locations);
        placed.set(have, seen);
      }
      for (const w of where)
        if (!seen.has(w)) {
          seen.add(w);
          have.locations.push(w);
        }
      continue;
    }
    byKey.set(k, {
      id: f.lintId,
      severity: f.severity,
      locations: [...where],
      subject: f.subject,
      sha256: f.sha256,
      why: f.message,
      fix: LINTS_BY_ID.get(f.lintId)?.remediation ?? '',
    });
  }
  return [...byKey.values()];
}

const SIGNER_LINTS = new Set(['k8s.role.wrong-signer', 'x509.signature.not-by-issuer']);
const TIME_CODES = new Set(['EXPIRED', 'NOT_YET_VALID']);

/** Every non-root certificate must chain to a self-signed root seen in the scan. Expiry is the lint's to report. */
function chainFindings(inv: Inventory, now: Date, sig: SignatureCache): ScanFinding[] {
  const roots: Certificate[] = [];
  const cas: Certificate[] = [];
  for (const e of inv.certificates.values()) {
    if (!safe(() => e.cert.isCA || e.cert.selfIssued, false)) continue;
    if (safe(() => e.cert.selfSigned, false)) roots.push(e.cert);
    else cas.push(e.cert);
  }
  const index = new TrustIndex(roots, cas);
  const out: ScanFinding[] = [];
  for (const e of inv.certificates.values()) {
    if (safe(() => e.cert.selfIssued, true)) continue;
    let r: ReturnType<typeof verifyChain>;
    try {
      r = verifyChain({ leaf: e.cert, index, at: now, sigCache: sig });
    } catch (err) {
      if (err instanceof DerError) continue;
      throw err;
    }
    if (r.trusted) continue;
    const failures = (r.candidates[0]?.failures ?? []).filter((f) => !TIME_CODES.has(f.code));
    if (r.candidates[0] && failures.length === 0) continue; // only expiry on the path: the lint reports it
    const locations = e.locations.map(showLocation);
    if (r.code === 'ISSUER_NOT_FOUND')
      out.push(
        scanFinding(
          'scan.chain.issuer-not-found',
          locations,
          `no certificate in the scan is named ${safe(() => e.cert.issuer, '?')}`,
          e.cert,
        ),
      );
    else
      out.push(
        scanFinding(
          'scan.chain.untrusted',
          locations,
          `${r.code}: ${failures.map((f) => f.message).join('; ') || r.reasons.join('; ')}`,
          e.cert,
        ),
      );
  }
  return out;
}

function sameNameFindings(inv: Inventory): ScanFinding[] {
  const byName = new Map<string, CertEntry[]>();
  for (const e of inv.certificates.values()) {
    if (!safe(() => e.cert.isCA, false)) continue;
    // By the name's meaning, not its bytes: a rogue CA made by openssl encodes CN as UTF8String.
    const k = normaliseName(safeSubject(e.cert));
    pushTo(byName, k, e);
  }
  const out: ScanFinding[] = [];
  for (const list of byName.values()) {
    const keys = new Set(list.map((e) => e.cert.spkiSha256));
    if (keys.size < 2) continue;
    const first = list[0] as CertEntry;
    const locations = list.flatMap((e) => e.locations.map(showLocation));
    out.push(
      scanFinding(
        'scan.ca.same-name-different-key',
        locations,
        `${keys.size} CA certificates named ${safeSubject(first.cert)} have different keys (${list.map((e) => `${e.sha256.slice(0, 12)} at ${showLocation(e.locations[0] as Location)}`).join(', ')})`,
        first.cert,
      ),
    );
  }
  return out;
}

/** A node is a worker when the manifest says only worker, or (without one) when nothing on it is a control-plane or etcd certificate. */
function workerNodes(inv: Inventory, nodeRoles: Map<string, NodeInfo>): Set<string> {
  const nodes = new Set<string>();
  const controlish = new Set<string>();
  const cpRoles = /^(apiserver|etcd-|front-proxy|hard-way-apiserver|ca$|sa)/;
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      if (!l.node) continue;
      nodes.add(l.node);
      if (e.role && cpRoles.test(e.role) && !l.at?.startsWith('clusters[')) controlish.add(l.node);
    }
  for (const k of inv.keys.values())
    for (let li = 0; li < k.locations.length; li++) {
      const node = (k.locations[li] as Location).node;
      if (node) nodes.add(node);
    }
  const out = new Set<string>();
  for (const n of nodes) {
    const m = nodeRoles.get(n);
    if (m ? !m.roles.has('control-plane') && !m.roles.has('etcd') : !controlish.has(n)) out.add(n);
  }
  return out;
}

function caKeyOnWorker(inv: Inventory, nodeRoles: Map<string, NodeInfo>): ScanFinding[] {
  const workers = workerNodes(inv, nodeRoles);
  if (!workers.size) return [];
  const out: ScanFinding[] = [];
  for (const k of inv.keys.values()) {
    const ca = (inv.bySpki.get(k.spkiSha256) ?? []).find((e) => safe(() => e.cert.isCA, false));
    if (!ca) continue;
    for (let li = 0; li < k.locations.length; li++) {
      const l = k.locations[li] as Location;
      if (l.node && workers.has(l.node))
        out.push(
          scanFinding(
            'scan.key.ca-key-on-worker',
            [showLocation(l)],
            `the private key of CA ${safeSubject(ca.cert)} is on worker node ${l.node} (${l.nodePath ?? l.source})`,
            ca.cert,
          ),
        );
    }
  }
  return out;
}

/** The group a key and certificate must agree within: a kubeconfig user, a Secret, a file, or a foo.crt/foo.key pair. */
export function pairGroup(l: Location): string | undefined {
  if (l.at?.startsWith('clusters[')) return undefined; // CA data: no key goes with it
  const user = l.at ? /^users\[(.*)\]\.client-(?:certificate|key)-data/.exec(l.at) : null;
  if (user) return `${l.source}\u0000user ${user[1]}`;
  const simple = simpleObjectKey(l.source);
  if (simple !== undefined) return simple;
  const obj = /^(.+\/[^/]+\/[^/[]+)\[[^\]]+\]$/.exec(l.source);
  if (obj) return obj[1];
  const file = /^(.*?)(?:-key)?\.(crt|key|pem|cer)$/.exec(l.source);
  if (file) return file[1];
  return l.source;
}

/**
 * `ns/Kind/name` of `ns/Kind/name[key]` in its common shape (one `[`, one `]` at the end, no `/` in the key, no
 * line break), without the backtracking of pairGroup's pattern (40,000 places at the bench's 20k Secrets); for any
 * other shape undefined, and the pattern decides. Where it answers, it answers what the pattern would: the only
 * `[` starts the `[key]` the pattern ends with, so the group is everything before it, when that is `X/Y/Z`.
 */
function simpleObjectKey(s: string): string | undefined {
  const n = s.length;
  if (s.charCodeAt(n - 1) !== 93 /* ] */) return undefined;
  const b = s.indexOf('[');
  if (b < 1 || b > n - 3 || s.indexOf(']') !== n - 1 || s.indexOf('[', b + 1) !== -1 || s.indexOf('/', b) !== -1) return undefined;
  const last = s.lastIndexOf('/', b);
  if (last < 0 || last > b - 2) return undefined;
  const second = s.lastIndexOf('/', last - 1);
  if (second < 1 || second > last - 2) return undefined;
  if (LINE_BREAK.test(s)) return undefined;
  return s.slice(0, b);
}
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** Where a certificate stands in its pair group, for naming the one a mismatched key goes with. */
function pairRank(x: { e: CertEntry; l: Location }): string {
  const line = /line (\d+)/.exec(x.l.at ?? '')?.[1] ?? '';
  return `${safe(() => x.e.cert.isCA, false) ? 1 : 0}\u0000${x.l.source}\u0000${line.padStart(12, '0')}\u0000${x.l.at ?? ''}`;
}

function keyMismatch(inv: Inventory): ScanFinding[] {
  if (!inv.keySightings.length) return [];
  // Per pair group, the public keys of its certificates (most groups hold one or two: a Secret's chain); the
  // certificates themselves are gathered only for the groups a key does not match.
  const keysByGroup = new Map<string, string | string[]>();
  for (const e of inv.certificates.values()) {
    const spki = safe(() => e.cert.spkiSha256, '');
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      const g = pairGroup(l);
      if (g === undefined) continue;
      const have = keysByGroup.get(g);
      if (have === undefined) keysByGroup.set(g, spki);
      else if (typeof have === 'string') {
        if (have !== spki) keysByGroup.set(g, [have, spki]);
      } else if (!have.includes(spki)) have.push(spki);
    }
  }
  const mismatched: { k: Inventory['keySightings'][number]; g: string }[] = [];
  for (let ki = 0; ki < inv.keySightings.length; ki++) {
    const k = inv.keySightings[ki] as Inventory['keySightings'][number];
    const g = pairGroup(k.location);
    if (g === undefined) continue;
    const have = keysByGroup.get(g);
    if (have === undefined || have === k.spkiSha256 || (typeof have !== 'string' && have.includes(k.spkiSha256))) continue;
    mismatched.push({ k, g });
  }
  if (!mismatched.length) return [];
  const wanted = new Set(mismatched.map((m) => m.g));
  const certsByGroup = new Map<string, { e: CertEntry; l: Location }[]>();
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      const g = pairGroup(l);
      if (g !== undefined && wanted.has(g)) pushTo(certsByGroup, g, { e, l });
    }
  const out: ScanFinding[] = [];
  for (const { k, g } of mismatched) {
    const certs = certsByGroup.get(g) as { e: CertEntry; l: Location }[];
    // Named against the certificate the key is meant for: a non-CA one first (a leaf, not the chain after
    // it), then the first by place; not by the order the inventory first saw them (which other objects decide).
    const c = certs.reduce((a, b) => (pairRank(b) < pairRank(a) ? b : a));
    out.push(
      scanFinding(
        'scan.key.mismatch',
        [showLocation(k.location), ...certs.map((x) => showLocation(x.l))],
        `the private key at ${showLocation(k.location)} is not the key of ${safeSubject(c.e.cert)} at ${showLocation(c.l)}`,
        c.e.cert,
      ),
    );
  }
  return out;
}

const SERVER_ROLES = new Set(['apiserver', 'hard-way-apiserver']);

/**
 * Each kubeconfig's CA must verify the API server certificate seen in the scan (on the same node when the tree
 * says): the one at the apiserver's --tls-cert-file when its flags are known (a mirror pod, a manifest), else
 * the certificates whose role is the API server's.
 */
function kubeconfigCa(
  inv: Inventory,
  now: Date,
  relations: ScanRelation[],
  sig: SignatureCache,
  components: readonly ComponentFlags[],
): ScanFinding[] {
  const servers = [...inv.certificates.values()].filter((e) => e.role && SERVER_ROLES.has(e.role));
  // node → the leaf certificates at its apiserver's --tls-cert-file (the first flags of a node win, as in relations.ts).
  const served = new Map<string, CertEntry[]>();
  const wanted = new Map<string, string>();
  for (const c of components)
    if (c.component === 'kube-apiserver' && c.node !== undefined && !wanted.has(c.node)) {
      const f = c.flags.get('tls-cert-file');
      if (f) wanted.set(c.node, f);
    }
  if (wanted.size)
    for (const e of inv.certificates.values()) {
      if (safe(() => e.cert.isCA, false)) continue;
      for (let li = 0; li < e.locations.length; li++) {
        const l = e.locations[li] as Location;
        if (l.node !== undefined && !l.at?.startsWith('clusters[') && !l.at?.startsWith('users[') && wanted.get(l.node) === l.nodePath) {
          const list = served.get(l.node) ?? [];
          if (!list.includes(e)) list.push(e);
          served.set(l.node, list);
        }
      }
    }
  const allServed = [...served.values()].flat();
  if (!servers.length && !allServed.length) return [];
  const cas = [...inv.certificates.values()].filter((e) => safe(() => e.cert.isCA, false)).map((e) => e.cert);
  const out: ScanFinding[] = [];
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      if (!l.at || !/^clusters\[.*\]\.certificate-authority-data/.test(l.at)) continue;
      const onNode = l.node ? (served.get(l.node) ?? servers.filter((s) => s.locations.some((x) => x.node === l.node))) : [];
      const judged = onNode.length ? onNode : allServed.length ? allServed : servers;
      const index = new TrustIndex([e.cert], cas);
      const ok = judged.some((s) => {
        try {
          const r = verifyChain({ leaf: s.cert, index, at: now, purpose: 'server', sigCache: sig });
          return r.trusted || (r.candidates[0]?.failures ?? []).every((f) => TIME_CODES.has(f.code) && r.candidates[0]?.complete);
        } catch (err) {
          if (err instanceof DerError) return false;
          throw err;
        }
      });
      const s = judged[0] as CertEntry;
      relations.push({
        consumer: showLocation(l),
        server: showLocation(s.locations.find((x) => !l.node || x.node === l.node) ?? (s.locations[0] as Location)),
        anchors: [e.sha256],
        basis: 'predicted',
        verdict: ok ? 'ok' : 'fails',
        why: ok
          ? `${safeSubject(e.cert)} verifies the API server certificate ${safeSubject(s.cert)}`
          : `${safeSubject(e.cert)} did not sign the API server certificate (issued by ${safe(() => s.cert.issuer, '?')})`,
      });
      if (ok) continue;
      out.push(
        scanFinding(
          'scan.kubeconfig.ca-did-not-sign-server',
          [showLocation(l), ...s.locations.filter((x) => !l.node || x.node === l.node).map(showLocation)],
          `the kubeconfig trusts ${safeSubject(e.cert)}, which did not sign the API server certificate ${safeSubject(s.cert)} (issued by ${safe(() => s.cert.issuer, '?')})`,
          e.cert,
        ),
      );
    }
  return out;
}

/** Where each role's CA lives: the certificates found at the role's own file (ca.crt, etcd/ca.crt, ...), by node. */
function caAtFiles(inv: Inventory): Map<string, { e: CertEntry; l: Location }[]> {
  const out = new Map<string, { e: CertEntry; l: Location }[]>();
  for (const e of inv.certificates.values()) {
    if (!safe(() => e.cert.isCA, false)) continue;
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      if (l.at?.startsWith('clusters[') || l.at?.startsWith('users[')) continue;
      for (const r of rolesForPath(l.nodePath ?? l.source)) {
        if (!r.ca) continue;
        const list = out.get(r.name) ?? [];
        list.push({ e, l });
        out.set(r.name, list);
      }
    }
  }
  return out;
}

/** A certificate with a role (apiserver, kubelet serving, front-proxy client...) must verify against the CA at its signer's file. */
function wrongCa(inv: Inventory, now: Date, sig: SignatureCache): ScanFinding[] {
  const anchorsByRole = caAtFiles(inv);
  if (!anchorsByRole.size) return [];
  const cas = [...inv.certificates.values()].filter((e) => safe(() => e.cert.isCA, false)).map((e) => e.cert);
  const out: ScanFinding[] = [];
  for (const e of inv.certificates.values()) {
    const role = e.role ? K8S_ROLES[e.role] : undefined;
    if (!role || role.ca || role.signer === 'self') continue;
    const all = anchorsByRole.get(role.signer);
    if (!all?.length) continue;
    for (let li = 0; li < e.locations.length; li++) {
      const l = e.locations[li] as Location;
      const same = l.node !== undefined ? all.filter((a) => a.l.node === l.node) : [];
      const anchors = same.length ? same : all;
      const index = new TrustIndex(
        anchors.map((a) => a.e.cert),
        cas,
      );
      let ok = false;
      try {
        const r = verifyChain({ leaf: e.cert, index, at: now, sigCache: sig });
        const best = r.candidates[0];
        ok = r.trusted || (best?.complete === true && best.failures.every((f) => TIME_CODES.has(f.code)));
      } catch (err) {
        if (!(err instanceof DerError)) throw err;
      }
      if (ok) continue;
      const a = anchors[0] as { e: CertEntry; l: Location };
      out.push(
        scanFinding(
          'scan.chain.wrong-ca',
          [showLocation(l), ...anchors.map((x) => showLocation(x.l))],
          `${role.name} certificate is not signed by the ${role.signer} CA ${safeSubject(a.e.cert)} at ${showLocation(a.l)} (its issuer: ${safe(() => e.cert.issuer, '?')}${e.issuers.length ? `, key of certificate ${e.issuers[0]?.slice(0, 12)}` : ''})`,
          e.cert,
        ),
      );
      break;
    }
  }
  return out;
}

const sha256Hex = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');

function hostTarget(name: string): ReturnType<typeof parseHost> | undefined {
  try {
    return parseHost(name);
  } catch (e) {
    if (e instanceof InputError) return undefined;
    throw e;
  }
}

/** Probed endpoints: the name on the served certificate, the CA their clients trust, the client certificate. */
function endpointFindings(inv: Inventory, endpoints: readonly EndpointInput[], relations: ScanRelation[]): ScanFinding[] {
  const out: ScanFinding[] = [];
  for (const e of endpoints) {
    const p = e.probe;
    const where = `tls://${p.endpoint}`;
    if (!p.reached || !p.chain[0]) continue;
    const leaf = inv.certificates.get(sha256Hex(p.chain[0]));
    const host = hostTarget(p.name);
    const nameOk = !leaf || !host || safe(() => matchesHost(leaf.cert, host), false);
    if (leaf && !nameOk)
      out.push(
        scanFinding(
          'scan.endpoint.name-mismatch',
          [where, ...(e.caSource ? [e.caSource] : [])],
          `${p.endpoint} serves ${safeSubject(leaf.cert)}, which does not name ${p.name} (it names ${safe(() => describeNames(leaf.cert), '?')})`,
          leaf.cert,
        ),
      );
    const chainFails = p.verified === false && p.verifyError !== 'ERR_TLS_CERT_ALTNAME_INVALID';
    // A webhook/APIService url backend is judged as such (scan.cabundle.backend-untrusted).
    const isBackend = e.for !== 'endpoint' && e.for !== 'apiserver';
    if (chainFails && !isBackend)
      out.push(
        scanFinding(
          'scan.endpoint.untrusted',
          [where, ...(e.caSource ? [e.caSource] : [])],
          `the handshake with ${p.endpoint} fails against the CA of ${e.caSource ?? 'the client'}: ${p.verifyError}`,
          leaf?.cert,
        ),
      );
    if (p.clientCert && !p.clientCert.accepted)
      out.push(
        scanFinding(
          'scan.endpoint.client-cert-rejected',
          [where, ...(e.caSource ? [e.caSource] : [])],
          `${p.endpoint} refused the client certificate${e.caSource ? ` of ${e.caSource}` : ''}: ${p.clientCert.reason ?? 'TLS alert'}`,
        ),
      );
    if (p.verified !== undefined && !isBackend)
      relations.push({
        consumer: e.caSource ?? 'anchorage',
        server: p.endpoint,
        anchors: [],
        basis: 'handshake',
        verdict: p.verified && nameOk ? 'ok' : 'fails',
        why: p.verified ? `the chain verifies and names ${p.name}` : `OpenSSL: ${p.verifyError}`,
      });
  }
  return out;
}

/** Each caBundle must verify its backend: a `url` backend by the real handshake, a Service by its serving certificate in the scan. */
function backendFindings(
  inv: Inventory,
  backends: readonly Backend[],
  endpoints: readonly EndpointInput[],
  now: Date,
  relations: ScanRelation[],
  sig: SignatureCache,
): ScanFinding[] {
  const out: ScanFinding[] = [];
  if (!backends.length) return out;
  const atSource = new Map<string, CertEntry[]>();
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) pushTo(atSource, (e.locations[li] as Location).source, e);
  const cas = [...inv.certificates.values()].filter((e) => safe(() => e.cert.isCA, false)).map((e) => e.cert);
  for (const b of backends) {
    const bundle = atSource.get(b.source) ?? [];
    if (!bundle.length) continue; // the caBundle did not parse: a skipped entry says why
    const anchors = bundle.map((e) => e.sha256);
    const unchecked = (server: string, why: string): void => {
      relations.push({ consumer: b.source, server, anchors, basis: 'predicted', verdict: 'unchecked', why });
      out.push(scanFinding('scan.cabundle.backend-unchecked', [b.source], `could not check ${server}: ${why}`));
    };
    if (b.url !== undefined) {
      const e = endpoints.find((x) => x.for === b.source);
      const p = e?.probe;
      if (!p?.reached) {
        unchecked(b.url, p?.error ?? 'not probed');
        continue;
      }
      const ok = p.verified === true;
      relations.push({
        consumer: b.source,
        server: b.url,
        anchors,
        basis: 'handshake',
        verdict: ok ? 'ok' : 'fails',
        why: ok ? 'the handshake verified with the caBundle as the only root' : `OpenSSL: ${p.verifyError}`,
      });
      if (!ok) {
        const leaf = p.chain[0] ? inv.certificates.get(sha256Hex(p.chain[0])) : undefined;
        out.push(
          scanFinding(
            'scan.cabundle.backend-untrusted',
            [b.source, `tls://${p.endpoint}`],
            `the caBundle (${bundle.map((x) => safeSubject(x.cert)).join(', ')}) does not verify ${b.url}${leaf ? `, which serves ${safeSubject(leaf.cert)} issued by ${safe(() => leaf.cert.issuer, '?')}` : ''}: ${p.verifyError}`,
            leaf?.cert,
          ),
        );
      }
      continue;
    }
    if (!b.service) continue;
    const host = `${b.service.name}.${b.service.namespace}.svc`;
    const server = `service ${b.service.namespace}/${b.service.name} (${host})`;
    const target = parseHost(host);
    // The Service's endpoints were reached: what they serve is what the API server meets.
    const reached = endpoints.filter((x) => x.for === b.source && x.probe.reached);
    if (reached.length) {
      for (const e of reached) {
        const p = e.probe;
        const leaf = p.chain[0] ? inv.certificates.get(sha256Hex(p.chain[0])) : undefined;
        const nameOk = leaf !== undefined && safe(() => matchesHost(leaf.cert, target), false);
        const ok = p.verified === true && nameOk;
        const why = ok
          ? `the handshake with ${p.endpoint} verified with the caBundle as the only root, for ${host}`
          : p.verified !== true
            ? `OpenSSL: ${p.verifyError}`
            : `${p.endpoint} serves ${leaf ? safeSubject(leaf.cert) : 'a certificate'}, which does not name ${host}`;
        relations.push({
          consumer: b.source,
          server: `${server} at ${p.endpoint}`,
          anchors,
          basis: 'handshake',
          verdict: ok ? 'ok' : 'fails',
          why,
        });
        if (!ok)
          out.push(
            scanFinding(
              'scan.cabundle.backend-untrusted',
              [b.source, `tls://${p.endpoint}`],
              `the caBundle (${bundle.map((x) => safeSubject(x.cert)).join(', ')}) does not verify ${server} at ${p.endpoint}${leaf ? `, which serves ${safeSubject(leaf.cert)} issued by ${safe(() => leaf.cert.issuer, '?')}` : ''}: ${why}`,
              leaf?.cert,
            ),
          );
      }
      continue;
    }
    const serving = [...inv.certificates.values()].filter(
      (e) => !safe(() => e.cert.isCA, true) && safe(() => matchesHost(e.cert, target), false),
    );
    if (!serving.length) {
      unchecked(
        server,
        `no serving certificate for ${host} in the scan${b.unresolved ? `, and ${b.unresolved}` : b.endpoints?.length ? ', and none of its endpoints answered' : ''}`,
      );
      continue;
    }
    const index = new TrustIndex(
      bundle.map((e) => e.cert),
      cas,
    );
    let why = '';
    const ok = serving.some((s) => {
      try {
        const r = verifyChain({ leaf: s.cert, index, at: now, purpose: 'server', host, sigCache: sig });
        const best = r.candidates[0];
        if (r.trusted || (best?.complete === true && best.failures.every((f) => TIME_CODES.has(f.code)))) return true;
        why ||= `${r.code}: ${(best?.failures ?? []).map((f) => f.message).join('; ') || r.reasons.join('; ')}`;
      } catch (err) {
        if (!(err instanceof DerError)) throw err;
      }
      return false;
    });
    const s = serving[0] as CertEntry;
    relations.push({
      consumer: b.source,
      server,
      anchors,
      basis: 'predicted',
      verdict: ok ? 'ok' : 'fails',
      why: ok ? `the caBundle verifies the serving certificate for ${host}` : why,
    });
    if (!ok)
      out.push(
        scanFinding(
          'scan.cabundle.backend-untrusted',
          [b.source, ...serving.flatMap((x) => x.locations.map(showLocation))],
          `the caBundle (${bundle.map((x) => safeSubject(x.cert)).join(', ')}) does not verify the serving certificate for ${host} (${safeSubject(s.cert)}, issued by ${safe(() => s.cert.issuer, '?')}): ${why}`,
          s.cert,
        ),
      );
  }
  return out;
}

/** Trust bundles: webhook/APIService/CRD caBundles, bundle-like ConfigMap keys, ClusterTrustBundles, kubeconfig CAs, cert-manager issuer caBundles. */
function isBundle(l: Location): boolean {
  if (l.at?.startsWith('clusters[')) return true;
  if (l.source.endsWith('caBundle]') || l.source.startsWith('ClusterTrustBundle/')) return true;
  // A string search first: most places (every Secret key) are not in a ConfigMap.
  const cm = l.source.includes('/ConfigMap/') ? /\/ConfigMap\/[^/[]+\[([^\]]+)\]$/.exec(l.source) : null;
  return cm !== null && /ca|bundle|trust|root/i.test(cm[1] as string);
}

function bundleFindings(inv: Inventory, now: Date, linted: Set<string>): ScanFinding[] {
  const out: ScanFinding[] = [];
  for (const e of inv.certificates.values()) {
    const places = e.locations.filter(isBundle).map(showLocation);
    if (!places.length) continue;
    const nonCa = e.locations
      .filter((l) => isBundle(l) && !l.at?.startsWith('clusters['))
      .map(showLocation)
      .filter((l) => !linted.has(`${e.sha256}\u0000${l}`));
    if (nonCa.length && !safe(() => e.cert.isCA, false))
      out.push(
        scanFinding(
          'scan.bundle.non-ca',
          nonCa,
          `${safeSubject(e.cert)} is in a trust bundle but is not a CA (no basicConstraints CA:TRUE)`,
          e.cert,
        ),
      );
    if (e.cert.notAfter.getTime() < now.getTime())
      out.push(
        scanFinding(
          'scan.bundle.expired',
          places,
          `${safeSubject(e.cert)} in a trust bundle expired ${e.cert.notAfter.toISOString()}`,
          e.cert,
        ),
      );
  }
  return out;
}

/** A cert-manager Certificate's Secret must carry every DNS name the Certificate asks for. */
function certManagerFindings(inv: Inventory, list: readonly CertManagerCertificate[]): ScanFinding[] {
  const out: ScanFinding[] = [];
  if (!list.length) return out;
  const bySource = new Map<string, CertEntry>();
  for (const e of inv.certificates.values())
    for (let li = 0; li < e.locations.length; li++) {
      const source = (e.locations[li] as Location).source;
      if (!safe(() => e.cert.isCA, true) && !bySource.has(source)) bySource.set(source, e);
    }
  for (const c of list) {
    const where = `${c.secret}[tls.crt]`;
    const leaf = bySource.get(where);
    if (!leaf) continue;
    const missing = c.dnsNames.filter((d) => {
      const h = hostTarget(d);
      return h !== undefined && !safe(() => matchesHost(leaf.cert, h), false);
    });
    if (missing.length)
      out.push(
        scanFinding(
          'scan.cert-manager.secret-stale',
          [c.source, where],
          `${c.source} asks for ${missing.join(', ')}, which ${where} (${safeSubject(leaf.cert)}) does not carry`,
          leaf.cert,
        ),
      );
  }
  return out;
}

/** Append to the list kept under `k` (a new list for a new key): linear, where a spread per insert is quadratic. */
function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
