// The CA set → target contents, deterministic: the same certificates and settings give the same bytes (PEM in
// canonical order; PKCS#12 and JKS from src/x509's reproducible writers), and a content hash over all of it.
import { createHash } from 'node:crypto';
import type { Certificate } from '../x509/certificate.ts';
import { writeJks } from '../x509/jks.ts';
import { contentAlias } from '../x509/keystore-entries.ts';
import { writePkcs12 } from '../x509/pkcs12.ts';
import type { DataItem } from './spec.ts';

export function pemOf(certs: readonly Certificate[]): string {
  return certs.map((c) => c.toPem()).join('');
}

/** One data key's bytes. */
export function renderItem(certs: readonly Certificate[], item: DataItem): { text?: string; binary?: Uint8Array } {
  if (item.format === 'PEM') return { text: pemOf(certs) };
  if (item.format === 'JKS')
    return {
      binary: writeJks({ trusted: certs.map((c) => ({ alias: contentAlias(c), der: c.der })), password: item.password ?? 'changeit' }),
    };
  const [first, ...rest] = certs as Certificate[];
  return {
    binary: writePkcs12({
      cert: (first as Certificate).der,
      chain: rest.map((c) => c.der),
      friendlyName: contentAlias(first as Certificate),
      chainNames: rest.map(contentAlias),
      password: item.password ?? '',
      profile: item.profile === 'Legacy' ? 'legacy' : 'modern',
    }),
  };
}

/** Wire form of a ConfigMap's or Secret's data: text keys in `data` (ConfigMap) and base64 otherwise. */
export interface RenderedObject {
  data: Record<string, string>;
  binaryData: Record<string, string>;
}

export function renderObject(certs: readonly Certificate[], items: readonly DataItem[], kind: 'ConfigMap' | 'Secret'): RenderedObject {
  const out: RenderedObject = { data: {}, binaryData: {} };
  for (const item of items) {
    const r = renderItem(certs, item);
    const bytes = r.text !== undefined ? Buffer.from(r.text, 'utf8') : Buffer.from(r.binary as Uint8Array);
    if (kind === 'Secret') out.data[item.key] = bytes.toString('base64');
    else if (r.text !== undefined) out.data[item.key] = r.text;
    else out.binaryData[item.key] = bytes.toString('base64');
  }
  return out;
}

/** A digest of what a target holds in wire form (data, binaryData, ownership label, hash annotation). */
export function wireDigest(o: {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  owner?: string;
  hash?: string;
}): string {
  const sorted = (r?: Record<string, string>): [string, string][] => Object.entries(r ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256')
    .update(JSON.stringify([sorted(o.data), sorted(o.binaryData), o.owner ?? '', o.hash ?? '']))
    .digest('hex');
}

export function contentHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
