// A TLV tree for building malformed and mutated PKIX objects in tests: decode DER into nodes, change
// them, re-encode (optionally with BER forms DER forbids), and re-sign a TBS with any algorithm.
import { createHash, type KeyObject, privateEncrypt, randomBytes, sign } from 'node:crypto';
import { readNode } from '../../src/x509/der.ts';

export interface Tlv {
  tag: number;
  /** Constructed nodes: the children. */
  kids?: Tlv[];
  /** Primitive nodes: the contents. */
  value?: Uint8Array;
  /** Encode the length with this many extra leading zero bytes (non-minimal: BER, not DER). */
  padLength?: number;
  /** Encode with the indefinite length form (constructed nodes only). */
  indefinite?: boolean;
  /** Exact bytes to emit instead (a node encoded elsewhere, kept byte for byte). */
  raw?: Uint8Array;
}

export function decodeTree(buf: Uint8Array, pos = 0, limit = buf.length): Tlv {
  const n = readNode(buf, pos, limit);
  if (n.tag & 0x20) {
    const kids: Tlv[] = [];
    for (let p = n.valueStart; p < n.end; ) {
      const k = decodeTree(buf, p, n.end);
      kids.push(k);
      p = readNode(buf, p, n.end).end;
    }
    return { tag: n.tag, kids };
  }
  return { tag: n.tag, value: n.value.slice() };
}

function lengthBytes(len: number, pad = 0): number[] {
  if (len < 0x80 && pad === 0) return [len];
  const b: number[] = [];
  for (let x = len; x > 0; x = Math.floor(x / 256)) b.unshift(x & 0xff);
  for (let i = 0; i < pad; i++) b.unshift(0);
  if (b.length === 0) b.push(0);
  return [0x80 | b.length, ...b];
}

export function encodeTree(t: Tlv): Uint8Array {
  if (t.raw) return t.raw;
  const body = t.kids ? Buffer.concat(t.kids.map(encodeTree)) : Buffer.from(t.value ?? []);
  if (t.indefinite) return Buffer.concat([Buffer.from([t.tag, 0x80]), body, Buffer.from([0, 0])]);
  return Buffer.concat([Buffer.from([t.tag, ...lengthBytes(body.length, t.padLength ?? 0)]), body]);
}

export const prim = (tag: number, value: Uint8Array | number[]): Tlv => ({ tag, value: Uint8Array.from(value) });
export const cons = (tag: number, ...kids: Tlv[]): Tlv => ({ tag, kids });
export const clone = (t: Tlv): Tlv => structuredClone(t);

/** OID contents octets for a dotted string. */
export function oidBytes(dotted: string): number[] {
  const p = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (x: number): void => {
    const tmp = [x & 0x7f];
    for (x = Math.floor(x / 128); x > 0; x = Math.floor(x / 128)) tmp.unshift((x & 0x7f) | 0x80);
    out.push(...tmp);
  };
  push((p[0] as number) * 40 + (p[1] as number));
  for (const x of p.slice(2)) push(x);
  return out;
}
export const oidTlv = (dotted: string): Tlv => prim(0x06, oidBytes(dotted));
const NULL_TLV = (): Tlv => prim(0x05, []);

export type SigAlg =
  | 'ecdsa-sha256'
  | 'ecdsa-sha384'
  | 'ecdsa-sha1'
  | 'rsa-sha256'
  | 'rsa-sha1'
  | 'rsa-md5'
  | 'rsa-sha256-no-null'
  | 'ed25519'
  | {
      pss: {
        hash: 'sha256' | 'sha384' | 'sha512' | 'sha1';
        mgf1Hash: 'sha256' | 'sha384' | 'sha512' | 'sha1';
        saltLength: number;
        trailer?: number;
      };
    };

const HASH_OID = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

/** The AlgorithmIdentifier and the node:crypto call for a signature algorithm. */
export function sigAlg(a: SigAlg): { id: Tlv; hash: string; pss?: number; mgf1?: string } {
  if (typeof a === 'object') {
    const { hash, mgf1Hash, saltLength, trailer } = a.pss;
    const kids: Tlv[] = [];
    // RFC 4055: the SHA-1 defaults are omitted; the hash AlgorithmIdentifier carries a NULL, as Go writes it.
    if (hash !== 'sha1') kids.push(cons(0xa0, cons(0x30, oidTlv(HASH_OID[hash]), NULL_TLV())));
    if (mgf1Hash !== 'sha1')
      kids.push(cons(0xa1, cons(0x30, oidTlv('1.2.840.113549.1.1.8'), cons(0x30, oidTlv(HASH_OID[mgf1Hash]), NULL_TLV()))));
    if (saltLength !== 20) kids.push(cons(0xa2, prim(0x02, saltLength < 128 ? [saltLength] : [0, saltLength])));
    if (trailer !== undefined) kids.push(cons(0xa3, prim(0x02, [trailer])));
    return { id: cons(0x30, oidTlv('1.2.840.113549.1.1.10'), cons(0x30, ...kids)), hash, pss: saltLength, mgf1: mgf1Hash };
  }
  switch (a) {
    case 'ed25519':
      return { id: cons(0x30, oidTlv('1.3.101.112')), hash: '' };
    case 'ecdsa-sha256':
      return { id: cons(0x30, oidTlv('1.2.840.10045.4.3.2')), hash: 'sha256' };
    case 'ecdsa-sha384':
      return { id: cons(0x30, oidTlv('1.2.840.10045.4.3.3')), hash: 'sha384' };
    case 'ecdsa-sha1':
      return { id: cons(0x30, oidTlv('1.2.840.10045.4.1')), hash: 'sha1' };
    case 'rsa-sha256':
      return { id: cons(0x30, oidTlv('1.2.840.113549.1.1.11'), NULL_TLV()), hash: 'sha256' };
    case 'rsa-sha256-no-null':
      return { id: cons(0x30, oidTlv('1.2.840.113549.1.1.11')), hash: 'sha256' };
    case 'rsa-sha1':
      return { id: cons(0x30, oidTlv('1.2.840.113549.1.1.5'), NULL_TLV()), hash: 'sha1' };
    case 'rsa-md5':
      return { id: cons(0x30, oidTlv('1.2.840.113549.1.1.4'), NULL_TLV()), hash: 'md5' };
  }
}

/**
 * A certificate from a TBS tree: sets the TBS signature field to the algorithm, signs with `key` and
 * assembles the outer SEQUENCE. `outer` lets a test give the outer SEQUENCE a BER length.
 */
export function signTbs(tbs: Tlv, alg: SigAlg, key: KeyObject, outer: Partial<Tlv> = {}): Uint8Array {
  const { id, hash, pss, mgf1 } = sigAlg(alg);
  const kids = tbs.kids as Tlv[];
  const sigIdx = kids[0]?.tag === 0xa0 ? 2 : 1;
  kids[sigIdx] = clone(id);
  const tbsDer = encodeTree(tbs);
  const sig = pss === undefined ? sign(hash === '' ? null : hash, tbsDer, key) : signPss(key, hash, mgf1 ?? hash, pss, tbsDer);
  return encodeTree({ ...outer, tag: 0x30, kids: [{ tag: 0x30, raw: tbsDer }, clone(id), prim(0x03, [0, ...sig])] });
}

/** The TBS tree of a certificate. */
export const tbsOf = (certDer: Uint8Array): Tlv => (decodeTree(certDer).kids as Tlv[])[0] as Tlv;

/**
 * RSASSA-PSS signing by hand (RFC 8017 9.1.1, EMSA-PSS-ENCODE + raw RSA), so a test can use an MGF1
 * hash other than the message hash, which Node's sign cannot. Checked by openssl and Go, not by us.
 */
function signPss(key: KeyObject, hash: string, mgf1Hash: string, sLen: number, data: Uint8Array): Uint8Array {
  const modBits = key.asymmetricKeyDetails?.modulusLength as number;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const mHash = createHash(hash).update(data).digest();
  const hLen = mHash.length;
  const salt = randomBytes(sLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - sLen - hLen - 2), Buffer.from([1]), salt]);
  const mask = Buffer.alloc(db.length);
  for (let counter = 0, off = 0; off < mask.length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(mgf1Hash).update(h).update(c).digest();
    block.copy(mask, off, 0, Math.min(block.length, mask.length - off));
    off += block.length;
  }
  const masked = Buffer.from(db.map((b, i) => b ^ (mask[i] as number)));
  masked[0] = (masked[0] as number) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([masked, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  return privateEncrypt({ key, padding: 3 /* RSA_NO_PADDING */ }, Buffer.concat([Buffer.alloc(k - em.length), em]));
}
