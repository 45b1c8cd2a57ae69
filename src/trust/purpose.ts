// Purposes and extended key usage. The rule for CAs follows Go and openssl: a CA's EKU, when present,
// restricts every certificate below it, so it must include the purpose (or anyExtendedKeyUsage).

import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import { ekuName, ekuOid, OID } from '../x509/oids.ts';

/** 'any' checks no EKU; otherwise the purpose is an EKU OID. */
export interface Purpose {
  oid: string | null;
  /** serverAuth, clientAuth, or the OID: for messages. */
  name: string;
}

export function parsePurpose(p: string | undefined): Purpose {
  if (p === undefined || p === 'any') return { oid: null, name: 'any' };
  const oid = ekuOid(p);
  if (!oid) throw new InputError(`unknown purpose '${p}' (expected server, client, any or an OID)`);
  if (oid === OID.anyExtendedKeyUsage) return { oid: null, name: 'any' };
  return { oid, name: ekuName(oid) };
}

const ANY = ekuName(OID.anyExtendedKeyUsage);

/** The EKU list if it does not allow the purpose, else undefined. Absent EKU allows everything. */
export function ekuRejects(c: Certificate, purpose: Purpose): string[] | undefined {
  if (purpose.oid === null) return undefined;
  const eku = c.extKeyUsage;
  if (eku === undefined) return undefined;
  if (eku.includes(purpose.name) || eku.includes(ANY)) return undefined;
  return eku;
}

// The keyUsage bits TLS needs from a leaf (openssl's check_purpose_ssl_server/_client, RFC 5246 7.4.2).
const TLS_KU: Record<string, readonly string[]> = {
  [OID.serverAuth]: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
  [OID.clientAuth]: ['digitalSignature', 'keyAgreement'],
};

/** For TLS purposes: the leaf's keyUsage if it has none of the bits the handshake needs. */
export function keyUsageRejects(leaf: Certificate, purpose: Purpose): { has: string[]; needs: readonly string[] } | undefined {
  if (purpose.oid === null) return undefined;
  const needs = TLS_KU[purpose.oid];
  const ku = leaf.keyUsage;
  if (!needs || ku === undefined) return undefined;
  return ku.some((k) => needs.includes(k)) ? undefined : { has: ku, needs };
}
