// Certificates the webhook makes, on the X.509 toolkit: its serving CA and serving leaves, and pod identities.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from '../x509/build.ts';
import { Certificate } from '../x509/certificate.ts';
import { generateKey, type KeyType, loadPrivateKey } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';

export interface KeyedCert {
  cert: Certificate;
  key: KeyObject;
}

/** Every CERTIFICATE block of a PEM text (at most `max`). */
export function certsFromPem(text: string, max = 64): Certificate[] {
  const blocks = scanPem(text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length > max) throw new InputError(`too large: ${blocks.length} certificates (at most ${max})`);
  return blocks.map((b) => new Certificate(b.der));
}

export const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

export function loadKeyPem(text: string): KeyObject {
  return loadPrivateKey(text);
}

/** A self-signed CA (pathLen 0) valid for `seconds`. */
export function newCa(commonName: string, seconds: number, keyType: KeyType = 'ecdsa-p256', now = new Date()): KeyedCert {
  const kp = generateKey(keyType);
  const cert = issueCertificate({
    profile: {
      subject: `CN=${commonName}`,
      ca: true,
      pathLen: 0,
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      validity: { notAfter: new Date(now.getTime() + seconds * 1000), backdateSeconds: 300 },
    },
    publicKey: kp.publicKey,
    signingKey: kp.privateKey,
    now,
  });
  return { cert, key: kp.privateKey };
}

export interface LeafRequest {
  commonName: string;
  dns?: string[];
  ip?: string[];
  uri?: string[];
  eku: ('serverAuth' | 'clientAuth')[];
  seconds: number;
  keyType?: KeyType;
  /** The subject's public key; a new key pair is made when absent. */
  publicKey?: KeyObject | Uint8Array;
  /** Seconds notBefore is moved back for clock skew (default: 1/20 of the lifetime, at most 60). */
  backdateSeconds?: number;
  now?: Date;
}

export function issueLeaf(ca: KeyedCert, r: LeafRequest): { cert: Certificate; key?: KeyObject } {
  const now = r.now ?? new Date();
  let key: KeyObject | undefined;
  let pub = r.publicKey;
  const keyType = r.keyType ?? 'ecdsa-p256';
  if (!pub) {
    const kp = generateKey(keyType);
    key = kp.privateKey;
    pub = kp.publicKey;
  }
  const rsa = keyType.startsWith('rsa') && !r.publicKey;
  // Never outlive the issuer.
  const wanted = new Date(now.getTime() + r.seconds * 1000);
  const notAfter = wanted > ca.cert.notAfter ? ca.cert.notAfter : wanted;
  const cert = issueCertificate({
    profile: {
      subject: `CN=${r.commonName.replace(/[\\,+="<>;#]/g, (c) => `\\${c}`)}`,
      sans: { dns: r.dns ?? [], ip: r.ip ?? [], uri: r.uri ?? [] },
      keyUsage: rsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
      extKeyUsage: r.eku,
      // A small backdate (clock skew), never a large share of a short lifetime.
      validity: { notAfter, backdateSeconds: r.backdateSeconds ?? Math.min(60, Math.floor(r.seconds / 20)) },
    },
    publicKey: pub,
    issuer: ca,
    now,
  });
  return key ? { cert, key } : { cert };
}

/** True once `now` is past `fraction` of the certificate's lifetime. */
export function pastFraction(c: Certificate, fraction: number, now = Date.now()): boolean {
  return now >= renewAt(c, fraction);
}

export function renewAt(c: Certificate, fraction: number): number {
  const nb = c.notBefore.getTime();
  return nb + (c.notAfter.getTime() - nb) * fraction;
}
