// X.509 v2 CRLs (RFC 5280 section 5): create, parse lazily, look up serials in O(1), verify the issuer's signature.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { type IssuerRef, keyIdentifier } from './build.ts';
import { type ExtensionSummary, toPem } from './certificate.ts';
import {
  bitString,
  DerError,
  decodeBigInt,
  decodeBool,
  decodeOid,
  decodeSmallInt,
  decodeTime,
  explicit,
  generalizedTime,
  integer,
  type Node,
  pushWarning,
  readNode,
  seq,
  TAG,
  time,
  tlv,
} from './der.ts';
import {
  decodeAkiKeyId,
  decodeExtensionList,
  decodeExtensionValue,
  decodeGeneralName,
  type Extension,
  encodeAki,
  encodeExtension,
} from './extensions.ts';
import { externalSignerFor, isExternalKey, keyMatchesSpki, type SigningKey, signerFor, signingKeyMatchesSpki } from './keys.ts';
import { decodeName, type NameAttribute, type Rdns, rdnsToString } from './name.ts';
import { CRL_REASONS, type CrlReason, extName, OID, sigAlgName } from './oids.ts';
import { parseOrInputError, pemOrDer, SignedObject } from './signed.ts';

/**
 * CRL extensions whose meaning this toolkit applies or exposes. deltaCRLIndicator is left out on purpose:
 * a delta CRL alone is incomplete, so a consumer that does not merge deltas must see it as unknown.
 */
export const KNOWN_CRL_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.authorityKeyIdentifier,
  OID.issuerAltName,
  OID.crlNumber,
  OID.issuingDistributionPoint,
  OID.authorityInfoAccess,
  OID.freshestCrl,
]);
/** Entry extensions understood. certificateIssuer (indirect CRLs) is not: its entries belong to another CA. */
export const KNOWN_CRL_ENTRY_EXTENSIONS: ReadonlySet<string> = new Set([OID.crlReason, OID.invalidityDate, OID.holdInstructionCode]);

export interface CrlEntry {
  /** Lowercase hex of the INTEGER contents without one leading 00, exactly like Certificate.serialNumber. */
  serialNumber: string;
  revocationDate: Date;
  reason?: CrlReason;
  invalidityDate?: Date;
}

export interface UnknownCriticalExtension {
  oid: string;
  /** Set when the extension sits on an entry rather than on the CRL. */
  serialNumber?: string;
}

export interface IssuingDistributionPoint {
  fullName: string[];
  onlyContainsUserCerts: boolean;
  onlyContainsCACerts: boolean;
  /** null when the CRL covers all reasons. */
  onlySomeReasons: string[] | null;
  indirectCrl: boolean;
  onlyContainsAttributeCerts: boolean;
}

const REASON_FLAGS = [
  'unused',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
];

function decodeIdp(n: Node): IssuingDistributionPoint {
  const out: IssuingDistributionPoint = {
    fullName: [],
    onlyContainsUserCerts: false,
    onlyContainsCACerts: false,
    onlySomeReasons: null,
    indirectCrl: false,
    onlyContainsAttributeCerts: false,
  };
  for (const f of n.expect(TAG.SEQUENCE, 'issuingDistributionPoint').children()) {
    const flag = (): boolean => decodeBool(f);
    if (f.tag === 0xa0) {
      const name = f.inner();
      if (name.tag === 0xa0) for (const gn of name.children()) out.fullName.push(decodeGeneralName(gn).value);
    } else if (f.tag === 0x81) out.onlyContainsUserCerts = flag();
    else if (f.tag === 0x82) out.onlyContainsCACerts = flag();
    else if (f.tag === 0x83) {
      const bits = f.value.subarray(1);
      out.onlySomeReasons = REASON_FLAGS.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
    } else if (f.tag === 0x84) out.indirectCrl = flag();
    else if (f.tag === 0x85) out.onlyContainsAttributeCerts = flag();
  }
  return out;
}

/** Lowercase hex of INTEGER contents, dropping one leading 00 (Certificate.serialNumber's rule). */
function serialHex(b: Uint8Array): string {
  return Buffer.from(b.length > 1 && b[0] === 0 ? b.subarray(1) : b).toString('hex');
}

/** Normalise a user's serial ("0A:1B", "0x0a1b", "A1B") to serialHex form. */
export function normalizeSerialHex(s: string): string {
  let h = s.trim().toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '');
  if (h.length % 2) h = `0${h}`;
  return h.length > 2 && h.startsWith('00') ? h.slice(2) : h;
}

function isTime(n: Node): boolean {
  return n.tag === TAG.UTC_TIME || n.tag === TAG.GENERALIZED_TIME;
}

export class Crl extends SignedObject {
  /** 2 for v2, 1 when the version field is absent. */
  readonly version: number;
  readonly tbsSignatureAlgorithmOid: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly warnings: string[] = [];

  private readonly issuerNode: Node;
  private readonly revokedNode: Node | undefined;
  private readonly extsNode: Node | undefined;

  private _issuer?: Rdns;
  private _exts?: Extension[];
  private _entries?: CrlEntry[];
  private _entryUnknown?: UnknownCriticalExtension[];
  private _index?: Map<string, CrlEntry>;

  constructor(input: Uint8Array) {
    super(input, 'certificateList', 'tbsCertList');
    const der = this.der;
    const tbs = this.bodyNode;

    let n = readNode(der, tbs.valueStart, tbs.end);
    let version = 1;
    if (n.tag === TAG.INTEGER) {
      version = decodeSmallInt(n) + 1;
      n = readNode(der, n.end, tbs.end);
    }
    this.version = version;
    this.tbsSignatureAlgorithmOid = decodeOid(n.expect(TAG.SEQUENCE, 'signature').child(0).expect(TAG.OID, 'signature algorithm'));
    this.issuerNode = readNode(der, n.end, tbs.end).expect(TAG.SEQUENCE, 'issuer');
    const tu = readNode(der, this.issuerNode.end, tbs.end);
    if (!isTime(tu)) throw new DerError('thisUpdate: expected a time', tu.start);
    this.thisUpdate = decodeTime(tu);
    let pos = tu.end;
    let revoked: Node | undefined;
    let exts: Node | undefined;
    if (pos < tbs.end) {
      const f = readNode(der, pos, tbs.end);
      if (isTime(f)) {
        this.nextUpdate = decodeTime(f);
        pos = f.end;
      }
    }
    if (pos < tbs.end) {
      const f = readNode(der, pos, tbs.end);
      if (f.tag === TAG.SEQUENCE) {
        revoked = f;
        pos = f.end;
      }
    }
    if (pos < tbs.end) {
      const f = readNode(der, pos, tbs.end).expect(0xa0, 'crlExtensions');
      exts = f.inner().expect(TAG.SEQUENCE, 'crlExtensions');
      pos = f.end;
    }
    if (pos !== tbs.end) throw new DerError('trailing data in tbsCertList', pos);
    this.revokedNode = revoked;
    this.extsNode = exts;

    if (this.signatureAlgorithmOid !== this.tbsSignatureAlgorithmOid)
      pushWarning(
        this.warnings,
        `signature algorithm mismatch: outer ${sigAlgName(this.signatureAlgorithmOid)}, inside TBS ${sigAlgName(this.tbsSignatureAlgorithmOid)}`,
      );
    if (version > 2) pushWarning(this.warnings, `unknown CRL version ${version}`);
    if (version < 2 && exts) pushWarning(this.warnings, 'version 1 CRL carries extensions');
    if (revoked && revoked.length === 0) pushWarning(this.warnings, 'empty revokedCertificates list (RFC 5280: omit it instead)');
    if (this.nextUpdate === undefined) pushWarning(this.warnings, 'no nextUpdate (RFC 5280 requires it)');
  }

  // ---------- issuer ----------

  get issuerRdns(): Rdns {
    this._issuer ??= decodeName(this.issuerNode);
    return this._issuer;
  }
  get issuer(): string {
    return rdnsToString(this.issuerRdns);
  }
  /** Raw DER of the issuer name, for exact matching against a CA's subjectRaw. */
  get issuerRaw(): Uint8Array {
    return this.issuerNode.raw;
  }
  get tbs(): Uint8Array {
    return this.bodyNode.raw;
  }

  /** Did `issuerKey` sign this CRL (with a signature algorithm matching the key)? */
  verifiedBy(issuerKey: KeyObject): boolean {
    return this.signedBy(issuerKey);
  }

  /** True when `t` is past nextUpdate (a CRL without nextUpdate never goes stale by this test). */
  isStaleAt(t: Date): boolean {
    return this.nextUpdate !== undefined && t > this.nextUpdate;
  }

  // ---------- CRL extensions ----------

  get extensions(): Extension[] {
    this._exts ??= this.extsNode ? decodeExtensionList(this.extsNode, this.warnings) : [];
    return this._exts;
  }
  extensionSummaries(): ExtensionSummary[] {
    return this.extensions.map((e) => ({ oid: e.oid, name: extName(e.oid), critical: e.critical }));
  }
  get crlNumber(): bigint | undefined {
    return decodeExtensionValue(this.extensions, OID.crlNumber, (n) => decodeBigInt(n.expect(TAG.INTEGER, 'cRLNumber')), this.warnings);
  }
  /** The base CRL number when this is a delta CRL. */
  get deltaCrlIndicator(): bigint | undefined {
    return decodeExtensionValue(
      this.extensions,
      OID.deltaCrlIndicator,
      (n) => decodeBigInt(n.expect(TAG.INTEGER, 'baseCRLNumber')),
      this.warnings,
    );
  }
  get authorityKeyId(): string | undefined {
    return decodeExtensionValue(this.extensions, OID.authorityKeyIdentifier, decodeAkiKeyId, this.warnings);
  }
  get issuingDistributionPoint(): IssuingDistributionPoint | undefined {
    return decodeExtensionValue(this.extensions, OID.issuingDistributionPoint, decodeIdp, this.warnings);
  }

  /** Critical extensions not understood, on the CRL and on its entries: a trust engine must reject the CRL. */
  get unknownCriticalExtensions(): UnknownCriticalExtension[] {
    const top = this.extensions.filter((e) => e.critical && !KNOWN_CRL_EXTENSIONS.has(e.oid)).map((e) => ({ oid: e.oid }));
    void this.entries;
    return [...top, ...(this._entryUnknown ?? [])];
  }

  // ---------- entries ----------

  /** Revoked certificates in CRL order. A structurally broken entry throws DerError. */
  get entries(): CrlEntry[] {
    if (this._entries) return this._entries;
    const out: CrlEntry[] = [];
    const unknown: UnknownCriticalExtension[] = [];
    const der = this.der;
    const list = this.revokedNode;
    for (let pos = list ? list.valueStart : 0; list && pos < list.end; ) {
      const e = readNode(der, pos, list.end).expect(TAG.SEQUENCE, 'revokedCertificate');
      pos = e.end;
      const sn = readNode(der, e.valueStart, e.end).expect(TAG.INTEGER, 'userCertificate');
      if (sn.length === 0) throw new DerError('empty serial number', sn.start);
      const rd = readNode(der, sn.end, e.end);
      if (!isTime(rd)) throw new DerError('revocationDate: expected a time', rd.start);
      const entry: CrlEntry = { serialNumber: serialHex(sn.value), revocationDate: decodeTime(rd) };
      if (rd.end < e.end) {
        const en = readNode(der, rd.end, e.end).expect(TAG.SEQUENCE, 'crlEntryExtensions');
        if (en.end !== e.end) throw new DerError('trailing data in revokedCertificate', en.end);
        const w: string[] = [];
        const exts = decodeExtensionList(en, w);
        const reason = decodeExtensionValue(exts, OID.crlReason, decodeReason, w);
        if (reason !== undefined) entry.reason = reason;
        const inv = decodeExtensionValue(exts, OID.invalidityDate, decodeTime, w);
        if (inv !== undefined) entry.invalidityDate = inv;
        for (const x of exts)
          if (x.critical && !KNOWN_CRL_ENTRY_EXTENSIONS.has(x.oid)) unknown.push({ oid: x.oid, serialNumber: entry.serialNumber });
        for (const m of w) pushWarning(this.warnings, `entry ${entry.serialNumber}: ${m}`);
      }
      out.push(entry);
    }
    this._entryUnknown = unknown;
    this._entries = out;
    return out;
  }

  /** The entry for a serial (hex, any case, colons allowed), in O(1) after the first call. */
  revocationOf(serial: string): CrlEntry | undefined {
    if (!this._index) {
      const m = new Map<string, CrlEntry>();
      for (const e of this.entries) {
        if (m.has(e.serialNumber)) pushWarning(this.warnings, `serial ${e.serialNumber} listed more than once`);
        else m.set(e.serialNumber, e);
      }
      this._index = m;
    }
    return this._index.get(normalizeSerialHex(serial));
  }

  /** Is this serial listed? A certificateHold entry counts as revoked (until a later CRL drops it). */
  isRevoked(serial: string): boolean {
    return this.revocationOf(serial) !== undefined;
  }

  toPem(): string {
    return toPem('X509 CRL', this.der);
  }

  /** The documented JSON view (CrlJson). Touches every lazy field. */
  toJSON(now: Date = new Date()): CrlJson {
    const crlNumber = this.crlNumber;
    const delta = this.deltaCrlIndicator;
    const json: CrlJson = {
      kind: 'crl',
      version: this.version,
      issuer: this.issuer,
      issuerAttributes: this.issuerRdns.flat(),
      thisUpdate: this.thisUpdate.toISOString(),
      nextUpdate: this.nextUpdate ? this.nextUpdate.toISOString() : null,
      stale: this.isStaleAt(now),
      crlNumber: crlNumber === undefined ? null : crlNumber.toString(),
      deltaCrlIndicator: delta === undefined ? null : delta.toString(),
      authorityKeyId: this.authorityKeyId ?? null,
      issuingDistributionPoint: this.issuingDistributionPoint ?? null,
      signatureAlgorithm: this.signatureAlgorithm,
      fingerprints: { sha256: this.sha256 },
      entries: this.entries.map((e) => ({
        serialNumber: e.serialNumber,
        revocationDate: e.revocationDate.toISOString(),
        reason: e.reason ?? null,
        invalidityDate: e.invalidityDate ? e.invalidityDate.toISOString() : null,
      })),
      extensions: this.extensionSummaries(),
      unknownCriticalExtensions: this.unknownCriticalExtensions.map((u) => ({ oid: u.oid, serialNumber: u.serialNumber ?? null })),
      warnings: [],
    };
    json.warnings = this.warningsWithEncoding(this.warnings);
    return json;
  }
}

/** Stable JSON shape of a CRL (kind 'crl'). Times are ISO 8601 UTC; big integers are decimal strings. */
export interface CrlJson {
  kind: 'crl';
  /** 2 for v2, 1 when the version field is absent. */
  version: number;
  /** RFC 4514, most specific RDN first. */
  issuer: string;
  issuerAttributes: NameAttribute[];
  thisUpdate: string;
  nextUpdate: string | null;
  /** `now` is past nextUpdate. */
  stale: boolean;
  crlNumber: string | null;
  /** Base CRL number when this is a delta CRL. */
  deltaCrlIndicator: string | null;
  authorityKeyId: string | null;
  issuingDistributionPoint: IssuingDistributionPoint | null;
  signatureAlgorithm: string;
  /** SHA-256 of the CRL DER. */
  fingerprints: { sha256: string };
  /** Revoked certificates in CRL order; serialNumber as Certificate.serialNumber prints it. */
  entries: { serialNumber: string; revocationDate: string; reason: CrlReason | null; invalidityDate: string | null }[];
  extensions: ExtensionSummary[];
  /** serialNumber is null for CRL-level extensions. */
  unknownCriticalExtensions: { oid: string; serialNumber: string | null }[];
  warnings: string[];
}

function decodeReason(n: Node): CrlReason {
  const v = decodeSmallInt(n.expect(TAG.ENUMERATED, 'reasonCode'));
  const r = CRL_REASONS[v];
  if (r === undefined || v === 7) throw new DerError(`unknown reason code ${v}`, n.start);
  return r;
}

/** Parse a CRL from PEM (X509 CRL) or DER, entries included; damage is an InputError. */
export function parseCrl(input: string | Uint8Array): Crl {
  const der = pemOrDer(input, ['X509 CRL'], 'CRL');
  return parseOrInputError('CRL', () => {
    const crl = new Crl(der);
    void crl.entries; // a CRL whose entries cannot be read must not look like an empty one
    return crl;
  });
}

// ---------- creation ----------

export interface CrlEntryInput {
  /**
   * Hex (as Certificate.serialNumber prints it; colons allowed) or bigint, both encoded as a positive INTEGER;
   * or the raw INTEGER contents (Certificate.serialBytes), written verbatim so even a negative serial matches.
   */
  serial: string | bigint | Uint8Array;
  revokedAt: Date;
  /** Omitted for 'unspecified', as RFC 5280 5.3.1 asks. */
  reason?: CrlReason;
  invalidityDate?: Date;
  extraExtensions?: Extension[];
}

export interface CreateCrlRequest {
  issuer: IssuerRef;
  entries: CrlEntryInput[];
  /** Default: now. */
  thisUpdate?: Date;
  nextUpdate: Date;
  crlNumber: bigint | number;
  hash?: 'sha256' | 'sha384' | 'sha512';
  extraExtensions?: Extension[];
}

function serialInteger(s: string | bigint | Uint8Array): Uint8Array {
  if (typeof s === 'bigint') return integer(s);
  if (typeof s === 'string') {
    let h = s.trim().replace(/^0x/i, '').replace(/[:\s]/g, '');
    if (!/^[0-9a-fA-F]+$/.test(h)) throw new InputError(`serial '${s}' is not hexadecimal`);
    if (h.length % 2) h = `0${h}`;
    return integer(Buffer.from(h, 'hex'));
  }
  const minimal =
    s.length === 1 || !((s[0] === 0 && ((s[1] as number) & 0x80) === 0) || (s[0] === 0xff && ((s[1] as number) & 0x80) !== 0));
  if (s.length === 0 || !minimal) throw new InputError('serial bytes must be a minimal DER INTEGER encoding');
  return tlv(TAG.INTEGER, s);
}

function checkDate(d: Date, what: string): void {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new InputError(`${what} is not a valid date`);
}

function encodeEntry(e: CrlEntryInput): { serial: string; der: Uint8Array } {
  checkDate(e.revokedAt, 'revokedAt');
  const sn = serialInteger(e.serial);
  const exts: Extension[] = [];
  if (e.reason !== undefined && e.reason !== 'unspecified') {
    const code = CRL_REASONS.indexOf(e.reason);
    // removeFromCRL only means something in a delta CRL, which this does not write.
    if (code < 0 || e.reason === 'unused7' || e.reason === 'removeFromCRL')
      throw new InputError(`reason '${e.reason}' cannot be used here`);
    exts.push({ oid: OID.crlReason, critical: false, value: tlv(TAG.ENUMERATED, Uint8Array.of(code)) });
  }
  if (e.invalidityDate) {
    checkDate(e.invalidityDate, 'invalidityDate');
    exts.push({ oid: OID.invalidityDate, critical: false, value: generalizedTime(e.invalidityDate) });
  }
  exts.push(...(e.extraExtensions ?? []));
  const der = seq(sn, time(e.revokedAt), ...(exts.length ? [seq(...exts.map(encodeExtension))] : []));
  return { serial: serialHex(readNode(sn, 0).value), der };
}

/** Write and sign a v2 CRL for `issuer`, with authorityKeyIdentifier, cRLNumber and per-entry reason codes. */
export function createCrl(req: CreateCrlRequest): Crl {
  const { cert, key } = req.issuer;
  if (!keyMatchesSpki(key, cert.spki)) throw new InputError(`the CRL signing key does not belong to ${cert.subject}`);
  const signer = signerFor(key, req.hash);
  const tbs = tbsCertList(req, signer.algorithmId);
  return new Crl(seq(tbs, signer.algorithmId, bitString(signer.sign(tbs))));
}

export interface ExternalCrlRequest extends Omit<CreateCrlRequest, 'issuer'> {
  issuer: { cert: IssuerRef['cert']; key: SigningKey };
}

/** createCrl for a key that may live on a token (ExternalKey), signed asynchronously; a KeyObject goes through createCrl. */
export async function createCrlAsync(req: ExternalCrlRequest): Promise<Crl> {
  const { cert, key } = req.issuer;
  if (!isExternalKey(key)) return createCrl(req as CreateCrlRequest);
  if (!signingKeyMatchesSpki(key, cert.spki)) throw new InputError(`the CRL signing key does not belong to ${cert.subject}`);
  const signer = externalSignerFor(key, req.hash);
  const tbs = tbsCertList(req, signer.algorithmId);
  return new Crl(seq(tbs, signer.algorithmId, bitString(await signer.sign(tbs))));
}

function tbsCertList(req: ExternalCrlRequest, algorithmId: Uint8Array): Uint8Array {
  const { cert } = req.issuer;
  const ku = cert.keyUsage;
  if (ku && !ku.includes('cRLSign'))
    throw new InputError(`${cert.subject} lacks the cRLSign key usage: relying parties would reject its CRLs`);
  const thisUpdate = req.thisUpdate ?? new Date();
  checkDate(thisUpdate, 'thisUpdate');
  checkDate(req.nextUpdate, 'nextUpdate');
  if (req.nextUpdate <= thisUpdate) throw new InputError('nextUpdate must be after thisUpdate');
  const num = BigInt(req.crlNumber);
  // RFC 5280 5.2.3: non-negative, at most 20 octets.
  if (num < 0n || num >= 1n << 159n) throw new InputError('crlNumber must be between 0 and 2^159-1');

  const seen = new Set<string>();
  const entries = req.entries.map((e) => {
    const enc = encodeEntry(e);
    if (seen.has(enc.serial)) throw new InputError(`serial ${enc.serial} listed twice`);
    seen.add(enc.serial);
    return enc.der;
  });
  const skid = cert.subjectKeyId;
  const exts: Extension[] = [
    { oid: OID.authorityKeyIdentifier, critical: false, value: encodeAki(skid ? Buffer.from(skid, 'hex') : keyIdentifier(cert.spki)) },
    { oid: OID.crlNumber, critical: false, value: integer(num) },
    ...(req.extraExtensions ?? []),
  ];
  return seq(
    integer(1),
    algorithmId,
    cert.subjectRaw,
    time(thisUpdate),
    time(req.nextUpdate),
    // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
    ...(entries.length ? [seq(...entries)] : []),
    explicit(0, seq(...exts.map(encodeExtension))),
  );
}
