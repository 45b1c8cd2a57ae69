// The inventory: every certificate once (by SHA-256) with every place it was seen, every private key once
// (by the SHA-256 of its public key) with its places, the links between them, each certificate's inferred
// Kubernetes role, and the issuer graph (edges proved by a signature). Pure: callers read the sources.
import { createPublicKey } from 'node:crypto';
import { detectRole } from '../k8s/role-detect.ts';
import type { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import { spkiDer, spkiSha256 } from '../x509/keys.ts';
import type { ReadResult } from './read.ts';

/** Where an object was seen. */
export interface Location {
  /** A file path, or `namespace/kind/name[key]` for a Kubernetes object. */
  source: string;
  /** Position inside the source when it holds several objects: "block 2 (line 31)", "users[admin].client-certificate-data". */
  at?: string;
  /** The node whose tree the file belongs to (a `pki init` DIR/nodes/<node>/... tree). */
  node?: string;
  /** The file's path on that node (`/etc/kubernetes/pki/ca.crt`), used for role detection. */
  nodePath?: string;
}

export interface CertEntry {
  sha256: string;
  cert: Certificate;
  locations: Location[];
  /** Kubernetes role name from the role table (src/k8s/roles.ts), when one fits. */
  role?: string;
  /** SHA-256 of the certificates proved to have signed this one (by signature), in the inventory. */
  issuers: string[];
}

export interface KeyEntry {
  /** SHA-256 of the SubjectPublicKeyInfo DER of the key's public half. */
  spkiSha256: string;
  locations: Location[];
  /** Certificates in the inventory that carry this key's public half. */
  certificates: string[];
}

export interface Inventory {
  certificates: Map<string, CertEntry>;
  keys: Map<string, KeyEntry>;
  /** Certificates by the SHA-256 of their public key. */
  bySpki: Map<string, CertEntry[]>;
  /** Key objects as found, with where (for pairing checks). */
  keySightings: { spkiSha256: string; location: Location }[];
}

/** A private key whose public half the caller already knows (src/scan reads it from the key's DER). */
export interface KnownKey {
  kind: 'private-key';
  spkiSha256: string;
  location: string;
}

/** One parsed source: a file path or a Kubernetes object key, and what the reader found in it. */
export interface InventorySource {
  location: Omit<Location, 'at'>;
  result: { format: ReadResult['format']; objects: readonly (ReadResult['objects'][number] | KnownKey)[] };
}

/** Checks a certificate's signature with a candidate issuer's key (default: node:crypto, uncached). */
export type IssuerCheck = (cert: Certificate, issuer: Certificate) => boolean;

/** Kinds of place a role lookup was made for (InventoryBuilder.roleTried); shifted by 2 at CA data. */
const ROLE_TRIED_SINGLE = 1;
const ROLE_TRIED_MULTIPLE = 2;

const display = (l: Location): string => (l.at ? `${l.source} [${l.at}]` : l.source);
export const showLocation = display;

/** Build the inventory one parsed source at a time, so that each source's parse can be dropped at once (a
 * certificate seen again keeps only its new place). */
export class InventoryBuilder {
  private readonly certificates = new Map<string, CertEntry>();
  private readonly keys = new Map<string, KeyEntry>();
  private readonly keySightings: Inventory['keySightings'] = [];
  /**
   * Role lookups already made for a certificate at a Kubernetes object key: one per (certificate, kind of
   * place), the kinds as bits (ROLE_TRIED_*).
   */
  private readonly roleTried = new Map<CertEntry, number>();

  add(s: InventorySource): void {
    const { certificates, keys, keySightings } = this;
    const objects = s.result.objects;
    let certCount = 0;
    for (const o of objects) if (o.kind === 'certificate') certCount++;
    const positional = certCount > 1 || objects.length > 1 || s.result.format === 'kubeconfig';
    /** Whether the source is an object key: asked once per source, when a role is to be looked up. */
    let objectKey: boolean | undefined;
    for (const o of objects) {
      // A place as one literal with every field when it is only a source: `at` added to a copy goes into a
      // property array of its own beside the object (40 bytes more a place; a serve keeps 2 places a Secret).
      const base = s.location;
      const location: Location = !positional
        ? { ...base }
        : base.node === undefined && base.nodePath === undefined
          ? { source: base.source, at: o.location }
          : { ...base, at: o.location };
      if (o.kind === 'certificate') {
        let e = certificates.get(o.cert.sha256);
        if (!e) {
          e = { sha256: o.cert.sha256, cert: o.cert, locations: [], issuers: [] };
          certificates.set(e.sha256, e);
        }
        e.locations.push(location);
        if (e.role === undefined) {
          // No file pattern matches an object key (`ns/Secret/name[key]`): there the role comes from the
          // certificate alone, the same at every such place, so it is looked up once.
          objectKey ??= isObjectKey(location.source);
          const bit = objectKey
            ? (certCount > 1 ? ROLE_TRIED_MULTIPLE : ROLE_TRIED_SINGLE) << (location.at?.includes('certificate-authority') === true ? 2 : 0)
            : 0;
          const tried = bit ? (this.roleTried.get(e) ?? 0) : 0;
          if (!(tried & bit)) {
            if (bit) this.roleTried.set(e, tried | bit);
            const role = roleOf(o.cert, location, certCount > 1);
            if (role) e.role = role;
          }
        }
      } else if (o.kind === 'private-key') {
        let fp: string;
        if ('spkiSha256' in o) fp = o.spkiSha256;
        else
          try {
            fp = spkiSha256(spkiDer(createPublicKey(o.key)));
          } catch {
            continue; // a key Node cannot derive a public half from is not linkable
          }
        let k = keys.get(fp);
        if (!k) {
          k = { spkiSha256: fp, locations: [], certificates: [] };
          keys.set(fp, k);
        }
        k.locations.push(location);
        keySightings.push({ spkiSha256: fp, location });
      }
    }
  }

  finish(check?: IssuerCheck): Inventory {
    const { certificates, keys, keySightings } = this;
    const bySpki = new Map<string, CertEntry[]>();
    for (const e of certificates.values()) {
      let fp: string;
      try {
        fp = e.cert.spkiSha256;
      } catch (err) {
        if (err instanceof DerError) continue;
        throw err;
      }
      const l = bySpki.get(fp);
      if (l) l.push(e);
      else bySpki.set(fp, [e]);
      keys.get(fp)?.certificates.push(e.sha256);
    }
    linkIssuers(certificates, check);
    return { certificates, keys, bySpki, keySightings };
  }
}

/** Build the inventory from parsed sources. */
export function buildInventory(sources: readonly InventorySource[]): Inventory {
  const b = new InventoryBuilder();
  for (const s of sources) b.add(s);
  return b.finish();
}

function roleOf(cert: Certificate, l: Location, multiple: boolean): string | undefined {
  try {
    const path = l.nodePath ?? l.source;
    return detectRole(cert, { path, ...(l.at !== undefined && { location: l.at }), multiple })?.name;
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** Issuer edges: a certificate whose subject is this one's issuer name and whose key verifies its signature. */
function linkIssuers(certificates: Map<string, CertEntry>, check: IssuerCheck = (c, i) => c.verifiedBy(i.publicKey)): void {
  const bySubject = new Map<string, CertEntry[]>();
  for (const e of certificates.values()) {
    try {
      const k = hex(e.cert.subjectRaw);
      const l = bySubject.get(k);
      if (l) l.push(e);
      else bySubject.set(k, [e]);
    } catch (err) {
      if (!(err instanceof DerError)) throw err;
    }
  }
  for (const e of certificates.values()) {
    let cands: CertEntry[];
    try {
      cands = bySubject.get(hex(e.cert.issuerRaw)) ?? [];
    } catch (err) {
      if (err instanceof DerError) continue;
      throw err;
    }
    for (const c of cands) {
      if (c === e) continue; // a root's own signature is `selfSigned`, not an edge
      let ok = false;
      try {
        ok = check(e.cert, c.cert);
      } catch {
        ok = false;
      }
      if (ok) e.issuers.push(c.sha256);
    }
  }
}

/** A Kubernetes object key (`namespace/Kind/name[key]`, `Kind/name[key]`) rather than a file path. */
export const isObjectKey = (source: string): boolean => /^(?:[^/[\]]*\/)?[A-Z][A-Za-z]*\/[^/[\]]+\[[^\]]+\]$/.test(source);

/** The node a path belongs to in a `pki init` tree: `.../nodes/<node>/<absolute path on the node>`. */
export function nodeOfPath(path: string): { node: string; nodePath: string; root: string } | undefined {
  // Most paths (and every Kubernetes object key) have no `nodes/` at all: a string search, not the pattern.
  if (!path.includes('nodes/') && !path.includes('nodes\\')) return undefined;
  const p = path.replaceAll('\\', '/');
  const m = /^(.*?)(?:^|\/)nodes\/([^/]+)(\/(?:etc|var|opt|srv|home|root|usr)\/.+)$/.exec(p);
  if (!m) return undefined;
  return { root: m[1] ?? '', node: m[2] as string, nodePath: m[3] as string };
}
