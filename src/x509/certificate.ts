// The certificate model. Parsing is lazy: construction locates the TBS fields and decodes the cheap
// ones; names, extensions and hashes are decoded on first access and cached.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import {
  bytesEqual,
  DerError,
  decodeBool,
  decodeOid,
  decodeSmallInt,
  decodeTime,
  derIssues,
  hexOf,
  MAX_EXTENSIONS,
  type Node,
  oid as oidTlv,
  pushWarning,
  readNode,
  TAG,
} from './der.ts';
import {
  type AuthorityInfoAccess,
  type BasicConstraints,
  decodeAia,
  decodeAkiKeyId,
  decodeBasicConstraints,
  decodeCrlDistributionPoints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeNameConstraints,
  decodePolicies,
  decodeSans,
  emptySans,
  extValue,
  type NameConstraints,
  type SubjectAltNames,
} from './extensions.ts';
import { describeSpki, type PublicKeyInfo, publicKeyFromSpki, spkiSha256 } from './keys.ts';
import { decodeName, type NameAttribute, nameGet, type Rdns, rdnsToString } from './name.ts';
import { extName, type KeyUsage, OID, sigAlgName } from './oids.ts';
import { SignedObject } from './signed.ts';

const { hash } = process.getBuiltinModule('node:crypto');

export interface ExtensionSummary {
  oid: string;
  name: string;
  critical: boolean;
}

/** Extensions this toolkit understands; a critical one outside this set is an unknown critical extension. */
export const KNOWN_CERT_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.subjectKeyIdentifier,
  OID.keyUsage,
  OID.subjectAltName,
  OID.issuerAltName,
  OID.basicConstraints,
  OID.nameConstraints,
  OID.crlDistributionPoints,
  OID.certificatePolicies,
  OID.policyMappings,
  OID.authorityKeyIdentifier,
  OID.policyConstraints,
  OID.extKeyUsage,
  OID.inhibitAnyPolicy,
  OID.authorityInfoAccess,
  OID.subjectInfoAccess,
  OID.ctSct,
  OID.netscapeComment,
]);

interface RawExtension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

interface ExtIndex {
  /** Each Extension SEQUENCE up to the first damaged one, and the OID node inside it. */
  exts: Node[];
  ids: Node[];
  /** What reading the next extension threw, if the walk stopped early. */
  error: unknown;
}

export class Certificate extends SignedObject {
  readonly version: number;
  readonly serialBytes: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The algorithm inside TBS; must equal the outer one (RFC 5280 4.1.1.2). */
  readonly tbsSignatureAlgorithmOid: string;
  readonly warnings: string[] = [];

  /** Byte ranges into der. */
  private readonly issuerNode: Node;
  private readonly subjectNode: Node;
  private readonly spkiNode: Node;
  private readonly extsNode: Node | undefined;

  private _subject?: Rdns;
  private _issuer?: Rdns;
  private _exts?: RawExtension[];
  private _spkiSha256?: string;
  private _publicKey?: KeyObject;
  private _keyInfo?: PublicKeyInfo;
  private _sans?: SubjectAltNames;
  /** basicConstraints decoded; null when absent or malformed. */
  private _bc?: BasicConstraints | null;
  private _ku?: KeyUsage[] | null;
  private _eku?: string[] | null;
  private _ski?: string | null;
  private _aki?: string | null;
  private _extIndex?: ExtIndex;

  constructor(input: Uint8Array) {
    super(input, 'certificate', 'tbsCertificate');
    const der = this.der;
    const tbs = this.bodyNode;

    let pos = tbs.valueStart;
    let n = readNode(der, pos, tbs.end);
    let version = 1;
    if (n.tag === 0xa0) {
      version = decodeSmallInt(n.inner()) + 1;
      pos = n.end;
      n = readNode(der, pos, tbs.end);
    }
    this.version = version;
    n.expect(TAG.INTEGER, 'serialNumber');
    this.serialBytes = n.value;
    const algo = readNode(der, n.end, tbs.end).expect(TAG.SEQUENCE, 'signature');
    this.tbsSignatureAlgorithmOid = decodeOid(algo.child(0));
    this.issuerNode = readNode(der, algo.end, tbs.end).expect(TAG.SEQUENCE, 'issuer');
    const validity = readNode(der, this.issuerNode.end, tbs.end).expect(TAG.SEQUENCE, 'validity');
    const nb = readNode(der, validity.valueStart, validity.end);
    const na = readNode(der, nb.end, validity.end);
    this.notBefore = decodeTime(nb);
    this.notAfter = decodeTime(na);
    this.subjectNode = readNode(der, validity.end, tbs.end).expect(TAG.SEQUENCE, 'subject');
    this.spkiNode = readNode(der, this.subjectNode.end, tbs.end).expect(TAG.SEQUENCE, 'subjectPublicKeyInfo');
    pos = this.spkiNode.end;
    let exts: Node | undefined;
    while (pos < tbs.end) {
      const f = readNode(der, pos, tbs.end);
      if (f.tag === 0xa3) exts = f.inner().expect(TAG.SEQUENCE, 'extensions');
      else if (f.tag !== 0x81 && f.tag !== 0x82) throw new DerError(`unexpected field 0x${f.tag.toString(16)} in tbsCertificate`, f.start);
      pos = f.end;
    }
    this.extsNode = exts;
    if (this.serialBytes.length === 0) throw new DerError('empty serial number', n.start);

    // Cheap structural warnings: anything heavier belongs to the lint engine.
    if (this.signatureAlgorithmOid !== this.tbsSignatureAlgorithmOid)
      pushWarning(
        this.warnings,
        `signature algorithm mismatch: outer ${sigAlgName(this.signatureAlgorithmOid)}, inside TBS ${sigAlgName(this.tbsSignatureAlgorithmOid)}`,
      );
    if (version < 3 && exts) pushWarning(this.warnings, `version ${version} certificate carries extensions`);
  }

  // ---------- encoding ----------

  /** What the generic walk cannot see: DER inside extension values and the RSA key, DEFAULTs, times. */
  protected override moreEncodingIssues(out: string[]): void {
    const der = this.der;
    const first = readNode(der, this.bodyNode.valueStart, this.bodyNode.end);
    if (first.tag === 0xa0 && first.inner().length === 1 && der[first.inner().valueStart] === 0)
      out.push('version v1 is encoded explicitly (a DEFAULT value: DER omits it)');
    const validity = readNode(der, this.issuerNode.end, this.bodyNode.end);
    for (const t of validity.children()) {
      const v = t.value;
      const canonical =
        (t.tag === TAG.UTC_TIME && v.length === 13) || (t.tag === TAG.GENERALIZED_TIME && v.length === 15 && v[14] === 0x5a);
      if (!canonical || v[v.length - 1] !== 0x5a)
        out.push(`time ${JSON.stringify(Buffer.from(v).toString('latin1'))} is not in DER form (YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ)`);
    }
    const spkiAlg = this.spkiNode.child(0).child(0);
    if (decodeOid(spkiAlg) === OID.rsaEncryption) {
      const bits = this.spkiNode.after(this.spkiNode.child(0));
      for (const i of derIssues(der, bits.valueStart + 1, bits.end)) out.push(`RSA public key: ${i}`);
    }
    if (!this.extsNode) return;
    for (const e of this.extsNode.children()) {
      const id = e.child(0);
      const name = extName(decodeOid(id));
      let next = e.after(id);
      if (next.tag === TAG.BOOLEAN) {
        if (der[next.valueStart] === 0) out.push(`extension ${name} encodes critical=FALSE explicitly (a DEFAULT value: DER omits it)`);
        next = e.after(next);
      }
      if (next.tag !== TAG.OCTET_STRING) continue;
      for (const i of derIssues(der, next.valueStart, next.end)) out.push(`extension ${name}: ${i}`);
      if (name === extName(OID.basicConstraints) && next.length > 2) {
        const bc = readNode(der, next.valueStart, next.end);
        const c0 = bc.length > 0 ? readNode(der, bc.valueStart, bc.end) : undefined;
        if (c0?.tag === TAG.BOOLEAN && der[c0.valueStart] === 0)
          out.push('basicConstraints encodes cA=FALSE explicitly (a DEFAULT value: DER omits it)');
      }
    }
  }

  // ---------- identity ----------

  /** Serial as lowercase hex of the DER contents (two's complement, as openssl prints it). */
  get serialNumber(): string {
    let b = this.serialBytes;
    if (b.length > 1 && b[0] === 0) b = b.subarray(1);
    return hexOf(b);
  }
  get serialNegative(): boolean {
    return ((this.serialBytes[0] as number) & 0x80) !== 0;
  }
  get subjectRdns(): Rdns {
    this._subject ??= decodeName(this.subjectNode);
    return this._subject;
  }
  get issuerRdns(): Rdns {
    this._issuer ??= decodeName(this.issuerNode);
    return this._issuer;
  }
  get subject(): string {
    return rdnsToString(this.subjectRdns);
  }
  get issuer(): string {
    return rdnsToString(this.issuerRdns);
  }
  get commonName(): string | undefined {
    return nameGet(this.subjectRdns, OID.CN);
  }
  /** Raw DER of the subject and issuer names, for exact name chaining. */
  get subjectRaw(): Uint8Array {
    return this.subjectNode.raw;
  }
  get issuerRaw(): Uint8Array {
    return this.issuerNode.raw;
  }
  get tbs(): Uint8Array {
    return this.bodyNode.raw;
  }
  get spki(): Uint8Array {
    return this.spkiNode.raw;
  }

  // ---------- hashes ----------

  get sha1(): string {
    return hash('sha1', this.der);
  }
  get spkiSha256(): string {
    this._spkiSha256 ??= spkiSha256(this.spki);
    return this._spkiSha256;
  }

  // ---------- key ----------

  /** A damaged key still yields a record: algorithm 'unreadable' plus a warning. */
  get keyInfo(): PublicKeyInfo {
    if (!this._keyInfo) {
      try {
        this._keyInfo = describeSpki(this.spkiNode);
      } catch (e) {
        pushWarning(this.warnings, `unreadable public key: ${(e as Error).message}`);
        this._keyInfo = { algorithm: 'unreadable' };
      }
    }
    return this._keyInfo;
  }
  /** Throws InputError when the subject public key cannot be loaded. */
  get publicKey(): KeyObject {
    if (!this._publicKey) {
      try {
        this._publicKey = publicKeyFromSpki(this.spki);
      } catch (e) {
        throw new InputError(`certificate ${this.subject}: public key cannot be loaded (${(e as Error).message})`);
      }
    }
    return this._publicKey;
  }

  // ---------- extensions ----------

  get extensions(): RawExtension[] {
    if (this._exts) return this._exts;
    const out: RawExtension[] = [];
    const seen = new Set<string>();
    const dup = new Set<string>();
    if (this.extsNode) {
      const list = this.extsNode;
      for (let pos = list.valueStart; pos < list.end; ) {
        // Walked in place (not children()): the budget must stop before a million nodes are built.
        const e = readNode(list.buf, pos, list.end);
        pos = e.end;
        if (out.length >= MAX_EXTENSIONS)
          throw new DerError(`too many extensions (more than ${MAX_EXTENSIONS}): too large to process`, e.start);
        const first = e.child(0);
        const o = decodeOid(first);
        const second = e.after(first);
        let critical = false;
        let valueNode = second;
        if (second.tag === TAG.BOOLEAN) {
          critical = decodeBool(second);
          if (!critical) pushWarning(this.warnings, `extension ${extName(o)} encodes critical=FALSE explicitly (not DER)`);
          valueNode = e.after(second);
        }
        valueNode.expect(TAG.OCTET_STRING, `extension ${o} value`);
        // One warning per repeated OID, found with a set: a list of a million copies must stay linear.
        if (seen.has(o)) {
          if (!dup.has(o)) pushWarning(this.warnings, `duplicate extension ${extName(o)}`);
          dup.add(o);
        } else seen.add(o);
        out.push({ oid: o, critical, value: valueNode.value });
      }
    }
    this._exts = out;
    return out;
  }

  extensionSummaries(): ExtensionSummary[] {
    return this.extensions.map((e) => ({ oid: e.oid, name: extName(e.oid), critical: e.critical }));
  }

  private ext(o: string): RawExtension | undefined {
    if (this._exts) {
      for (const e of this._exts) if (e.oid === o) return e;
      return undefined;
    }
    return this.findExt(o);
  }

  /**
   * Where each extension and its OID lie, found by one walk that stops where the list is damaged (that
   * error is kept): a certificate's extensions are looked up a dozen times, and re-reading the list each
   * time built two nodes per extension per lookup.
   */
  private extIndex(): ExtIndex {
    if (this._extIndex) return this._extIndex;
    const list = this.extsNode as Node;
    const exts: Node[] = [];
    const ids: Node[] = [];
    let error: unknown;
    try {
      for (let pos = list.valueStart; pos < list.end; ) {
        const e = readNode(list.buf, pos, list.end);
        pos = e.end;
        ids.push(e.child(0));
        exts.push(e);
      }
    } catch (err) {
      error = err;
    }
    this._extIndex = { exts, ids, error };
    return this._extIndex;
  }

  /** Hot path: find one extension by comparing encoded OIDs, without decoding the whole list. Throws what
   * walking the list up to the first match (or to its end) meets. */
  private findExt(o: string): RawExtension | undefined {
    if (!this.extsNode) return undefined;
    const want = oidTlv(o);
    const buf = this.der;
    const { exts, ids, error } = this.extIndex();
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k] as Node;
      if (id.end - id.start !== want.length) continue;
      let same = true;
      for (let i = 0; i < want.length; i++)
        if (buf[id.start + i] !== want[i]) {
          same = false;
          break;
        }
      if (!same) continue;
      const e = exts[k] as Node;
      let next = e.after(id);
      let critical = false;
      if (next.tag === TAG.BOOLEAN) {
        critical = decodeBool(next);
        next = e.after(next);
      }
      next.expect(TAG.OCTET_STRING, `extension ${o} value`);
      return { oid: o, critical, value: next.value };
    }
    if (error !== undefined) throw error;
    return undefined;
  }

  /** Decode an extension; a malformed one becomes a warning and reads as absent. */
  private decodeExt<T>(o: string, f: (n: Node) => T): T | undefined {
    const e = this.ext(o);
    if (!e) return undefined;
    try {
      return f(extValue(e.value));
    } catch (err) {
      const w = `malformed ${extName(o)} extension: ${(err as Error).message}`;
      if (!this.warnings.includes(w)) pushWarning(this.warnings, w);
      return undefined;
    }
  }

  hasExtension(o: string): boolean {
    return this.ext(o) !== undefined;
  }
  isCritical(o: string): boolean {
    return this.ext(o)?.critical ?? false;
  }
  get unknownCriticalExtensions(): string[] {
    return this.extensions.filter((e) => e.critical && !KNOWN_CERT_EXTENSIONS.has(e.oid)).map((e) => e.oid);
  }

  get sans(): SubjectAltNames {
    this._sans ??= this.decodeExt(OID.subjectAltName, decodeSans) ?? emptySans();
    return this._sans;
  }
  // Decoded once (the lints ask a certificate for its key usages about a dozen times), frozen: a caller that
  // changed the shared list would throw, not corrupt the next caller's answer.
  get keyUsage(): KeyUsage[] | undefined {
    if (this._ku === undefined) this._ku = frozen(this.decodeExt(OID.keyUsage, decodeKeyUsage));
    return this._ku ?? undefined;
  }
  get extKeyUsage(): string[] | undefined {
    if (this._eku === undefined) this._eku = frozen(this.decodeExt(OID.extKeyUsage, decodeExtKeyUsage));
    return this._eku ?? undefined;
  }
  get basicConstraints(): BasicConstraints | undefined {
    // Decoded once: isCA is asked at every place a scan judges (a malformed extension's warning is pushed once either way).
    if (this._bc === undefined) this._bc = this.decodeExt(OID.basicConstraints, decodeBasicConstraints) ?? null;
    return this._bc ?? undefined;
  }
  get isCA(): boolean {
    return this.basicConstraints?.ca === true;
  }
  get subjectKeyId(): string | undefined {
    if (this._ski === undefined)
      this._ski = this.decodeExt(OID.subjectKeyIdentifier, (n) => hexOf(n.expect(TAG.OCTET_STRING, 'SKI').value)) ?? null;
    return this._ski ?? undefined;
  }
  get authorityKeyId(): string | undefined {
    if (this._aki === undefined) this._aki = this.decodeExt(OID.authorityKeyIdentifier, decodeAkiKeyId) ?? null;
    return this._aki ?? undefined;
  }
  get nameConstraints(): NameConstraints | undefined {
    return this.decodeExt(OID.nameConstraints, decodeNameConstraints);
  }
  get crlDistributionPoints(): string[] {
    return this.decodeExt(OID.crlDistributionPoints, decodeCrlDistributionPoints) ?? [];
  }
  get authorityInfoAccess(): AuthorityInfoAccess {
    return this.decodeExt(OID.authorityInfoAccess, decodeAia) ?? { ocsp: [], caIssuers: [] };
  }
  get policies(): string[] {
    return this.decodeExt(OID.certificatePolicies, decodePolicies) ?? [];
  }

  /**
   * The same certificate on its own copy of the bytes, for a caller that keeps it past the buffer it was read
   * from (a walk's reused buffers); undefined when the bytes are a re-encoding of BER input (the copy would
   * not say so), so the caller must read it again.
   */
  detached(): Certificate | undefined {
    return this.reencoded ? undefined : new Certificate(this.der.slice());
  }

  /**
   * The same certificate as a new object with nothing decoded yet, on the same bytes: a caller that decodes
   * much of it once (the lint catalog) leaves its own object lean. Itself when the input was BER (`der` is
   * then the re-encoding, not what was read).
   */
  undecoded(): Certificate {
    return this.reencoded ? this : new Certificate(this.der);
  }

  /** Subject and issuer names encode the same bytes (the usual self-issued test). */
  get selfIssued(): boolean {
    return bytesEqual(this.subjectRaw, this.issuerRaw);
  }

  /** Did `issuerKey` sign this certificate? */
  verifiedBy(issuerKey: KeyObject): boolean {
    return this.signedBy(issuerKey);
  }

  get selfSigned(): boolean {
    if (!this.selfIssued) return false;
    try {
      return this.verifiedBy(this.publicKey);
    } catch {
      return false;
    }
  }

  isValidAt(t: Date): boolean {
    return t >= this.notBefore && t <= this.notAfter;
  }

  toPem(): string {
    return toPem('CERTIFICATE', this.der);
  }

  /** The documented JSON view (docs/inspect-schema.md). Touches every lazy field. */
  toJSON(now: Date = new Date()): CertificateJson {
    const ki = this.keyInfo;
    const bc = this.basicConstraints;
    const nc = this.nameConstraints;
    const json: CertificateJson = {
      kind: 'certificate',
      version: this.version,
      serialNumber: this.serialNumber,
      subject: this.subject,
      subjectAttributes: flatten(this.subjectRdns),
      issuer: this.issuer,
      issuerAttributes: flatten(this.issuerRdns),
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      secondsRemaining: Math.floor((this.notAfter.getTime() - now.getTime()) / 1000),
      expired: now > this.notAfter,
      notYetValid: now < this.notBefore,
      publicKey: { ...ki, spkiSha256: this.spkiSha256 },
      signatureAlgorithm: this.signatureAlgorithm,
      fingerprints: { sha256: this.sha256, sha1: this.sha1 },
      subjectAltNames: this.sans,
      keyUsage: this.keyUsage ?? [],
      extendedKeyUsage: this.extKeyUsage ?? [],
      basicConstraints: bc ? { ca: bc.ca, pathLen: bc.pathLen ?? null } : null,
      subjectKeyId: this.subjectKeyId ?? null,
      authorityKeyId: this.authorityKeyId ?? null,
      nameConstraints: nc ?? null,
      crlDistributionPoints: this.crlDistributionPoints,
      authorityInfoAccess: this.authorityInfoAccess,
      policies: this.policies,
      extensions: this.extensionSummaries(),
      selfSigned: this.selfIssued ? this.selfSigned : false,
      warnings: this.warningsWithEncoding(this.warnings),
    };
    return json;
  }
}

export interface CertificateJson {
  kind: 'certificate';
  version: number;
  serialNumber: string;
  subject: string;
  subjectAttributes: NameAttribute[];
  issuer: string;
  issuerAttributes: NameAttribute[];
  notBefore: string;
  notAfter: string;
  secondsRemaining: number;
  expired: boolean;
  notYetValid: boolean;
  publicKey: PublicKeyInfo & { spkiSha256: string };
  signatureAlgorithm: string;
  fingerprints: { sha256: string; sha1: string };
  subjectAltNames: SubjectAltNames;
  keyUsage: string[];
  extendedKeyUsage: string[];
  basicConstraints: { ca: boolean; pathLen: number | null } | null;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  nameConstraints: NameConstraints | null;
  crlDistributionPoints: string[];
  authorityInfoAccess: AuthorityInfoAccess;
  policies: string[];
  extensions: ExtensionSummary[];
  selfSigned: boolean;
  warnings: string[];
}

function flatten(rdns: Rdns): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of rdns) for (const a of rdn) out.push(a);
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
  return `${out}-----END ${label}-----\n`;
}

/** A decoded list made read-only, or null for an absent one (the getters' "decoded, not there"). */
function frozen<T>(list: T[] | undefined): T[] | null {
  return list === undefined ? null : (Object.freeze(list) as T[]);
}
