// Crafted inputs for the hostile-input suite: each one reproduces an attack or blow-up from issue 9.
// Built with the project's DER writer and Node's crypto; byte patches are located by parsing, not guessed.
import { createHmac, randomBytes } from 'node:crypto';
import { issueCertificate } from '../../src/x509/build.ts';
import { Certificate as Cert, type Certificate } from '../../src/x509/certificate.ts';
import { bitString, explicit, integer, NULL, octetString, oid, parse, readNode, seq, seqList, TAG, time, tlv } from '../../src/x509/der.ts';
import { generateKey, type KeyPair, signerFor } from '../../src/x509/keys.ts';
import { bmpPassword, pbes2Encrypt, pkcs12Kdf } from '../../src/x509/pbe.ts';

export interface Ca {
  cert: Certificate;
  kp: KeyPair;
}

export function makeCa(subject: string, parent?: Ca, extra: Partial<Parameters<typeof issueCertificate>[0]['profile']> = {}): Ca {
  const kp = generateKey('ecdsa-p256');
  const cert = issueCertificate({
    profile: { subject, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days: 30 }, ...extra },
    publicKey: kp.publicKey,
    ...(parent ? { issuer: { cert: parent.cert, key: parent.kp.privateKey } } : { signingKey: kp.privateKey }),
  });
  return { cert, kp };
}

export function makeLeaf(ca: Ca, subject: string, sans: { dns?: string[] } = {}): Certificate {
  const kp = generateKey('ecdsa-p256');
  return issueCertificate({
    profile: { subject, sans, extKeyUsage: ['serverAuth'], validity: { days: 10 } },
    publicKey: kp.publicKey,
    issuer: { cert: ca.cert, key: ca.kp.privateKey },
  });
}

/** Offset of the first TLV with this tag and exact contents (searched structurally, depth first). */
function findValue(buf: Uint8Array, tag: number, contents: Uint8Array, pos = 0, end = buf.length): number {
  while (pos < end) {
    const n = readNode(buf, pos, end);
    if (n.tag === tag && Buffer.from(n.value).equals(Buffer.from(contents))) return n.start;
    if (n.constructed) {
      const hit = findValue(buf, tag, contents, n.valueStart, n.end);
      if (hit >= 0) return hit;
    }
    pos = n.end;
  }
  return -1;
}

/** A CA-issued certificate whose subject CN is a UniversalString holding `codePoint` (not valid Unicode). */
export function universalStringCert(ca: Ca, codePoint: number): Uint8Array {
  const leaf = makeLeaf(ca, 'CN=ZZZZ,O=hostile');
  const der = Buffer.from(leaf.der);
  const at = findValue(der, TAG.PRINTABLE_STRING, Buffer.from('ZZZZ'));
  if (at < 0) throw new Error('CN not found');
  der[at] = TAG.UNIVERSAL_STRING;
  der.writeUInt32BE(codePoint, at + 2);
  return der;
}

/** The certificate with its signature BIT STRING's unused-bits octet set to `unused`. */
export function withSignatureUnusedBits(cert: Certificate, unused: number): Uint8Array {
  const der = Buffer.from(cert.der);
  const top = parse(der);
  const tbs = top.child(0);
  const sig = top.after(top.after(tbs));
  der[sig.valueStart] = unused;
  return der;
}

/** `n` blocks of an unknown PEM label with no contents: the quadratic line count of old. */
export function tinyPemBlocks(n: number): Buffer {
  return Buffer.from('-----BEGIN X-----\n-----END X-----\n'.repeat(n), 'latin1');
}

/** A CRL whose cRLNumber extension is an INTEGER of `octets` bytes. */
export function hugeCrlNumber(ca: Ca, octets: number): Uint8Array {
  // Built by hand: the writer rightly refuses a cRLNumber above 2^159.
  const signer = signerFor(ca.kp.privateKey);
  const now = Date.now();
  const crlNumber = seq(oid('2.5.29.20'), octetString(tlv(TAG.INTEGER, Buffer.alloc(octets, 0x5a))));
  const tbs = seq(
    integer(1),
    signer.algorithmId,
    ca.cert.subjectRaw,
    time(new Date(now - 60000)),
    time(new Date(now + 86400000)),
    explicit(0, seq(crlNumber)),
  );
  return seq(tbs, signer.algorithmId, bitString(signer.sign(tbs)));
}

/** A CA-signed certificate whose RSA public key has a modulus of `bytes` bytes. */
export function hugeRsaCert(ca: Ca, bytes: number): Uint8Array {
  const n = randomBytes(bytes);
  n[0] = (n[0] as number) | 0x40;
  n[0] = (n[0] as number) & 0x7f;
  n[bytes - 1] = (n[bytes - 1] as number) | 1;
  const rsaKey = seq(tlv(TAG.INTEGER, n), integer(65537));
  const spki = seq(seq(oid('1.2.840.113549.1.1.1'), NULL), tlv(TAG.BIT_STRING, Uint8Array.of(0), rsaKey));
  return issueCertificate({
    profile: { subject: 'CN=huge-rsa', validity: { days: 10 } },
    publicKey: spki,
    issuer: { cert: ca.cert, key: ca.kp.privateKey },
  }).der;
}

/** PEM of an encrypted PKCS#8 key (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) at `iterations`. */
export function encryptedKeyPem(kp: KeyPair, password: string, iterations: number): string {
  const plain = kp.privateKey.export({ type: 'pkcs8', format: 'der' });
  return pemOf(
    'ENCRYPTED PRIVATE KEY',
    (() => {
      const enc = pbes2Encrypt(password, plain, iterations);
      return seq(enc.algorithmId, octetString(enc.data));
    })(),
  );
}

/** An EncryptedPrivateKeyInfo that claims `iterations` (no real encryption: a reader must refuse first). */
export function claimedIterationsKeyPem(iterations: number): string {
  const kdf = seq(
    oid('1.2.840.113549.1.5.12'),
    seq(octetString(randomBytes(16)), integer(iterations), seq(oid('1.2.840.113549.2.9'), NULL)),
  );
  const alg = seq(oid('1.2.840.113549.1.5.13'), seq(kdf, seq(oid('2.16.840.1.101.3.4.1.42'), octetString(randomBytes(16)))));
  return pemOf('ENCRYPTED PRIVATE KEY', seq(alg, octetString(randomBytes(48))));
}

export function pemOf(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** A PKCS#12 file (MAC at 1 iteration) holding `bags` shrouded key bags, each PBES2 at `iterations`. */
export function manyBagPkcs12(kp: KeyPair, password: string, bags: number, iterations: number): Uint8Array {
  const plain = kp.privateKey.export({ type: 'pkcs8', format: 'der' });
  const list: Uint8Array[] = [];
  for (let i = 0; i < bags; i++) {
    const enc = pbes2Encrypt(password, plain, iterations);
    list.push(seq(oid('1.2.840.113549.1.12.10.1.2'), explicit(0, seq(enc.algorithmId, octetString(enc.data)))));
  }
  const safeContents = seqList(list);
  const dataOid = '1.2.840.113549.1.7.1';
  const authSafe = seq(seq(oid(dataOid), explicit(0, octetString(safeContents))));
  const salt = randomBytes(8);
  const key = pkcs12Kdf('sha256', bmpPassword(password), salt, 3, 1, 32);
  const mac = createHmac('sha256', key).update(authSafe).digest();
  const macData = seq(seq(seq(oid('2.16.840.1.101.3.4.2.1'), NULL), octetString(mac)), octetString(salt), integer(1));
  return seq(integer(3), seq(oid(dataOid), explicit(0, octetString(authSafe))), macData);
}

/** Decoys: same subject and SKI as `real`, another key, signed by `root`. */
export function decoys(root: Ca, real: Certificate, n: number): Certificate[] {
  const out: Certificate[] = [];
  for (let i = 0; i < n; i++) {
    const kp = generateKey('ecdsa-p256');
    out.push(
      issueCertificate({
        profile: {
          subject: real.subjectRdns,
          ca: true,
          keyUsage: ['keyCertSign'],
          validity: { days: 30 },
          subjectKeyId: false,
          extraExtensions: [{ oid: '2.5.29.14', critical: false, value: octetString(Buffer.from(real.subjectKeyId as string, 'hex')) }],
        },
        publicKey: kp.publicKey,
        issuer: { cert: root.cert, key: root.kp.privateKey },
      }),
    );
  }
  return out;
}

export const pem = (c: Certificate | Uint8Array): string => (c instanceof Cert ? c.toPem() : new Cert(c).toPem());

/** A certificate carrying `n` copies of one (unknown, non-critical) extension. */
export function duplicateExtensionsCert(ca: Ca, n: number): Uint8Array {
  const kp = generateKey('ecdsa-p256');
  const ext = { oid: '1.3.6.1.4.1.99999.1', critical: false, value: new Uint8Array(0) };
  return issueCertificate({
    profile: { subject: 'CN=dup-ext', validity: { days: 5 }, extraExtensions: Array.from({ length: n }, () => ext) },
    publicKey: kp.publicKey,
    issuer: { cert: ca.cert, key: ca.kp.privateKey },
  }).der;
}

/** A CRL listing one serial `n` times, built by hand (the writer would refuse). */
export function duplicateEntriesCrl(ca: Ca, n: number): Uint8Array {
  const signer = signerFor(ca.kp.privateKey);
  const now = Date.now();
  const entry = seq(integer(5), time(new Date(now - 60000)));
  const tbs = seq(
    integer(1),
    signer.algorithmId,
    ca.cert.subjectRaw,
    time(new Date(now - 60000)),
    time(new Date(now + 86400000)),
    seqList(Array.from({ length: n }, () => entry)),
  );
  return seq(tbs, signer.algorithmId, bitString(signer.sign(tbs)));
}
