// PKCS#10 certification requests (RFC 2986): create, parse lazily, check proof of possession, sign into a certificate.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { type CertProfile, type IssuerRef, issueCertificate, type Validity } from './build.ts';
import { type Certificate, type ExtensionSummary, KNOWN_CERT_EXTENSIONS, toPem } from './certificate.ts';
import {
  bitString,
  compareBytes,
  DerError,
  decodeOid,
  decodeSmallInt,
  decodeString,
  integer,
  isPrintable,
  type Node,
  oid,
  printable,
  pushWarning,
  readNode,
  seq,
  setOf,
  TAG,
  tlv,
  utf8,
} from './der.ts';
import {
  type BasicConstraints,
  decodeBasicConstraints,
  decodeExtensionList,
  decodeExtensionValue,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeSans,
  type Extension,
  emptySans,
  encodeBasicConstraints,
  encodeExtension,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeSans,
  type SubjectAltNames,
} from './extensions.ts';
import { describeSpki, type PublicKeyInfo, privateKeySpki, publicKeyFromSpki, signerFor, spkiSha256 } from './keys.ts';
import { decodeName, encodeName, type NameAttribute, nameGet, parseDn, type Rdns, rdnsToString } from './name.ts';
import { ekuOid, extName, type KeyUsage, OID } from './oids.ts';
import { parseOrInputError, pemOrDer, SignedObject } from './signed.ts';

export interface CsrAttribute {
  oid: string;
  name: string;
  /** Each value's DER (the elements of the attribute's SET). */
  values: Uint8Array[];
}

const ATTR_NAME: Record<string, string> = { [OID.extensionRequest]: 'extensionRequest', [OID.challengePassword]: 'challengePassword' };

export class Csr extends SignedObject {
  /** 1 for the only defined version (encoded as 0). */
  readonly version: number;
  readonly warnings: string[] = [];

  private readonly subjectNode: Node;
  private readonly spkiNode: Node;
  private readonly attrsNode: Node | undefined;

  private _subject?: Rdns;
  private _attrs?: { oid: string; values: Node[] }[];
  private _exts?: Extension[];
  private _extError?: string;
  private _keyInfo?: PublicKeyInfo;
  private _publicKey?: KeyObject;
  private _spkiSha256?: string;
  private _sans?: SubjectAltNames;
  private _valid?: boolean;

  constructor(input: Uint8Array) {
    super(input, 'certificationRequest', 'certificationRequestInfo');
    const der = this.der;
    const info = this.bodyNode;

    const ver = readNode(der, info.valueStart, info.end).expect(TAG.INTEGER, 'version');
    this.version = decodeSmallInt(ver) + 1;
    this.subjectNode = readNode(der, ver.end, info.end).expect(TAG.SEQUENCE, 'subject');
    this.spkiNode = readNode(der, this.subjectNode.end, info.end).expect(TAG.SEQUENCE, 'subjectPKInfo');
    let pos = this.spkiNode.end;
    if (pos < info.end) {
      this.attrsNode = readNode(der, pos, info.end).expect(0xa0, 'attributes');
      pos = this.attrsNode.end;
    } else pushWarning(this.warnings, 'attributes field missing (RFC 2986 requires it, even when empty)');
    if (pos !== info.end) throw new DerError('trailing data in certificationRequestInfo', pos);
    if (this.version !== 1) pushWarning(this.warnings, `unknown CSR version ${this.version}`);
  }

  // ---------- subject and key ----------

  get subjectRdns(): Rdns {
    this._subject ??= decodeName(this.subjectNode);
    return this._subject;
  }
  get subject(): string {
    return rdnsToString(this.subjectRdns);
  }
  get commonName(): string | undefined {
    return nameGet(this.subjectRdns, OID.CN);
  }
  get subjectRaw(): Uint8Array {
    return this.subjectNode.raw;
  }
  /** The signed part (certificationRequestInfo DER). */
  get info(): Uint8Array {
    return this.bodyNode.raw;
  }
  get spki(): Uint8Array {
    return this.spkiNode.raw;
  }
  get spkiSha256(): string {
    this._spkiSha256 ??= spkiSha256(this.spki);
    return this._spkiSha256;
  }
  get keyInfo(): PublicKeyInfo {
    this._keyInfo ??= describeSpki(this.spkiNode);
    return this._keyInfo;
  }
  get publicKey(): KeyObject {
    this._publicKey ??= publicKeyFromSpki(this.spki);
    return this._publicKey;
  }

  /** Proof of possession: the request is signed by the private key of the public key it carries. */
  verifySignature(): boolean {
    if (this._valid === undefined) {
      let key: KeyObject | undefined;
      try {
        key = this.publicKey;
      } catch {
        key = undefined;
      }
      this._valid = key !== undefined && this.signedBy(key);
    }
    return this._valid;
  }

  // ---------- attributes ----------

  private get rawAttributes(): { oid: string; values: Node[] }[] {
    if (this._attrs) return this._attrs;
    const out: { oid: string; values: Node[] }[] = [];
    for (const a of this.attrsNode?.children() ?? []) {
      a.expect(TAG.SEQUENCE, 'attribute');
      const o = decodeOid(a.child(0).expect(TAG.OID, 'attribute type'));
      out.push({ oid: o, values: a.child(1).expect(TAG.SET, `attribute ${o} values`).children() });
    }
    this._attrs = out;
    return out;
  }

  get attributes(): CsrAttribute[] {
    return this.rawAttributes.map((a) => ({ oid: a.oid, name: ATTR_NAME[a.oid] ?? a.oid, values: a.values.map((v) => v.raw) }));
  }

  get challengePassword(): string | undefined {
    const v = this.rawAttributes.find((a) => a.oid === OID.challengePassword)?.values[0];
    return v ? decodeString(v) : undefined;
  }

  // ---------- requested extensions ----------

  /** Extensions from the extensionRequest attribute. A malformed request reads as none, with a warning. */
  get extensions(): Extension[] {
    if (this._exts) return this._exts;
    let exts: Extension[] = [];
    try {
      const reqs = this.rawAttributes.filter((a) => a.oid === OID.extensionRequest);
      if (reqs.length > 1) pushWarning(this.warnings, 'more than one extensionRequest attribute: using the first');
      const values = reqs[0]?.values ?? [];
      if (values.length > 1) pushWarning(this.warnings, 'extensionRequest has more than one value: using the first');
      if (values[0]) exts = decodeExtensionList(values[0], this.warnings);
    } catch (e) {
      this._extError = (e as Error).message;
      pushWarning(this.warnings, `malformed extensionRequest: ${this._extError}`);
      exts = [];
    }
    this._exts = exts;
    return exts;
  }

  /** Why the extension request could not be read, if it could not. */
  get extensionRequestError(): string | undefined {
    void this.extensions;
    return this._extError;
  }

  extensionSummaries(): ExtensionSummary[] {
    return this.extensions.map((e) => ({ oid: e.oid, name: extName(e.oid), critical: e.critical }));
  }
  hasExtension(o: string): boolean {
    return this.extensions.some((e) => e.oid === o);
  }
  get unknownCriticalExtensions(): string[] {
    return this.extensions.filter((e) => e.critical && !KNOWN_CERT_EXTENSIONS.has(e.oid)).map((e) => e.oid);
  }
  get sans(): SubjectAltNames {
    this._sans ??= decodeExtensionValue(this.extensions, OID.subjectAltName, decodeSans, this.warnings) ?? emptySans();
    return this._sans;
  }
  get keyUsage(): KeyUsage[] | undefined {
    return decodeExtensionValue(this.extensions, OID.keyUsage, decodeKeyUsage, this.warnings);
  }
  /** EKU names as ekuName gives them (serverAuth, clientAuth, ...) or dotted OIDs. */
  get extKeyUsage(): string[] | undefined {
    return decodeExtensionValue(this.extensions, OID.extKeyUsage, decodeExtKeyUsage, this.warnings);
  }
  get basicConstraints(): BasicConstraints | undefined {
    return decodeExtensionValue(this.extensions, OID.basicConstraints, decodeBasicConstraints, this.warnings);
  }

  toPem(): string {
    return toPem('CERTIFICATE REQUEST', this.der);
  }

  /** The documented JSON view (CsrJson). Touches every lazy field. */
  toJSON(): CsrJson {
    const bc = this.basicConstraints;
    const json: CsrJson = {
      kind: 'csr',
      version: this.version,
      subject: this.subject,
      subjectAttributes: this.subjectRdns.flat(),
      publicKey: { ...this.keyInfo, spkiSha256: this.spkiSha256 },
      signatureAlgorithm: this.signatureAlgorithm,
      signatureValid: this.verifySignature(),
      fingerprints: { sha256: this.sha256 },
      subjectAltNames: this.sans,
      keyUsage: this.keyUsage ?? [],
      extendedKeyUsage: this.extKeyUsage ?? [],
      basicConstraints: bc ? { ca: bc.ca, pathLen: bc.pathLen ?? null } : null,
      extensions: this.extensionSummaries(),
      unknownCriticalExtensions: this.unknownCriticalExtensions,
      attributes: this.rawAttributes.map((a) => ATTR_NAME[a.oid] ?? a.oid),
      challengePassword: this.rawAttributes.some((a) => a.oid === OID.challengePassword),
      warnings: [],
    };
    json.warnings = this.warningsWithEncoding(this.warnings);
    return json;
  }
}

/**
 * Stable JSON shape of a CSR (kind 'csr'). Field meanings follow CertificateJson where names agree;
 * times and validity are absent because a request has none.
 */
export interface CsrJson {
  kind: 'csr';
  /** 1 for PKCS#10 v1. */
  version: number;
  /** RFC 4514, most specific RDN first. */
  subject: string;
  subjectAttributes: NameAttribute[];
  publicKey: PublicKeyInfo & { spkiSha256: string };
  signatureAlgorithm: string;
  /** Proof of possession: signed by the key it carries, with a signature algorithm matching that key. */
  signatureValid: boolean;
  /** SHA-256 of the request DER. */
  fingerprints: { sha256: string };
  /** Requested names; empty lists when none were requested. */
  subjectAltNames: SubjectAltNames;
  keyUsage: string[];
  extendedKeyUsage: string[];
  basicConstraints: { ca: boolean; pathLen: number | null } | null;
  /** Every requested extension, in request order. */
  extensions: ExtensionSummary[];
  /** OIDs of requested critical extensions this toolkit does not understand. */
  unknownCriticalExtensions: string[];
  /** Attribute types present (extensionRequest, challengePassword, or OIDs). */
  attributes: string[];
  /** Whether a challengePassword is present; its value is never printed. */
  challengePassword: boolean;
  warnings: string[];
}

/** Parse a CSR from PEM (CERTIFICATE REQUEST or NEW CERTIFICATE REQUEST) or DER; damage is an InputError. */
export function parseCsr(input: string | Uint8Array): Csr {
  const der = pemOrDer(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], 'certificate request');
  return parseOrInputError('certificate request', () => new Csr(der));
}

// ---------- creation ----------

export interface CsrOptions {
  /** RFC 4514 string ("CN=x,O=y") or RDNs. */
  subject: string | Rdns;
  privateKey: KeyObject;
  sans?: Partial<SubjectAltNames>;
  keyUsage?: KeyUsage[];
  /** EKU names (serverAuth, clientAuth, server, client, any) or OIDs. */
  extKeyUsage?: string[];
  /** Request basicConstraints (critical), e.g. { ca: true, pathLen: 0 } for an intermediate. */
  basicConstraints?: BasicConstraints;
  extraExtensions?: Extension[];
  challengePassword?: string;
  hash?: 'sha256' | 'sha384' | 'sha512';
}

function hasSans(s: Partial<SubjectAltNames> | undefined): boolean {
  return !!s && (s.dns?.length ?? 0) + (s.ip?.length ?? 0) + (s.email?.length ?? 0) + (s.uri?.length ?? 0) > 0;
}

export function createCsr(o: CsrOptions): Csr {
  if (o.privateKey.type !== 'private') throw new InputError('createCsr needs a private key');
  let rdns: Rdns;
  try {
    rdns = typeof o.subject === 'string' ? parseDn(o.subject) : o.subject;
  } catch (e) {
    throw new InputError((e as Error).message);
  }
  const exts: Extension[] = [];
  // RFC 5280 4.2.1.6: critical when the subject is empty.
  if (hasSans(o.sans)) exts.push({ oid: OID.subjectAltName, critical: rdns.length === 0, value: encodeSans(o.sans ?? {}) });
  if (o.keyUsage?.length) exts.push({ oid: OID.keyUsage, critical: true, value: encodeKeyUsage(o.keyUsage) });
  if (o.extKeyUsage?.length) {
    const oids = o.extKeyUsage.map((e) => {
      const x = ekuOid(e);
      if (!x) throw new InputError(`unknown extended key usage '${e}'`);
      return x;
    });
    exts.push({ oid: OID.extKeyUsage, critical: false, value: encodeExtKeyUsage(oids) });
  }
  if (o.basicConstraints) exts.push({ oid: OID.basicConstraints, critical: true, value: encodeBasicConstraints(o.basicConstraints) });
  for (const e of o.extraExtensions ?? []) {
    if (exts.some((x) => x.oid === e.oid)) throw new InputError(`extension ${extName(e.oid)} requested twice`);
    exts.push(e);
  }

  const attrs: Uint8Array[] = [];
  if (exts.length) attrs.push(seq(oid(OID.extensionRequest), setOf(seq(...exts.map(encodeExtension)))));
  if (o.challengePassword !== undefined) {
    const pw = o.challengePassword;
    attrs.push(seq(oid(OID.challengePassword), setOf(isPrintable(pw) ? printable(pw) : utf8(pw))));
  }
  const spki = privateKeySpki(o.privateKey);
  // attributes is [0] IMPLICIT SET OF: DER wants its elements sorted.
  const info = seq(integer(0), encodeName(rdns), spki, tlv(0xa0, ...attrs.sort(compareBytes)));
  const signer = signerFor(o.privateKey, o.hash);
  return new Csr(seq(info, signer.algorithmId, bitString(signer.sign(info))));
}

// ---------- signing ----------

/** Inspect, alter (return a new or the same profile) or reject (throw) what will be issued. */
export type CsrPolicy = (csr: Csr, proposed: CertProfile) => CertProfile;

export interface SignCsrRequest {
  csr: Csr;
  issuer: IssuerRef;
  validity: Validity;
  /** Win over what the CSR requests. A key present here replaces the requested value, even when undefined. */
  overrides?: Partial<Omit<CertProfile, 'validity'>>;
  policy?: CsrPolicy;
  now?: Date;
}

/**
 * The profile a CSR asks for: its subject, SANs (DNS, IP, email, URI), key usage and EKU, then `overrides`.
 * Deliberately not copied: basicConstraints (a requester cannot make itself a CA; pass overrides.ca),
 * keyCertSign/cRLSign unless the result is a CA, otherName/directoryName SANs, and any other extension.
 * A policy sees the CSR and can add them.
 */
export function profileFromCsr(csr: Csr, validity: Validity, overrides: Partial<Omit<CertProfile, 'validity'>> = {}): CertProfile {
  const ca = overrides.ca === true;
  const p: CertProfile = { subject: csr.subjectRdns.map((rdn) => rdn.map((a) => ({ ...a }))), validity };
  const s = csr.sans;
  if (hasSans(s)) p.sans = { dns: [...s.dns], ip: [...s.ip], email: [...s.email], uri: [...s.uri] };
  const ku = csr.keyUsage?.filter((k) => ca || (k !== 'keyCertSign' && k !== 'cRLSign'));
  if (ku?.length) p.keyUsage = ku;
  const eku = csr.extKeyUsage;
  if (eku?.length) p.extKeyUsage = [...eku];
  return { ...p, ...overrides, validity };
}

/** Most subjectAltNames and subject attributes a signed certificate may carry (real ones: a few hundred). */
export const MAX_SIGN_SANS = 10_000;
export const MAX_SIGN_NAME_ATTRIBUTES = 256;

function checkSignBudget(csr: Csr): void {
  const s = csr.sans;
  const sans = s.dns.length + s.ip.length + s.email.length + s.uri.length;
  if (sans > MAX_SIGN_SANS)
    throw new InputError(`too large: the certificate request asks for ${sans} subjectAltNames, over the limit of ${MAX_SIGN_SANS}`);
  let attrs = 0;
  for (const rdn of csr.subjectRdns) attrs += rdn.length;
  if (attrs > MAX_SIGN_NAME_ATTRIBUTES)
    throw new InputError(
      `too large: the certificate request's subject has ${attrs} attributes, over the limit of ${MAX_SIGN_NAME_ATTRIBUTES}`,
    );
}

/** Issue a certificate for a CSR's key. Refuses requests without proof of possession. */
export function signCsr(req: SignCsrRequest): Certificate {
  const { csr } = req;
  if (!csr.verifySignature())
    throw new InputError('certificate request signature does not verify: no proof of possession of its key, refusing to sign');
  const extError = csr.extensionRequestError;
  if (extError !== undefined) throw new InputError(`certificate request has a malformed extensionRequest (${extError}), refusing to sign`);
  checkSignBudget(csr);
  const proposed = profileFromCsr(csr, req.validity, req.overrides);
  const profile = req.policy ? req.policy(csr, proposed) : proposed;
  if (!profile || typeof profile !== 'object') throw new Error('CSR policy must return a CertProfile or throw');
  const emptySubject = typeof profile.subject === 'string' ? profile.subject.trim() === '' : profile.subject.length === 0;
  if (emptySubject && !hasSans(profile.sans)) throw new InputError('certificate request has neither a subject nor subjectAltNames');
  return issueCertificate({
    profile,
    publicKey: csr.spki,
    issuer: req.issuer,
    ...(req.now ? { now: req.now } : {}),
  });
}
