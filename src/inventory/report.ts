// The documented `inspect` report (docs/inspect-schema.md): plain JSON built from read results.
import type { CertificateJson } from '../x509/certificate.ts';
import { parse } from '../x509/der.ts';
import { describeSpki, type PublicKeyInfo, spkiDer, spkiSha256 } from '../x509/keys.ts';
import type { Pkcs12Protection } from '../x509/pkcs12.ts';
import type { Found, ReadResult } from './read.ts';

const { createPublicKey } = process.getBuiltinModule('node:crypto');

export const INSPECT_SCHEMA_VERSION = 'anchorage.inspect/v1';

export interface KeyJson {
  kind: 'private-key' | 'public-key';
  location: string;
  encoding?: string;
  publicKey: PublicKeyInfo & { spkiSha256: string };
  /** Certificates (anywhere in this report) whose public key is this key's. */
  matchesCertificates: CertMatch[];
}

export type ObjectJson =
  | (CertificateJson & { location: string })
  | KeyJson
  | ({ kind: 'csr'; location: string } & Record<string, unknown>)
  | ({ kind: 'crl'; location: string } & Record<string, unknown>);

export interface SourceJson {
  source: string;
  format?: string;
  /** PKCS#12: the MAC and each encrypted part's cipher, KDF and iterations. */
  protection?: Pkcs12Protection;
  objects: ObjectJson[];
  warnings: string[];
  error?: string;
}

export interface InspectReport {
  schema: typeof INSPECT_SCHEMA_VERSION;
  generatedAt: string;
  sources: SourceJson[];
}

export function buildReport(results: { source: string; result?: ReadResult; error?: string }[], now: Date): InspectReport {
  const byKey = new Map<string, CertMatch[]>();
  for (const r of results) indexCertificates(r, byKey);
  const sources = results.map((r) => sourceJson(r, now, byKey));
  return { schema: INSPECT_SCHEMA_VERSION, generatedAt: now.toISOString(), sources };
}

/** A certificate a key belongs to, as KeyJson.matchesCertificates names it. */
export type CertMatch = { subject: string; sha256: string; source: string };

/**
 * Index one source's certificates by key (SPKI SHA-256) so each key names the certificates it belongs
 * to. With `only`, index just the certificates whose key is in it (a streaming reader first collects the
 * keys, so that its index stays as small as the keys it has to match).
 */
export function indexCertificates(
  r: { source: string; result?: ReadResult },
  byKey: Map<string, CertMatch[]>,
  only?: ReadonlySet<string>,
): void {
  for (const o of r.result?.objects ?? [])
    if (o.kind === 'certificate') {
      const k = o.cert.spkiSha256;
      if (only && !only.has(k)) continue;
      const list = byKey.get(k) ?? [];
      list.push({ subject: o.cert.subject, sha256: o.cert.sha256, source: `${r.source} ${o.location}` });
      byKey.set(k, list);
    }
}

/** The SPKI SHA-256 of every key (private or public) in one source. */
export function keyFingerprints(r: { result?: ReadResult }, into: Set<string>): void {
  for (const o of r.result?.objects ?? [])
    if (o.kind === 'private-key') into.add(spkiSha256(spkiDer(createPublicKey(o.key))));
    else if (o.kind === 'public-key') into.add(spkiSha256(o.spki));
}

/** One source of the report; `byKey` must index every certificate of the whole report (indexCertificates). */
export function sourceJson(
  r: { source: string; result?: ReadResult; error?: string },
  now: Date,
  byKey: ReadonlyMap<string, CertMatch[]>,
): SourceJson {
  if (!r.result) return { source: r.source, objects: [], warnings: [], error: r.error ?? 'unreadable' };
  return {
    source: r.source,
    format: r.result.format,
    ...(r.result.protection ? { protection: r.result.protection } : {}),
    objects: r.result.objects.map((o) => objectJson(o, now, byKey)),
    warnings: r.result.warnings,
  };
}

function objectJson(o: Found, now: Date, byKey: ReadonlyMap<string, CertMatch[]>): ObjectJson {
  switch (o.kind) {
    case 'certificate':
      return { ...o.cert.toJSON(now), location: o.location };
    case 'private-key':
    case 'public-key': {
      const spki = o.kind === 'private-key' ? spkiDer(createPublicKey(o.key)) : o.spki;
      const fp = spkiSha256(spki);
      const json: KeyJson = {
        kind: o.kind,
        location: o.location,
        publicKey: { ...describeSpki(parse(spki)), spkiSha256: fp },
        matchesCertificates: byKey.get(fp) ?? [],
      };
      if (o.kind === 'private-key') json.encoding = o.encoding;
      return json;
    }
    case 'csr':
      return { ...(o.csr.toJSON() as unknown as Record<string, unknown>), kind: 'csr', location: o.location };
    case 'crl':
      return { ...(o.crl.toJSON(now) as unknown as Record<string, unknown>), kind: 'crl', location: o.location };
  }
}
