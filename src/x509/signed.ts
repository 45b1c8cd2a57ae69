// Helpers shared by the signed PKIX objects that are not certificates (CSRs, CRLs).
import type { KeyObject } from 'node:crypto';
import { DerError, type Node } from './der.ts';
import { InputError } from './errors.ts';
import { verifySignature } from './keys.ts';
import { OID } from './oids.ts';

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

/** Run a parser, turning DER damage into a one-line InputError. */
export function parseOrInputError<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) throw new InputError(`not a valid ${what}: ${e.message}`);
    throw e;
  }
}

// An RSA signature "labelled" ECDSA would still verify under Node's crypto: the OID must agree with the key.
function keyTypesFor(sigAlgOid: string): readonly string[] {
  switch (sigAlgOid) {
    case OID.md5WithRSA:
    case OID.sha1WithRSA:
    case OID.sha256WithRSA:
    case OID.sha384WithRSA:
    case OID.sha512WithRSA:
      return ['rsa'];
    case OID.rsassaPss:
      return ['rsa', 'rsa-pss'];
    case OID.ecdsaWithSHA1:
    case OID.ecdsaWithSHA256:
    case OID.ecdsaWithSHA384:
    case OID.ecdsaWithSHA512:
      return ['ec'];
    case OID.ed25519:
      return ['ed25519'];
    case OID.ed448:
      return ['ed448'];
    default:
      return [];
  }
}

/** Verify `signature` over `data`, where `algNode` is the AlgorithmIdentifier. Never throws. */
export function verifySigned(algOid: string, algNode: Node, data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  try {
    if (!keyTypesFor(algOid).includes(key.asymmetricKeyType ?? '')) return false;
    return verifySignature(algOid, algNode.children()[1], data, signature, key);
  } catch {
    return false;
  }
}
