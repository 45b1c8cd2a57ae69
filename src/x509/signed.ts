// Helpers shared by the signed PKIX objects: certificates, CSRs, CRLs.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { berToDer } from './ber.ts';
import { bitStringBytes, bitStringUnused, DerError, decodeOid, derIssues, type Node, parse, readNode, TAG } from './der.ts';
import { verifySignature } from './keys.ts';
import { sigAlgName } from './oids.ts';

const { hash } = process.getBuiltinModule('node:crypto');

/** The bytes of the first PEM block with one of `labels`, or the input itself when it is DER. */
export function pemOrDer(input: string | Uint8Array, labels: readonly string[], what: string): Uint8Array {
  const text = typeof input === 'string' ? input : Buffer.from(input.subarray(0, 65536)).toString('latin1');
  if (!text.includes('-----BEGIN ')) {
    if (typeof input === 'string') throw new InputError(`no PEM block found: not a ${what}`);
    return input;
  }
  const full = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  for (const m of full.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \1-----/g)) {
    if (!labels.includes(m[1] as string)) continue;
    const b64 = (m[2] as string).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new InputError(`${m[1]} PEM block has invalid base64`);
    return Buffer.from(b64, 'base64');
  }
  throw new InputError(`no -----BEGIN ${labels[0]}----- block found: not a ${what}`);
}

export interface SignedEnvelope {
  /** The signed body (tbsCertificate, tbsCertList, certificationRequestInfo). */
  body: Node;
  sigAlg: Node;
  sig: Node;
  sigAlgOid: string;
}

/** SEQUENCE { body SEQUENCE, AlgorithmIdentifier, BIT STRING }: the shape every signed PKIX object shares. */
export function readSignedEnvelope(der: Uint8Array, what: string, bodyName: string): SignedEnvelope {
  const top = parse(der).expect(TAG.SEQUENCE, what);
  const body = readNode(der, top.valueStart, top.end).expect(TAG.SEQUENCE, bodyName);
  const sigAlg = readNode(der, body.end, top.end).expect(TAG.SEQUENCE, 'signatureAlgorithm');
  const sig = readNode(der, sigAlg.end, top.end).expect(TAG.BIT_STRING, 'signature');
  if (sig.end !== top.end) throw new DerError('trailing data after signature', sig.end);
  // More than 7 unused bits is not a BIT STRING at all (Go refuses to parse it too).
  bitStringBytes(sig);
  return { body, sigAlg, sig, sigAlgOid: decodeOid(sigAlg.child(0).expect(TAG.OID, 'signature algorithm')) };
}

/** Run a parser, turning DER damage into a one-line InputError. */
export function parseOrInputError<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) throw new InputError(`not a valid ${what}: ${e.message}`);
    throw e;
  }
}

/** Verify `signature` over `data`, where `algNode` is the AlgorithmIdentifier. Never throws. */
export function verifySigned(algOid: string, algNode: Node, data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  try {
    return verifySignature(algOid, algNode.children()[1], data, signature, key);
  } catch {
    return false;
  }
}

/** What certificates, CRLs and CSRs share: the envelope, its signature, the whole-object hash. */
export class SignedObject {
  readonly der: Uint8Array;
  readonly signatureAlgorithmOid: string;
  /** The signed body: tbsCertificate, tbsCertList or certificationRequestInfo. */
  protected readonly bodyNode: Node;
  protected readonly sigAlgNode: Node;
  protected readonly sigNode: Node;
  private _sha256?: string;
  private _encodingIssues?: string[];
  /** Set when the input used BER indefinite lengths: `der` is then the DER re-encoding of it. */
  private readonly berIssue?: string;

  constructor(input: Uint8Array, what: string, bodyName: string) {
    let der = input;
    let e: SignedEnvelope;
    try {
      e = readSignedEnvelope(der, what, bodyName);
    } catch (err) {
      // Indefinite lengths: read what a BER decoder would, and say it is not DER (encodingIssues).
      if (!(err instanceof DerError && err.message.startsWith('indefinite length'))) throw err;
      der = berToDer(input);
      e = readSignedEnvelope(der, what, bodyName);
      this.berIssue = `indefinite length at byte ${err.offset} (BER, not DER; shown re-encoded as DER)`;
    }
    this.der = der;
    this.bodyNode = e.body;
    this.sigAlgNode = e.sigAlg;
    this.sigNode = e.sig;
    this.signatureAlgorithmOid = e.sigAlgOid;
  }

  get signature(): Uint8Array {
    return bitStringBytes(this.sigNode);
  }
  /** `der` is the DER re-encoding of BER input, not the bytes given. */
  protected get reencoded(): boolean {
    return this.berIssue !== undefined;
  }

  get signatureAlgorithm(): string {
    return sigAlgName(this.signatureAlgorithmOid);
  }
  /**
   * Where the encoding is valid BER but not DER (non-minimal lengths or INTEGERs, indefinite lengths,
   * BOOLEANs other than 0xff, bad BIT STRING padding, explicitly encoded DEFAULT values). Go's parser,
   * hence every Kubernetes component, refuses such objects as malformed. Empty: strict DER.
   */
  get encodingIssues(): string[] {
    if (!this._encodingIssues) {
      const out = this.berIssue ? [this.berIssue] : [];
      derIssues(this.der, 0, this.der.length, out);
      this.moreEncodingIssues(out);
      this._encodingIssues = out;
    }
    return this._encodingIssues;
  }
  /** True when the object is strict DER (encodingIssues is empty). */
  get isDer(): boolean {
    return this.encodingIssues.length === 0;
  }
  /** `warnings` plus one "not DER: ..." line per encoding issue not already among them, for the JSON views. */
  protected warningsWithEncoding(warnings: readonly string[]): string[] {
    const extra = this.encodingIssues
      .filter((i) => !warnings.some((w) => w.startsWith(i.split(' (')[0] as string)))
      .map((i) => `not DER: ${i}`);
    return [...warnings, ...extra];
  }
  /** Subclasses add what the generic walk cannot see (DER inside OCTET STRINGs, DEFAULT values). */
  protected moreEncodingIssues(_out: string[]): void {}

  /** SHA-256 of the whole DER, lowercase hex. */
  get sha256(): string {
    this._sha256 ??= hash('sha256', this.der);
    return this._sha256;
  }
  /** Did `key` sign the body? False on any mismatch, including an algorithm that does not fit the key. */
  protected signedBy(key: KeyObject): boolean {
    // A signature is a whole number of octets: unused bits mean a damaged or crafted object (openssl:
    // ASN1_R_INVALID_BIT_STRING_BITS_LEFT). Never verified, whatever the remaining bytes say.
    if (bitStringUnused(this.sigNode) !== 0) return false;
    return verifySigned(this.signatureAlgorithmOid, this.sigAlgNode, this.bodyNode.raw, this.signature, key);
  }
}
