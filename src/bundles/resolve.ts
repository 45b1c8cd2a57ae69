// Sources → the bundle's CA set. Strict: only CERTIFICATE PEM blocks (RFC 1421 headers refused); a private key
// anywhere in a selected value refuses the whole source (it is never copied); de-duplicated by SHA-256 and
// sorted, so the same sources always give the same bundle. Filters drop expired or non-CA certificates; an
// empty result is an error (a target is never replaced by an empty bundle).
import { createHash } from 'node:crypto';
import { Certificate } from '../x509/certificate.ts';
import { scanPem } from '../x509/pem.ts';
import { type BundleRef, bundleId, globMatcher, type LabelSelector, type ObjectSource, tenantViolation } from './spec.ts';

/** Why a bundle could not be built: the reason goes into the status condition and the event. */
export class SourceError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface SourceObject {
  namespace: string;
  name: string;
  type?: string;
  /** Values as text (ConfigMap data, decoded Secret data, ConfigMap binaryData decoded as latin1). */
  values: Record<string, string>;
}

/** Where sources come from: the API (controller) or manifests (offline build). */
export interface SourceReader {
  object(kind: 'ConfigMap' | 'Secret', namespace: string, name: string): Promise<SourceObject | undefined>;
  objects(kind: 'ConfigMap' | 'Secret', namespace: string, selector: LabelSelector): Promise<SourceObject[]>;
  /** Another bundle of the same kind (same namespace for a Bundle). */
  bundle(kind: BundleRef['kind'], namespace: string | undefined, name: string): Promise<BundleRef | undefined>;
  defaultCAs(): { pem: string; version: string } | undefined;
  /** The body of an HTTPS URL (the caller checks the pin); undefined when HTTPS sources are off. */
  https?(url: string): Promise<Uint8Array>;
}

export interface ResolveOptions {
  trustNamespace: string;
  now?: Date;
}

export interface Resolved {
  certs: Certificate[];
  defaultCAsVersion?: string;
}

/** Most bytes one HTTPS source may return; most certificates in one bundle. */
export const MAX_HTTPS_BYTES = 4 << 20;
export const MAX_BUNDLE_CERTS = 10_000;

/** Parse PEM text strictly into certificates; `where` names the source in errors. */
export function parseStrictPem(text: string, where: string): Certificate[] {
  if (text.length > 8 << 20) throw new SourceError('SourceTooLarge', `${where}: too large (over 8 MiB)`);
  let blocks: ReturnType<typeof scanPem>;
  try {
    blocks = scanPem(text);
  } catch (e) {
    throw new SourceError('InvalidPEM', `${where}: ${(e as Error).message}`);
  }
  if (blocks.length === 0) throw new SourceError('InvalidPEM', `${where}: no PEM certificate found`);
  const out: Certificate[] = [];
  for (const b of blocks) {
    if (/PRIVATE KEY/.test(b.label))
      throw new SourceError(
        'PrivateKeyInSource',
        `${where}: holds a private key (${b.label}, line ${b.line}); private keys are never copied into a bundle`,
      );
    if (b.label !== 'CERTIFICATE')
      throw new SourceError('InvalidPEM', `${where}: PEM block '${b.label}' on line ${b.line} is not a CERTIFICATE`);
    if (Object.keys(b.headers).length) throw new SourceError('InvalidPEM', `${where}: PEM headers in the block on line ${b.line}`);
    try {
      out.push(new Certificate(b.der));
    } catch (e) {
      throw new SourceError('InvalidPEM', `${where}: the certificate on line ${b.line} does not parse: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Sorted by subject then SHA-256, each certificate once. */
export function canonical(certs: Iterable<Certificate>): Certificate[] {
  const m = new Map<string, Certificate>();
  for (const c of certs) m.set(c.sha256, c);
  return [...m.values()].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.sha256 < b.sha256 ? -1 : 1));
}

async function objectSource(
  b: BundleRef,
  kind: 'ConfigMap' | 'Secret',
  s: ObjectSource,
  reader: SourceReader,
  o: ResolveOptions,
): Promise<Certificate[]> {
  const ns = b.kind === 'Bundle' ? (b.namespace as string) : (s.namespace ?? o.trustNamespace);
  const objs = s.name !== undefined ? [await reader.object(kind, ns, s.name)] : await reader.objects(kind, ns, s.selector ?? {});
  const match = globMatcher(s.keys);
  const certs: Certificate[] = [];
  if (s.name !== undefined && !objs[0]) throw new SourceError('SourceNotFound', `${kind} ${ns}/${s.name} not found`);
  let matched = 0;
  for (const obj of objs) {
    if (!obj) continue;
    for (const key of Object.keys(obj.values).sort()) {
      if (!match(key)) continue;
      matched++;
      certs.push(...parseStrictPem(obj.values[key] as string, `${kind} ${obj.namespace}/${obj.name}[${key}]`));
    }
  }
  if (s.name !== undefined && matched === 0)
    throw new SourceError('SourceNotFound', `${kind} ${ns}/${s.name} has no key matching ${s.keys.join(', ')}`);
  return certs;
}

/** Resolve every source of `b`, following bundle sources (a cycle is an error). */
export async function resolveBundle(b: BundleRef, reader: SourceReader, o: ResolveOptions, stack: string[] = []): Promise<Resolved> {
  const id = bundleId(b);
  if (stack.includes(id)) throw new SourceError('SourceCycle', `bundle sources form a cycle: ${[...stack, id].join(' → ')}`);
  const bad = tenantViolation(b);
  if (bad) throw new SourceError('CrossNamespaceRefused', bad);
  const all: Certificate[] = [];
  let version: string | undefined;
  for (const s of b.spec.sources) {
    if (s.configMap) all.push(...(await objectSource(b, 'ConfigMap', s.configMap, reader, o)));
    else if (s.secret) all.push(...(await objectSource(b, 'Secret', s.secret, reader, o)));
    else if (s.inLine !== undefined) all.push(...parseStrictPem(s.inLine, 'inLine'));
    else if (s.defaultCAs) {
      const d = reader.defaultCAs();
      if (!d) throw new SourceError('DefaultCAsUnavailable', 'the controller has no default CA set (see --default-cas)');
      all.push(...parseStrictPem(d.pem, `default CAs ${d.version}`));
      version = d.version;
    } else if (s.bundle) {
      const other = await reader.bundle(b.kind, b.namespace, s.bundle.name);
      if (!other) throw new SourceError('SourceNotFound', `${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${s.bundle.name} not found`);
      const r = await resolveBundle(other, reader, o, [...stack, id]);
      all.push(...r.certs);
      version ??= r.defaultCAsVersion;
    } else if (s.https) {
      if (!reader.https)
        throw new SourceError('HTTPSSourcesDisabled', `https source ${s.https.url}: HTTPS sources are off (--allow-https-sources)`);
      let body: Uint8Array;
      try {
        body = await reader.https(s.https.url);
      } catch (e) {
        throw new SourceError('SourceNotFound', `https source ${s.https.url}: ${(e as Error).message}`);
      }
      const got = createHash('sha256').update(body).digest('hex');
      if (got !== s.https.sha256)
        throw new SourceError('PinMismatch', `https source ${s.https.url}: SHA-256 ${got} is not the pinned ${s.https.sha256}`);
      all.push(...parseStrictPem(Buffer.from(body).toString('utf8'), `https source ${s.https.url}`));
    }
    if (all.length > MAX_BUNDLE_CERTS) throw new SourceError('SourceTooLarge', `too large: more than ${MAX_BUNDLE_CERTS} certificates`);
  }
  const now = o.now ?? new Date();
  let certs = canonical(all);
  if (b.spec.filters.dropExpired) certs = certs.filter((c) => c.notAfter.getTime() > now.getTime());
  if (b.spec.filters.dropNonCA) certs = certs.filter((c) => c.isCA);
  if (certs.length === 0)
    throw new SourceError('EmptyBundle', 'the sources give no certificate (after filters): the previous targets are kept');
  return { certs, ...(version ? { defaultCAsVersion: version } : {}) };
}
