// Turn a plan into key material: keep what is valid, issue what is missing or wrong. Pure apart from
// key generation (Node's crypto); RSA keys are generated on libuv's thread pool, so they use every core.
import type { KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from '../x509/build.ts';
import type { Certificate } from '../x509/certificate.ts';
import { generateKey, generateKeyAsync, type KeyPair, type KeyType, keyMatchesSpki, keyTypeFromInfo } from '../x509/keys.ts';
import { nameGetAll } from '../x509/name.ts';
import { ekuOid, OID } from '../x509/oids.ts';
import { lockedKeyError, usableKey } from './key-protection.ts';
import type { Plan, PlannedCert } from './plan.ts';

export interface Material {
  cert: Certificate;
  /** Absent for external CAs, and for a key this run cannot use (`locked`). */
  key?: KeyObject;
  /** The key exists but this run cannot use it: encrypted and no passphrase given, or moved out of the store. */
  locked?: KeyLock;
  /** The key file as read from the store: an encrypted one is written back unchanged while its key is. */
  stored?: string;
  /** Brought for this run only (--root-key): never written to the store. */
  transient?: boolean;
}

export interface KeyLock {
  /** The store file (for an encrypted key). */
  file: string;
  reason: 'encrypted' | 'removed';
}
export type MaterialMap = Map<string, Material>;

export interface Decision {
  id: string;
  action: 'kept' | 'issued' | 'reissued' | 'external';
  reason?: string;
}

/** Why an existing certificate no longer fits its plan entry, or null when it fits. */
export function misfit(p: PlannedCert, m: Material, signer: Material | undefined, now: Date): string | null {
  const c = m.cert;
  if (!m.key && !m.locked && !p.external) return 'private key missing';
  if (m.key && !keyMatchesSpki(m.key, c.spki)) return 'private key does not match the certificate';
  if (now >= c.notAfter) return 'expired';
  if (c.commonName !== p.cn) return `CN is ${c.commonName ?? '(none)'}, want ${p.cn}`;
  const o = nameGetAll(c.subjectRdns, OID.O);
  if (o.join(',') !== p.o.join(',')) return `O is [${o.join(', ')}], want [${p.o.join(', ')}]`;
  if (c.isCA !== p.ca) return p.ca ? 'not a CA certificate' : 'unexpectedly a CA certificate';
  const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));
  if (!same(c.sans.dns, p.sans.dns) || !same(c.sans.ip, p.sans.ip)) return 'SANs differ from the plan';
  const eku = (c.extKeyUsage ?? []).map((e) => ekuOid(e) ?? e);
  if (
    !same(
      eku,
      p.extKeyUsage.map((e) => ekuOid(e) as string),
    )
  )
    return 'extended key usage differs from the plan';
  if (signer) {
    if (!Buffer.from(c.issuerRaw).equals(Buffer.from(signer.cert.subjectRaw)) || !c.verifiedBy(signer.cert.publicKey))
      return `not signed by the current ${p.signer}`;
  } else if (!p.external && !c.selfSigned) return 'not self-signed';
  return null;
}

export interface MaterializeOptions {
  now?: Date;
  /** Re-issue everything (except external CAs). */
  force?: boolean;
  /** Re-issue these ids even when valid (renew). */
  reissue?: ReadonlySet<string>;
  /** Keep the subject/SANs/usages of the existing certificate when re-issuing (kubeadm renew semantics). */
  keepExistingProfile?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Generate every key needed, in parallel for RSA. */
async function keysFor(types: KeyType[]): Promise<KeyPair[]> {
  if (!types.some((t) => t.startsWith('rsa'))) return types.map(generateKey);
  return Promise.all(types.map(generateKeyAsync));
}

export async function materialize(
  plan: Plan,
  existing: MaterialMap,
  opts: MaterializeOptions = {},
): Promise<{ material: MaterialMap; decisions: Decision[] }> {
  const now = opts.now ?? new Date();
  const out: MaterialMap = new Map();
  const decisions: Decision[] = [];
  // Decide first (CAs before leaves, so a re-issued CA drags its leaves along), then generate keys in one batch per level.
  const byId = new Map(plan.certs.map((p) => [p.id, p]));
  const levels: PlannedCert[][] = [];
  const depth = (p: PlannedCert): number => (p.signer ? depth(byId.get(p.signer) as PlannedCert) + 1 : 0);
  for (const p of plan.certs) {
    const d = depth(p);
    const level = levels[d] ?? [];
    level.push(p);
    levels[d] = level;
  }
  const total = plan.certs.length;
  let done = 0;
  for (const level of levels) {
    const toIssue: { p: PlannedCert; reason: string; action: 'issued' | 'reissued' }[] = [];
    for (const p of level) {
      const have = existing.get(p.id);
      const signer = p.signer ? out.get(p.signer) : undefined;
      if (p.external && p.ca) {
        if (!have) throw new InputError(`${p.id}: externally managed, but its certificate was not provided`);
        out.set(p.id, have);
        decisions.push({ id: p.id, action: 'external' });
        continue;
      }
      if (p.signer && !signer?.key && !signer?.locked) {
        // Signed by an external CA: keep what the operator placed, if anything.
        if (have) out.set(p.id, have);
        decisions.push({ id: p.id, action: 'external', reason: `signed by external ${p.signer}` });
        continue;
      }
      const why = have ? (opts.force ? 'forced' : opts.reissue?.has(p.id) ? 'renewal' : misfit(p, have, signer, now)) : 'missing';
      // A CA in place is never replaced behind the operator's back: that would cut every node off its trust.
      if (have && why && p.ca && !opts.force && !opts.reissue?.has(p.id))
        throw new InputError(
          `${p.id}: the existing CA no longer fits the config (${why}); Anchorage never replaces a CA in place: rotate it with 'anchorage pki rotate-ca ${p.id}', or re-issue everything with --force`,
        );
      // A key this run cannot use is never replaced unseen (an offline root re-made by --force is new trust).
      if (have?.locked && why) throw lockedKeyError(p.id, have.locked, `to re-issue it (${why})`);
      if (!why && have) {
        out.set(p.id, have);
        decisions.push({ id: p.id, action: 'kept' });
      } else toIssue.push({ p, reason: why ?? 'missing', action: have ? 'reissued' : 'issued' });
    }
    // Renewal keeps each certificate's key type (kubeadm renew; an adopted cluster may mix them).
    const keyTypeFor = (p: PlannedCert): KeyType => {
      const have = existing.get(p.id);
      return opts.keepExistingProfile && have && !opts.force ? (keyTypeFromInfo(have.cert.keyInfo) ?? p.keyType) : p.keyType;
    };
    const pairs = await keysFor(toIssue.map((t) => keyTypeFor(t.p)));
    toIssue.forEach(({ p, reason, action }, i) => {
      const kp = pairs[i] as KeyPair;
      const signer = p.signer ? out.get(p.signer) : undefined;
      const have = existing.get(p.id);
      const keep = opts.keepExistingProfile && have && !opts.force;
      const profile = {
        subject: keep
          ? have.cert.subjectRdns
          : p.o.length
            ? `CN=${escapeDn(p.cn)},${p.o.map((o) => `O=${escapeDn(o)}`).join('+')}`
            : `CN=${escapeDn(p.cn)}`,
        sans: keep ? { dns: have.cert.sans.dns, ip: have.cert.sans.ip } : p.sans,
        keyUsage: p.keyUsage,
        extKeyUsage: keep ? (have.cert.extKeyUsage ?? []) : p.extKeyUsage,
        ca: p.ca,
        ...(p.pathLen !== undefined ? { pathLen: p.pathLen } : {}),
        validity: { notAfter: new Date(now.getTime() + p.validitySeconds * 1000) },
      };
      const cert = signer
        ? issueCertificate({
            profile,
            publicKey: kp.publicKey,
            issuer: { cert: signer.cert, key: usableKey(p.signer as string, signer, `to sign ${p.id}`) },
            now,
          })
        : issueCertificate({ profile, publicKey: kp.publicKey, signingKey: kp.privateKey, now });
      out.set(p.id, { cert, key: kp.privateKey });
      decisions.push({ id: p.id, action, reason });
    });
    done += level.length;
    opts.onProgress?.(done, total);
  }
  return { material: out, decisions };
}

/** Go (so kubeadm) encodes all O values as one multi-valued RDN before CN; RFC 4514 order reverses that: CN=x,O=a+O=b. */
function escapeDn(v: string): string {
  return v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
}
