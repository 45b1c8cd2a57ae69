// The trust index: anchors and intermediates keyed by subject name bytes and by key identifier, so a
// large inventory of leaves finds candidate issuers with a map lookup each. Build it once, reuse it.
import type { KeyObject } from 'node:crypto';
import { keyIdentifier } from '../x509/build.ts';
import type { Certificate } from '../x509/certificate.ts';
import { hexOf } from '../x509/der.ts';
import { spkiDer, spkiSha256 } from '../x509/keys.ts';
import { parseDn, rdnsToString } from '../x509/name.ts';

/** A trust anchor given as a bare public key, optionally with the issuer name it signs as. */
export interface KeyAnchor {
  publicKey: KeyObject;
  name?: string;
}
export type AnchorInput = Certificate | KeyAnchor;

export interface Anchor {
  cert?: Certificate;
  publicKey: KeyObject;
  spkiSha256: string;
  /** The certificate's SKI, or the RFC 5280 method-1 key id computed from a bare key. */
  keyId: string;
  /** What to call it in messages: the subject, the given name, or the key hash. */
  label: string;
  /** Normalised RFC 4514 name a bare-key anchor signs as; undefined matches any issuer name. */
  name?: string;
}

// Without copying the bytes into a Buffer first (a name is hexed for every index lookup).
const hex = hexOf;

export function isCertificateAnchor(a: AnchorInput): a is Certificate {
  return 'der' in a;
}

export function toAnchor(a: AnchorInput): Anchor {
  if (isCertificateAnchor(a))
    return {
      cert: a,
      publicKey: a.publicKey,
      spkiSha256: a.spkiSha256,
      keyId: a.subjectKeyId ?? hex(keyIdentifier(a.spki)),
      label: a.subject,
    };
  const spki = spkiDer(a.publicKey);
  const sha = spkiSha256(spki);
  const name = a.name === undefined ? undefined : normaliseName(a.name);
  const out: Anchor = {
    publicKey: a.publicKey,
    spkiSha256: sha,
    keyId: hex(keyIdentifier(spki)),
    label: a.name ?? `public key sha256:${sha}`,
  };
  if (name !== undefined) out.name = name;
  return out;
}

/** Compare names as RFC 4514 strings, case-insensitively: bare-key anchors have no encoded name. */
export function normaliseName(dn: string): string {
  try {
    return rdnsToString(parseDn(dn)).toLowerCase();
  } catch {
    return dn.trim().toLowerCase();
  }
}

/** Same entity: same subject and same key. Cross-signed copies of one CA share this identity. */
export function identityOf(c: Certificate): string {
  return `${hex(c.subjectRaw)}/${c.spkiSha256}`;
}

export class TrustIndex {
  readonly anchors: Anchor[];
  readonly intermediates: Certificate[];
  private readonly anchorsBySubject = new Map<string, Anchor[]>();
  private readonly keyAnchors: Anchor[] = [];
  private readonly anchorCerts = new Set<string>();
  private readonly bySubject = new Map<string, Certificate[]>();
  private readonly bySki = new Map<string, Certificate[]>();

  constructor(anchors: readonly AnchorInput[], intermediates: readonly Certificate[] = []) {
    this.anchors = [];
    for (const input of anchors) {
      const a = toAnchor(input);
      if (a.cert) {
        if (this.anchorCerts.has(a.cert.sha256)) continue;
        this.anchorCerts.add(a.cert.sha256);
        push(this.anchorsBySubject, hex(a.cert.subjectRaw), a);
      } else this.keyAnchors.push(a);
      this.anchors.push(a);
    }
    // An intermediate that is also an anchor is only ever used as the anchor.
    const seen = new Set<string>();
    this.intermediates = [];
    for (const c of intermediates) {
      if (this.anchorCerts.has(c.sha256) || seen.has(c.sha256)) continue;
      seen.add(c.sha256);
      this.intermediates.push(c);
      push(this.bySubject, hex(c.subjectRaw), c);
      const ski = c.subjectKeyId;
      if (ski) push(this.bySki, ski, c);
    }
  }

  isAnchorCert(c: Certificate): boolean {
    return this.anchorCerts.has(c.sha256);
  }

  /** Anchors that could have issued `c`: by subject name, plus bare keys whose name (if any) matches. */
  anchorsFor(c: Certificate): Anchor[] {
    const byName = this.anchorsBySubject.get(hex(c.issuerRaw)) ?? [];
    if (this.keyAnchors.length === 0) return byName;
    const issuer = c.issuer.toLowerCase();
    const keys = this.keyAnchors.filter((a) => a.name === undefined || a.name === issuer);
    return [...byName, ...keys];
  }

  /** Intermediates whose subject is `c`'s issuer name. */
  issuersFor(c: Certificate): Certificate[] {
    return this.bySubject.get(hex(c.issuerRaw)) ?? [];
  }

  /** Intermediates with this SKI but another name: only used to explain a failed lookup. */
  byKeyId(ski: string): Certificate[] {
    return this.bySki.get(ski) ?? [];
  }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
