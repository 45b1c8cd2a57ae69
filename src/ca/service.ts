// The internal CA service: trust zones (a CA per service, optionally under an offline root or another
// CA), issuance under each CA's policy, bootstrap tokens, renewal by the holder's certificate,
// revocation, CRLs, OCSP, and the transparency log. State lives in the store; CA keys are sealed under
// the key-encryption key, or held on a PKCS#11 token (pkcs11.ts). Every issuance, renewal, revocation and refusal is appended to the log and
// the audit table in the same transaction as what it records, before the caller sees the answer.
import { createHash, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { type Store, StoreUnavailableError, type Tx, UniqueViolation } from '../store/store.ts';
import { type CertProfile, issueCertificate, issueCertificateAsync, randomSerial } from '../x509/build.ts';
import { Certificate } from '../x509/certificate.ts';
import { createCrl, createCrlAsync } from '../x509/crl.ts';
import { type Csr, parseCsr } from '../x509/csr.ts';
import { DerError } from '../x509/der.ts';
import {
  type ExternalKey,
  generateKey,
  isExternalKey,
  KEY_TYPES,
  type KeyPair,
  type KeyType,
  keyMatchesSpki,
  keyTypeFromInfo,
  type SigningKey,
  signingKeyMatchesSpki,
} from '../x509/keys.ts';
import type { KeyUsage } from '../x509/oids.ts';
import { CRL_REASONS, type CrlReason } from '../x509/oids.ts';
import { scanPem } from '../x509/pem.ts';
import { openKey, sealKey } from './kek.ts';
import { leafHash, rootOf, signTreeHead, type TreeHead } from './merkle.ts';
import { certIdMatches, type OcspAnswer, ocspError, ocspResponse, ocspResponseAsync, parseOcspRequest } from './ocsp.ts';
import { formatPkcs11Uri, isPkcs11Ref, Pkcs11Keys, type Pkcs11Options, parsePkcs11Uri } from './pkcs11.ts';
import { type CaPolicy, PROFILES, type Profile, parsePolicy, policyViolations } from './policy.ts';
import { CA_MIGRATIONS } from './schema.ts';

/** A refused request: the reason, and the HTTP status the API answers with. */
export class CaRefusal extends InputError {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'CaRefusal';
    this.status = status;
  }
}

export type Identity = string; // DNS:x, IP:x, URI:x, EMAIL:x

export interface LogEntry {
  type: 'ca' | 'issue' | 'renew' | 'revoke' | 'refuse' | 'prune';
  at: string;
  ca: string | null;
  requester: string;
  serial?: string;
  sha256?: string;
  subject?: string;
  names?: Identity[];
  notAfter?: string;
  reason?: string;
}

export interface CaRow {
  name: string;
  parent: string | null;
  key_type: string;
  chain_pem: string;
  key_sealed: string;
  policy: string;
  public_url: string | null;
  crl_number: number;
  created_at: string;
  /** The issuing generation (ca_generations). */
  generation: number;
}

export type GenerationState = 'next' | 'active' | 'previous' | 'retired';

export interface GenerationRow {
  ca: string;
  gen: number;
  chain_pem: string;
  key_sealed: string | null;
  state: GenerationState;
  created_at: string;
  changed_at: string;
  crl_number: number;
}

export interface GenerationInfo {
  gen: number;
  state: GenerationState;
  subject: string;
  keyType: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
  createdAt: string;
  changedAt: string;
  chain: Certificate[];
}

export interface RotateRequest {
  name: string;
  keyType?: KeyType;
  days?: number;
  /** The offline issuer of a CA made under one (its key signs the new generation once). */
  offlineIssuer?: { chain: Certificate[]; key: KeyObject };
  requester: string;
}

export interface CaInfo {
  name: string;
  parent: string | null;
  keyType: string;
  subject: string;
  notAfter: string;
  /** The CA certificate, then its issuers up to and including the root. */
  chain: Certificate[];
  policy: CaPolicy;
  publicUrl: string | null;
  /** The issuing generation (1 until the CA is rotated). */
  generation: number;
}

export interface CreateCaRequest {
  name: string;
  keyType?: KeyType;
  subject?: string;
  days?: number;
  /** Another CA in this store as issuer. */
  parent?: string;
  /** An offline root (or intermediate) held in files: it signs this CA once; its key is not kept. */
  offlineIssuer?: { chain: Certificate[]; key: KeyObject };
  /** Make the CA's key on a PKCS#11 token: `pkcs11:token=…;object=…` (RFC 7512); else it is sealed under the KEK. */
  keyStore?: string;
  policy?: unknown;
  /** Base URL of `ca serve --public-listen`: issued certificates carry its CRL and OCSP addresses. */
  publicUrl?: string;
  requester: string;
}

export interface IssueRequest {
  ca: string;
  csr: string | Uint8Array;
  profile?: Profile;
  days?: number;
  requester: string;
  /** A one-time bootstrap token (first enrolment over the API). */
  token?: string;
  /** Renewal: the holder's current certificate, already authenticated by the caller (mTLS). */
  renewing?: Certificate;
  /** Identities the requester proved control of (ACME challenges): the request must name exactly these. */
  proven?: Identity[];
}

export interface Issued {
  certificate: Certificate;
  /** The CA certificate and its issuers, root last. */
  chain: Certificate[];
  serial: string;
  logIndex: number;
}

export interface RevokeRequest {
  ca: string;
  serial?: string;
  identity?: Identity;
  reason?: CrlReason;
  requester: string;
}

export const CA_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const TOKEN_PREFIX = 'atk_';
/** Largest CSR the service reads. */
export const MAX_CSR_BYTES = 64 * 1024;
export const MAX_TOKEN_TTL_S = 30 * 86400;

export const identitiesOf = (s: { dns: string[]; ip: string[]; uri: string[]; email: string[] }): Identity[] => [
  ...s.dns.map((d) => `DNS:${d.toLowerCase()}`),
  ...s.ip.map((i) => `IP:${i}`),
  ...s.uri.map((u) => `URI:${u}`),
  ...s.email.map((e) => `EMAIL:${e.toLowerCase()}`),
];

export function parseIdentity(s: string): Identity {
  const m = /^(DNS|IP|URI|EMAIL):(.+)$/i.exec(s.trim());
  if (!m) throw new InputError(`identity '${s}' must be DNS:name, IP:address, URI:uri or EMAIL:address`);
  const kind = (m[1] as string).toUpperCase();
  const v = m[2] as string;
  return `${kind}:${kind === 'DNS' || kind === 'EMAIL' ? v.toLowerCase() : v}`;
}

function usages(profile: Profile, rsa: boolean): { keyUsage: KeyUsage[]; extKeyUsage: string[] } {
  const keyUsage: KeyUsage[] = rsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  const extKeyUsage = profile === 'server' ? ['serverAuth'] : profile === 'client' ? ['clientAuth'] : ['serverAuth', 'clientAuth'];
  return { keyUsage, extKeyUsage };
}

const sha256 = (d: Uint8Array): string => createHash('sha256').update(d).digest('hex');
// Parsed CA chains and policies, by their stored text (a CA row is read on every request).
const chains = new Map<string, Certificate[]>();
const chainOf = (pem: string): Certificate[] => {
  let c = chains.get(pem);
  if (!c) {
    c = scanPem(pem).map((b) => new Certificate(b.der));
    if (chains.size > 1000) chains.clear();
    chains.set(pem, c);
  }
  return c;
};
const policies = new Map<string, CaPolicy>();
const policyOf = (text: string): CaPolicy => {
  let p = policies.get(text);
  if (!p) {
    p = parsePolicy(JSON.parse(text));
    if (policies.size > 1000) policies.clear();
    policies.set(text, p);
  }
  return p;
};
const pemOf = (certs: readonly Certificate[]): string => certs.map((c) => c.toPem()).join('');

export interface CaServiceOptions {
  store: Store;
  kek: Buffer;
  /** Every audited event, also when the store is down (a second trail, e.g. stderr of `ca serve`). */
  onAudit?: (e: LogEntry & { outcome: string; stored: boolean }) => void;
  now?: () => Date;
  /** The PKCS#11 module and PIN for CAs whose keys live on a token (read only when such a CA signs). */
  pkcs11?: Pkcs11Options;
}

/** Issuance writes share one transaction (group commit): at most this many per commit. */
const MAX_GROUP = 256;

interface GroupJob {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class CaService {
  private readonly keys = new Map<string, SigningKey>();
  private p11?: Pkcs11Keys;
  private readonly group: GroupJob[] = [];
  private flushing = false;
  /** Issuance units written, and the commits that wrote them (units / commits = the average group). */
  readonly groupStats = { units: 0, commits: 0 };
  private logKey?: KeyObject;
  private readonly o: CaServiceOptions;
  private constructor(o: CaServiceOptions) {
    this.o = o;
  }

  static async open(o: CaServiceOptions): Promise<CaService> {
    await o.store.migrate('ca', CA_MIGRATIONS);
    const s = new CaService(o);
    await s.loadLogKey();
    return s;
  }

  get store(): Store {
    return this.o.store;
  }
  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  // ---------- the log ----------

  private async loadLogKey(): Promise<void> {
    const row = await this.o.store.get<{ value: string }>("SELECT value FROM ca_meta WHERE name = 'log_key'");
    if (row) {
      this.logKey = openKey(this.o.kek, '__log__', row.value);
      return;
    }
    const key = generateKey('ecdsa-p256').privateKey;
    try {
      await this.o.store.run("INSERT INTO ca_meta (name, value) VALUES ('log_key', ?)", [sealKey(this.o.kek, '__log__', key)]);
      this.logKey = key;
    } catch (e) {
      if (!(e instanceof UniqueViolation)) throw e;
      await this.loadLogKey(); // another replica made it first
    }
  }

  /** The log's public key (verifies signed tree heads). */
  logPublicKeyPem(): string {
    return createPublicKey(this.logKey as KeyObject).export({ format: 'pem', type: 'spki' }) as string;
  }

  // ---------- group commit ----------
  //
  // Each issuance's writes (token, certificate, names, log entry, audit row) are one unit, but units that
  // arrive together share a transaction: one COMMIT, so one fsync (SQLite's synchronous = FULL) and one
  // hold of the log lock, for all of them. Every unit runs under its own SAVEPOINT, so one that fails (a
  // serial collision, a token spent by a racing request) is rolled back alone and the others commit. No
  // caller is answered before the COMMIT that makes its unit durable has returned; if the COMMIT fails,
  // every unit of the group fails with it and nothing of the group was stored.

  private groupWrite<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.group.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let the requests whose bytes have already arrived reach this queue first (they are handled in the
        // same turn of the event loop), then commit them together.
        setImmediate(() => void this.flushGroups());
      }
    });
  }

  private async flushGroups(): Promise<void> {
    try {
      while (this.group.length) {
        const batch = this.group.splice(0, MAX_GROUP);
        const results: ({ ok: true; v: unknown } | { ok: false; e: unknown })[] = [];
        try {
          await this.o.store.transaction(async (tx) => {
            if (batch.length === 1) {
              results.push({ ok: true, v: await (batch[0] as GroupJob).work(tx) });
              return;
            }
            for (const job of batch) {
              await tx.run('SAVEPOINT ca_group_unit');
              try {
                const v = await job.work(tx);
                await tx.run('RELEASE SAVEPOINT ca_group_unit');
                results.push({ ok: true, v });
              } catch (e) {
                await tx.run('ROLLBACK TO SAVEPOINT ca_group_unit');
                await tx.run('RELEASE SAVEPOINT ca_group_unit');
                results.push({ ok: false, e });
              }
            }
          });
        } catch (e) {
          for (const job of batch) job.reject(e);
          continue;
        }
        this.groupStats.commits++;
        this.groupStats.units += results.filter((r) => r.ok).length;
        batch.forEach((job, i) => {
          const r = results[i] as (typeof results)[number];
          if (r.ok) job.resolve(r.v);
          else job.reject(r.e);
        });
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Append an entry and its audit row; call inside a transaction. */
  private async append(tx: Tx, e: LogEntry, outcome: string): Promise<number> {
    await tx.lock('ca_log');
    const row = await tx.get<{ n: number | null }>('SELECT MAX(idx) AS n FROM ca_log');
    const idx = row?.n === null || row?.n === undefined ? 0 : Number(row.n) + 1;
    const json = JSON.stringify(e);
    await tx.run('INSERT INTO ca_log (idx, leaf_hash, entry) VALUES (?, ?, ?)', [
      idx,
      Buffer.from(leafHash(Buffer.from(json))).toString('hex'),
      json,
    ]);
    await tx.run('INSERT INTO ca_audit (log_index, at, ca, action, outcome, requester, serial, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      idx,
      e.at,
      e.ca,
      e.type,
      outcome,
      e.requester,
      e.serial ?? null,
      e.reason ?? null,
    ]);
    return idx;
  }

  /** Record a refusal (its own transaction) and throw it. When the store is down the refusal is still thrown, marked unrecorded. */
  private async refuse(
    ca: string | null,
    requester: string,
    reason: string,
    status: number,
    extra: Partial<LogEntry> = {},
  ): Promise<never> {
    const e: LogEntry = { type: 'refuse', at: this.now().toISOString(), ca, requester, reason, ...extra };
    let stored = true;
    try {
      await this.o.store.transaction((tx) => this.append(tx, e, 'refused'));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      stored = false;
      this.o.onAudit?.({ ...e, outcome: 'refused', stored });
      throw new CaRefusal(`${reason} (and the refusal could not be recorded: ${err.message})`, 503);
    }
    this.o.onAudit?.({ ...e, outcome: 'refused', stored });
    throw new CaRefusal(reason, status);
  }

  async treeHead(): Promise<TreeHead> {
    const leaves = await this.leafHashes();
    return signTreeHead(this.logKey as KeyObject, leaves.length, rootOf(leaves), this.now().getTime());
  }

  async leafHashes(): Promise<Uint8Array[]> {
    const rows = await this.o.store.all<{ leaf_hash: string }>('SELECT leaf_hash FROM ca_log ORDER BY idx');
    return rows.map((r) => Buffer.from(r.leaf_hash, 'hex'));
  }

  /** The whole log with a fresh signed tree head, for `ca log verify` offline. */
  async exportLog(): Promise<LogExport> {
    return this.o.store.transaction(async (tx) => {
      await tx.lock('ca_log');
      const rows = await tx.all<{ entry: string; leaf_hash: string }>('SELECT entry, leaf_hash FROM ca_log ORDER BY idx');
      const leaves = rows.map((r) => Buffer.from(r.leaf_hash, 'hex'));
      const treeHead = signTreeHead(this.logKey as KeyObject, leaves.length, rootOf(leaves), this.now().getTime());
      return { format: LOG_FORMAT, logKey: this.logPublicKeyPem(), treeHead, entries: rows.map((r) => r.entry) };
    });
  }

  async audit(ca?: string, limit = 100): Promise<Record<string, unknown>[]> {
    const where = ca ? 'WHERE ca = ?' : '';
    return this.o.store.all(
      `SELECT log_index, at, ca, action, outcome, requester, serial, reason FROM ca_audit ${where} ORDER BY log_index DESC LIMIT ${Math.max(1, Math.min(limit, 100_000))}`,
      ca ? [ca] : [],
    );
  }

  // ---------- trust zones ----------

  private async row(name: string): Promise<CaRow | undefined> {
    return this.o.store.get<CaRow>('SELECT * FROM ca_authorities WHERE name = ?', [name]);
  }

  private info(r: CaRow): CaInfo {
    const chain = chainOf(r.chain_pem);
    const cert = chain[0] as Certificate;
    return {
      name: r.name,
      parent: r.parent,
      keyType: r.key_type,
      subject: cert.subject,
      notAfter: cert.notAfter.toISOString(),
      chain,
      policy: policyOf(r.policy),
      publicUrl: r.public_url,
      generation: Number(r.generation),
    };
  }

  private keyOf(r: CaRow): SigningKey | Promise<SigningKey> {
    return this.genKey(r.name, Number(r.generation), r.key_sealed, r.chain_pem);
  }

  /**
   * A generation's key; generation 1 is sealed with the CA's name as associated data, later ones with name#gen.
   * A key on a PKCS#11 token is stored as its URI: the first use loads the module, logs in and checks that
   * the token's key is the one in the CA certificate (a Promise then; a sealed key stays synchronous).
   */
  private genKey(name: string, gen: number, sealed: string, chainPem: string): SigningKey | Promise<SigningKey> {
    const aad = gen === 1 ? name : `${name}#${gen}`;
    const k = this.keys.get(aad);
    if (k) return k;
    if (isPkcs11Ref(sealed)) return this.tokenKey(aad, sealed, chainOf(chainPem)[0] as Certificate);
    const opened = openKey(this.o.kek, aad, sealed);
    this.keys.set(aad, opened);
    return opened;
  }

  /**
   * Whether any CA generation in the store (retired ones too) holds a key with this URI's token and
   * label: a key on the token that none holds was made by a run killed before it recorded the key.
   */
  private async tokenKeyInUse(uri: string): Promise<boolean> {
    const u = parsePkcs11Uri(uri);
    const rows = await this.o.store.all<{ k: string }>(
      "SELECT key_sealed AS k FROM ca_generations WHERE key_sealed LIKE 'pkcs11:%' UNION SELECT key_sealed AS k FROM ca_authorities WHERE key_sealed LIKE 'pkcs11:%'",
    );
    return rows.some((r) => {
      const h = parsePkcs11Uri(r.k);
      return h.token === u.token && h.object === u.object;
    });
  }

  private pkcs11(): Pkcs11Keys {
    this.p11 ??= Pkcs11Keys.open(this.o.pkcs11 ?? {});
    return this.p11;
  }

  private async tokenKey(aad: string, uri: string, cert: Certificate): Promise<SigningKey> {
    const key = this.pkcs11().key(uri);
    if (!signingKeyMatchesSpki(key, cert.spki)) throw new InputError(`the key ${uri} on the token does not belong to ${cert.subject}`);
    this.keys.set(aad, key);
    return key;
  }

  /** Unload the PKCS#11 module (if one was loaded). The store is closed by its owner. */
  closeKeys(): void {
    this.p11?.close();
    this.p11 = undefined;
    this.keys.clear();
  }

  async getCa(name: string): Promise<CaInfo> {
    const r = await this.row(name);
    if (!r) throw new CaRefusal(`unknown CA '${name}'`, 404);
    return this.info(r);
  }

  async listCas(): Promise<CaInfo[]> {
    return (await this.o.store.all<CaRow>('SELECT * FROM ca_authorities ORDER BY name')).map((r) => this.info(r));
  }

  async createCa(req: CreateCaRequest): Promise<CaInfo> {
    if (!CA_NAME.test(req.name)) throw new InputError(`CA name '${req.name}' must be lowercase letters, digits and '-' (at most 63)`);
    if (req.parent && req.offlineIssuer) throw new InputError('a CA has one issuer: --parent or an offline root, not both');
    const keyType = req.keyType ?? 'ecdsa-p256';
    if (!KEY_TYPES.includes(keyType)) throw new InputError(`unknown key type '${keyType}'`);
    const policy = parsePolicy(req.policy ?? {});
    if (req.publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(req.publicUrl))
      throw new InputError(`public URL '${req.publicUrl}' must be http(s)://host[:port]`);
    if (await this.row(req.name)) throw new InputError(`CA '${req.name}' already exists`);
    let issuerChain: Certificate[] = [];
    let issuerKey: SigningKey | undefined;
    if (req.parent) {
      const p = await this.row(req.parent);
      if (!p) throw new InputError(`unknown parent CA '${req.parent}'`);
      issuerChain = chainOf(p.chain_pem);
      issuerKey = await this.keyOf(p);
    } else if (req.offlineIssuer) {
      issuerChain = req.offlineIssuer.chain;
      issuerKey = req.offlineIssuer.key;
      const top = issuerChain[0];
      if (!top) throw new InputError('the offline issuer needs its certificate');
      if (!keyMatchesSpki(req.offlineIssuer.key, top.spki))
        throw new InputError(`the offline issuer's key does not belong to ${top.subject}`);
      if (!top.isCA) throw new InputError(`${top.subject} is not a CA certificate`);
    }
    const now = this.now();
    const issuer = issuerChain[0];
    const days = req.days ?? (issuer ? 1825 : 3650);
    if (issuer && now.getTime() + days * 86400000 > issuer.notAfter.getTime())
      throw new InputError(`${days} days would outlive the issuer ${issuer.subject} (valid until ${issuer.notAfter.toISOString()})`);
    // The new key: made here and sealed under the KEK, or made on a token (kept there, the store keeps its URI).
    const made =
      req.keyStore !== undefined
        ? this.pkcs11().generate(req.keyStore, keyType, { adopt: !(await this.tokenKeyInUse(req.keyStore)), owner: `${req.name}#1` })
        : undefined;
    const local = made ? undefined : generateKey(keyType);
    const publicKey = made ? made.key.publicKey : (local as KeyPair).publicKey;
    const signingKey: SigningKey = made ? made.key : (local as KeyPair).privateKey;
    const keyRef = (aad: string): string => (made ? made.uri : sealKey(this.o.kek, aad, (local as KeyPair).privateKey));
    const profile: CertProfile = {
      subject: req.subject ?? `CN=${req.name} CA,O=Anchorage`,
      ca: true,
      ...(issuer ? { pathLen: 0 } : {}),
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      validity: { days },
    };
    const cert = issuer
      ? await issueCertificateAsync({ profile, publicKey, issuer: { cert: issuer, key: issuerKey as SigningKey }, now })
      : await issueCertificateAsync({ profile, publicKey, signingKey, now });
    const chain = [cert, ...issuerChain];
    await this.o.store.transaction(async (tx) => {
      try {
        await tx.run(
          'INSERT INTO ca_authorities (name, parent, key_type, chain_pem, key_sealed, policy, public_url, crl_number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)',
          [
            req.name,
            req.parent ?? null,
            keyType,
            pemOf(chain),
            keyRef(req.name),
            JSON.stringify(policy),
            req.publicUrl ?? null,
            now.toISOString(),
          ],
        );
      } catch (e) {
        if (e instanceof UniqueViolation) throw new InputError(`CA '${req.name}' already exists`);
        throw e;
      }
      await tx.run(
        "INSERT INTO ca_generations (ca, gen, chain_pem, key_sealed, state, created_at, changed_at) VALUES (?, 1, ?, ?, 'active', ?, ?)",
        [req.name, pemOf(chain), keyRef(req.name), now.toISOString(), now.toISOString()],
      );
      await this.append(
        tx,
        {
          type: 'ca',
          at: now.toISOString(),
          ca: req.name,
          requester: req.requester,
          serial: cert.serialNumber,
          sha256: sha256(cert.der),
          subject: cert.subject,
          notAfter: cert.notAfter.toISOString(),
        },
        'created',
      );
    });
    this.keys.set(req.name, signingKey);
    return this.getCa(req.name);
  }

  async setPolicy(name: string, policy: unknown): Promise<CaPolicy> {
    const p = parsePolicy(policy);
    const n = await this.o.store.run('UPDATE ca_authorities SET policy = ? WHERE name = ?', [JSON.stringify(p), name]);
    if (n === 0) throw new CaRefusal(`unknown CA '${name}'`, 404);
    return p;
  }

  // ---------- rotation with overlap ----------
  //
  // 1. rotateBegin: a new key and CA certificate, generation N+1, 'next': published in the trust bundle
  //    beside the issuing one; nothing is issued with it yet (clients learn the new root first).
  // 2. rotateSwitch: N+1 becomes 'active' (it issues), N 'previous': still in the bundle, still signing the
  //    CRL and OCSP answers for what it issued, so both generations' certificates verify during the overlap.
  // 3. retire: N 'retired': out of the bundle and its key destroyed; refused while N issued certificates
  //    that are still valid and unrevoked (unless forced) or while another CA's chain goes through it.

  async generations(name: string): Promise<GenerationInfo[]> {
    if (!(await this.row(name))) throw new CaRefusal(`unknown CA '${name}'`, 404);
    const rows = await this.o.store.all<GenerationRow>('SELECT * FROM ca_generations WHERE ca = ? ORDER BY gen', [name]);
    return rows.map((g) => {
      const chain = chainOf(g.chain_pem);
      const c = chain[0] as Certificate;
      return {
        gen: Number(g.gen),
        state: g.state,
        subject: c.subject,
        keyType: keyTypeFromInfo(c.keyInfo) ?? c.keyInfo.algorithm,
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        sha256: sha256(c.der),
        createdAt: g.created_at,
        changedAt: g.changed_at,
        chain,
      };
    });
  }

  /** The trust anchors for the CA's certificates: the root of every generation not retired (deduplicated), oldest first. */
  async trustBundle(name: string): Promise<Certificate[]> {
    const out = new Map<string, Certificate>();
    for (const g of await this.generations(name)) {
      if (g.state === 'retired') continue;
      const root = g.chain.at(-1) as Certificate;
      out.set(sha256(root.der), root);
    }
    return [...out.values()];
  }

  /** Every certificate of every CA generation not retired (each chain, deduplicated): the issuers a client certificate may come from. */
  async clientCaCertificates(): Promise<Certificate[]> {
    const rows = await this.o.store.all<{ chain_pem: string }>(
      "SELECT chain_pem FROM ca_generations WHERE state <> 'retired' ORDER BY ca, gen",
    );
    const out = new Map<string, Certificate>();
    for (const r of rows) for (const c of chainOf(r.chain_pem)) out.set(c.sha256, c);
    return [...out.values()];
  }

  private async rotationEvent(tx: Tx, name: string, requester: string, cert: Certificate, outcome: string, reason: string): Promise<void> {
    await this.append(
      tx,
      {
        type: 'ca',
        at: this.now().toISOString(),
        ca: name,
        requester,
        serial: cert.serialNumber,
        sha256: sha256(cert.der),
        subject: cert.subject,
        notAfter: cert.notAfter.toISOString(),
        reason,
      },
      outcome,
    );
  }

  async rotateBegin(req: RotateRequest): Promise<GenerationInfo> {
    const r = await this.row(req.name);
    if (!r) throw new CaRefusal(`unknown CA '${req.name}'`, 404);
    const gens = await this.o.store.all<GenerationRow>('SELECT * FROM ca_generations WHERE ca = ? ORDER BY gen', [req.name]);
    const pending = gens.find((g) => g.state === 'next');
    if (pending)
      throw new InputError(`CA '${req.name}' is already rotating: generation ${pending.gen} is next (ca rotate switch ${req.name})`);
    const keyType = req.keyType ?? (r.key_type as KeyType);
    if (!KEY_TYPES.includes(keyType)) throw new InputError(`unknown key type '${keyType}'`);
    const current = chainOf(r.chain_pem);
    const currentCert = current[0] as Certificate;
    let issuerChain: Certificate[] = [];
    let issuerKey: SigningKey | undefined;
    if (r.parent) {
      const p = await this.row(r.parent);
      if (!p) throw new InputError(`the parent CA '${r.parent}' is gone`);
      issuerChain = chainOf(p.chain_pem);
      issuerKey = await this.keyOf(p);
    } else if (current.length > 1) {
      if (!req.offlineIssuer)
        throw new InputError(
          `CA '${req.name}' was signed by an offline root (${current[1]?.subject}): give it again (--root-cert, --root-key)`,
        );
      issuerChain = req.offlineIssuer.chain;
      issuerKey = req.offlineIssuer.key;
      const top = issuerChain[0];
      if (!top) throw new InputError('the offline issuer needs its certificate');
      if (!keyMatchesSpki(req.offlineIssuer.key, top.spki))
        throw new InputError(`the offline issuer's key does not belong to ${top.subject}`);
      if (!top.isCA) throw new InputError(`${top.subject} is not a CA certificate`);
    } else if (req.offlineIssuer) throw new InputError(`CA '${req.name}' is its own root: it takes no offline issuer`);
    const now = this.now();
    const issuer = issuerChain[0];
    const days = req.days ?? (issuer ? 1825 : 3650);
    if (issuer && now.getTime() + days * 86400000 > issuer.notAfter.getTime())
      throw new InputError(`${days} days would outlive the issuer ${issuer.subject} (valid until ${issuer.notAfter.toISOString()})`);
    const gen = Math.max(...gens.map((g) => Number(g.gen))) + 1;
    // A CA whose key is on a token gets its next key on the same token, labelled <object>-gen<N>.
    let made: { key: ExternalKey; uri: string } | undefined;
    if (isPkcs11Ref(r.key_sealed)) {
      const u = parsePkcs11Uri(r.key_sealed);
      const base = (u.object ?? req.name).replace(/-gen\d+$/, '');
      const next = formatPkcs11Uri({ token: u.token, object: `${base}-gen${gen}` });
      made = this.pkcs11().generate(next, keyType, { adopt: !(await this.tokenKeyInUse(next)), owner: `${req.name}#${gen}` });
    }
    const local = made ? undefined : generateKey(keyType);
    const publicKey = made ? made.key.publicKey : (local as KeyPair).publicKey;
    const signingKey: SigningKey = made ? made.key : (local as KeyPair).privateKey;
    // The same subject: the CA's identity does not change, its key does (issuers are told apart by key identifier).
    const profile: CertProfile = {
      subject: currentCert.subjectRdns,
      ca: true,
      ...(issuer ? { pathLen: 0 } : {}),
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      validity: { days },
    };
    const cert = issuer
      ? await issueCertificateAsync({ profile, publicKey, issuer: { cert: issuer, key: issuerKey as SigningKey }, now })
      : await issueCertificateAsync({ profile, publicKey, signingKey, now });
    const chain = [cert, ...issuerChain];
    await this.o.store.transaction(async (tx) => {
      await tx.lock(`ca_rotate:${req.name}`);
      try {
        await tx.run(
          "INSERT INTO ca_generations (ca, gen, chain_pem, key_sealed, state, created_at, changed_at) VALUES (?, ?, ?, ?, 'next', ?, ?)",
          [
            req.name,
            gen,
            pemOf(chain),
            made ? made.uri : sealKey(this.o.kek, `${req.name}#${gen}`, (local as KeyPair).privateKey),
            now.toISOString(),
            now.toISOString(),
          ],
        );
      } catch (e) {
        if (e instanceof UniqueViolation) throw new InputError(`CA '${req.name}' is already rotating (another replica began it)`);
        throw e;
      }
      await this.rotationEvent(
        tx,
        req.name,
        req.requester,
        cert,
        'rotation-begun',
        `generation ${gen} created (published, not issuing yet)`,
      );
    });
    return (await this.generations(req.name)).find((g) => g.gen === gen) as GenerationInfo;
  }

  async rotateSwitch(name: string, requester: string): Promise<GenerationInfo> {
    const r = await this.row(name);
    if (!r) throw new CaRefusal(`unknown CA '${name}'`, 404);
    const now = this.now().toISOString();
    const gen = await this.o.store.transaction(async (tx) => {
      await tx.lock(`ca_rotate:${name}`);
      const next = await tx.get<GenerationRow>("SELECT * FROM ca_generations WHERE ca = ? AND state = 'next'", [name]);
      if (!next) throw new InputError(`CA '${name}' has no next generation: ca rotate begin ${name} first`);
      const cert = chainOf(next.chain_pem)[0] as Certificate;
      await tx.run("UPDATE ca_generations SET state = 'previous', changed_at = ? WHERE ca = ? AND state = 'active'", [now, name]);
      await tx.run("UPDATE ca_generations SET state = 'active', changed_at = ? WHERE ca = ? AND gen = ?", [now, name, next.gen]);
      await tx.run('UPDATE ca_authorities SET chain_pem = ?, key_sealed = ?, key_type = ?, generation = ? WHERE name = ?', [
        next.chain_pem,
        next.key_sealed,
        keyTypeFromInfo(cert.keyInfo) ?? r.key_type,
        next.gen,
        name,
      ]);
      await this.rotationEvent(tx, name, requester, cert, 'rotation-switched', `generation ${next.gen} issues from now on`);
      return Number(next.gen);
    });
    return (await this.generations(name)).find((g) => g.gen === gen) as GenerationInfo;
  }

  /** Retire a previous generation (default: every previous one): out of the trust bundle, its key destroyed. */
  async retire(name: string, requester: string, o: { generation?: number; force?: boolean } = {}): Promise<number[]> {
    if (!(await this.row(name))) throw new CaRefusal(`unknown CA '${name}'`, 404);
    const now = this.now().toISOString();
    return this.o.store.transaction(async (tx) => {
      await tx.lock(`ca_rotate:${name}`);
      const gens = await tx.all<GenerationRow>('SELECT * FROM ca_generations WHERE ca = ? ORDER BY gen', [name]);
      let targets: GenerationRow[];
      if (o.generation !== undefined) {
        const g = gens.find((x) => Number(x.gen) === o.generation);
        if (!g) throw new InputError(`CA '${name}' has no generation ${o.generation}`);
        if (g.state !== 'previous')
          throw new InputError(`generation ${g.gen} of CA '${name}' is ${g.state}: only a previous generation is retired`);
        targets = [g];
      } else {
        targets = gens.filter((g) => g.state === 'previous');
        if (targets.length === 0) throw new InputError(`CA '${name}' has no previous generation to retire`);
      }
      for (const g of targets) {
        const cert = chainOf(g.chain_pem)[0] as Certificate;
        // Lock the generation before counting: an issuance in flight on another replica holds it shared
        // until it commits, so it is counted, or it waits and then finds the generation retired.
        if (this.o.store.engine === 'postgres')
          await tx.get('SELECT state FROM ca_generations WHERE ca = ? AND gen = ? FOR UPDATE', [name, g.gen]);
        const outstanding = await tx.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM ca_certificates WHERE ca = ? AND generation = ? AND revoked_at IS NULL AND not_after > ?',
          [name, g.gen, now],
        );
        const n = Number(outstanding?.n ?? 0);
        if (n > 0 && !o.force)
          throw new InputError(
            `generation ${g.gen} of CA '${name}' still has ${n} valid, unrevoked certificate(s): renew them first, or retire with --force (they stop verifying)`,
          );
        const children = await tx.all<{ ca: string; gen: number; chain_pem: string }>(
          "SELECT ca, gen, chain_pem FROM ca_generations WHERE ca <> ? AND state <> 'retired'",
          [name],
        );
        const dependent = children.filter((c) => chainOf(c.chain_pem).some((x) => sha256(x.der) === sha256(cert.der)));
        if (dependent.length)
          throw new InputError(
            `generation ${g.gen} of CA '${name}' still signs ${dependent.map((c) => `${c.ca} (generation ${c.gen})`).join(', ')}: rotate those first`,
          );
        await tx.run("UPDATE ca_generations SET state = 'retired', key_sealed = NULL, changed_at = ? WHERE ca = ? AND gen = ?", [
          now,
          name,
          g.gen,
        ]);
        await this.rotationEvent(
          tx,
          name,
          requester,
          cert,
          'retired',
          `generation ${g.gen} retired${n > 0 ? ` with ${n} certificate(s) still valid (forced)` : ''}`,
        );
        this.keys.delete(Number(g.gen) === 1 ? name : `${name}#${g.gen}`);
      }
      return targets.map((g) => Number(g.gen));
    });
  }

  // ---------- bootstrap tokens ----------

  /** A one-time token allowing a first enrolment for exactly these identities (the token is shown once; the store keeps its hash). */
  async createToken(
    ca: string,
    names: readonly string[],
    profile: Profile,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: string }> {
    if (!(await this.row(ca))) throw new CaRefusal(`unknown CA '${ca}'`, 404);
    if (!PROFILES.includes(profile)) throw new InputError(`profile must be one of ${PROFILES.join(', ')}`);
    if (!(ttlSeconds > 0 && ttlSeconds <= MAX_TOKEN_TTL_S))
      throw new InputError(`token lifetime must be between 1 second and ${MAX_TOKEN_TTL_S / 86400} days`);
    if (names.length === 0) throw new InputError('a token names at least one identity (--name DNS:…)');
    const ids = names.map(parseIdentity);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
    await this.o.store.run('INSERT INTO ca_tokens (id, ca, names, profile, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      sha256(Buffer.from(token)),
      ca,
      JSON.stringify(ids),
      profile,
      expiresAt,
      now.toISOString(),
    ]);
    return { token, expiresAt };
  }

  // ---------- issuance ----------

  async issue(req: IssueRequest): Promise<Issued> {
    const { requester } = req;
    const size = typeof req.csr === 'string' ? Buffer.byteLength(req.csr) : req.csr.length;
    if (size > MAX_CSR_BYTES)
      return this.refuse(req.ca, requester, `too large: a certificate request of ${size} bytes (limit ${MAX_CSR_BYTES})`, 413);
    let csr: Csr;
    try {
      csr = parseCsr(req.csr);
    } catch (e) {
      if (e instanceof InputError || e instanceof DerError)
        return this.refuse(req.ca, requester, `malformed certificate request: ${e.message}`, 400);
      throw e;
    }
    const csrSha = sha256(csr.der);
    const r = await this.row(req.ca).catch(async (e) => {
      if (e instanceof StoreUnavailableError) return this.refuse(req.ca, requester, 'the CA store is unavailable', 503, { sha256: csrSha });
      throw e;
    });
    if (!r) return this.refuse(null, requester, `unknown CA '${req.ca}'`, 404, { sha256: csrSha });
    if (!csr.verifySignature())
      return this.refuse(r.name, requester, 'certificate request signature does not verify (no proof of possession of its key)', 400, {
        sha256: csrSha,
      });
    if (csr.extensionRequestError !== undefined)
      return this.refuse(r.name, requester, `certificate request has a malformed extensionRequest (${csr.extensionRequestError})`, 400, {
        sha256: csrSha,
      });
    const policy = policyOf(r.policy);
    const names = identitiesOf(csr.sans);
    if (names.length > 100)
      return this.refuse(r.name, requester, `too large: ${names.length} subjectAltNames (limit 100)`, 413, { sha256: csrSha });
    let profile: Profile = req.profile ?? 'server';
    let tokenId: string | undefined;
    const now = this.now();

    if (req.renewing) {
      const old = req.renewing;
      const prev = await this.o.store.get<{ ca: string; profile: string; names: string; revoked_at: string | null; serial: string }>(
        'SELECT ca, profile, names, revoked_at, serial FROM ca_certificates WHERE sha256 = ?',
        [sha256(old.der)],
      );
      if (!prev || prev.ca !== r.name)
        return this.refuse(r.name, requester, 'the presented certificate was not issued by this CA', 403, { sha256: csrSha });
      if (prev.revoked_at)
        return this.refuse(r.name, requester, `the presented certificate ${prev.serial} is revoked`, 403, { serial: prev.serial });
      if (!old.isValidAt(now))
        return this.refuse(r.name, requester, `the presented certificate ${prev.serial} is not valid now`, 403, { serial: prev.serial });
      const want = new Set(JSON.parse(prev.names) as string[]);
      if (names.length !== want.size || names.some((n) => !want.has(n)))
        return this.refuse(
          r.name,
          requester,
          `a renewal keeps the same identities (${[...want].join(', ')}); asked for ${names.join(', ')}`,
          403,
          { serial: prev.serial },
        );
      profile = prev.profile as Profile;
    } else if (req.token !== undefined) {
      tokenId = sha256(Buffer.from(req.token));
      const t = await this.o.store.get<{ ca: string; names: string; profile: string; expires_at: string; used_at: string | null }>(
        'SELECT ca, names, profile, expires_at, used_at FROM ca_tokens WHERE id = ?',
        [tokenId],
      );
      const who = `token:${tokenId.slice(0, 12)}`;
      if (!t || t.ca !== r.name) return this.refuse(r.name, who, 'unknown bootstrap token', 403, { sha256: csrSha });
      if (t.used_at)
        return this.refuse(r.name, who, `bootstrap token already used (at ${t.used_at}): tokens are one-time`, 403, { sha256: csrSha });
      if (new Date(t.expires_at) <= now)
        return this.refuse(r.name, who, `bootstrap token expired at ${t.expires_at}`, 403, { sha256: csrSha });
      const allowed = new Set(JSON.parse(t.names) as string[]);
      const extra = names.filter((n) => !allowed.has(n));
      if (extra.length) return this.refuse(r.name, who, `the bootstrap token does not cover ${extra.join(', ')}`, 403, { sha256: csrSha });
      if (req.profile && req.profile !== t.profile)
        return this.refuse(r.name, who, `the bootstrap token is for a ${t.profile} certificate, not ${req.profile}`, 403, {
          sha256: csrSha,
        });
      profile = t.profile as Profile;
    }

    if (req.proven) {
      const want = new Set(req.proven);
      if (names.length !== want.size || names.some((n) => !want.has(n)))
        return this.refuse(r.name, requester, `the request names ${names.join(', ')}; the order proved ${[...want].join(', ')}`, 400, {
          sha256: csrSha,
        });
    }
    const days = req.days ?? policy.defaultDays;
    const violations = policyViolations(policy, {
      names: csr.sans,
      commonName: csr.commonName,
      profile,
      days,
      key: csr.keyInfo,
      requester,
    });
    if (violations.length)
      return this.refuse(r.name, requester, `refused by the policy of ${r.name}: ${violations.join('; ')}`, 403, { sha256: csrSha });

    const chain = chainOf(r.chain_pem);
    const caCert = chain[0] as Certificate;
    const notAfter = Math.min(now.getTime() + days * 86400000, caCert.notAfter.getTime());
    const base = r.public_url?.replace(/\/+$/, '');
    const gen = Number(r.generation);
    const crlPath = gen === 1 ? `/crl/${r.name}` : `/crl/${r.name}/${gen}`;
    let caKey = this.keyOf(r);
    if (caKey instanceof Promise) caKey = await caKey;
    for (let attempt = 0; ; attempt++) {
      const certReq = {
        profile: {
          subject: csr.subjectRdns,
          sans: csr.sans,
          ...usages(profile, csr.keyInfo.algorithm === 'RSA'),
          validity: { notAfter: new Date(notAfter), backdateSeconds: 60 },
          serial: randomSerial(),
          ...(base ? { crlDistributionPoints: [`${base}${crlPath}`], authorityInfoAccess: { ocsp: [`${base}/ocsp/${r.name}`] } } : {}),
        },
        publicKey: csr.spki,
        now,
      };
      const cert = isExternalKey(caKey)
        ? await issueCertificateAsync({ ...certReq, issuer: { cert: caCert, key: caKey } })
        : issueCertificate({ ...certReq, issuer: { cert: caCert, key: caKey } });
      const entry: LogEntry = {
        type: req.renewing ? 'renew' : 'issue',
        at: now.toISOString(),
        ca: r.name,
        requester,
        serial: cert.serialNumber,
        sha256: sha256(cert.der),
        subject: cert.subject,
        names,
        notAfter: cert.notAfter.toISOString(),
      };
      try {
        const logIndex = await this.groupWrite(async (tx) => {
          // The generation must still be able to issue when this commits: a replica may have retired it since
          // this request read the CA. On PostgreSQL the row is share-locked, so `retire` (which locks it for
          // update before counting what the generation has outstanding) either sees this certificate or
          // happens before it and refuses it here; SQLite serialises writers anyway.
          const state = await tx.get<{ state: string }>(
            `SELECT state FROM ca_generations WHERE ca = ? AND gen = ?${this.o.store.engine === 'postgres' ? ' FOR SHARE' : ''}`,
            [r.name, gen],
          );
          if (state?.state === 'retired' || state === undefined)
            throw new CaRefusal(`generation ${gen} of CA '${r.name}' was retired during the request: ask again`, 503);
          if (tokenId !== undefined) {
            const used = await tx.run('UPDATE ca_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL', [now.toISOString(), tokenId]);
            if (used !== 1) throw new CaRefusal('bootstrap token already used: tokens are one-time', 403);
          }
          await tx.run(
            'INSERT INTO ca_certificates (serial, ca, sha256, subject, names, profile, not_before, not_after, der, requester, renewed_from, log_index, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            [
              cert.serialNumber,
              r.name,
              entry.sha256,
              cert.subject,
              JSON.stringify(names),
              profile,
              cert.notBefore.toISOString(),
              cert.notAfter.toISOString(),
              Buffer.from(cert.der).toString('base64'),
              requester,
              req.renewing?.serialNumber ?? null,
              -1,
              gen,
            ],
          );
          for (const n of new Set(names)) await tx.run('INSERT INTO ca_names (name, serial) VALUES (?, ?)', [n, cert.serialNumber]);
          // The log lock is taken last, so replicas serialise only on the append itself.
          const idx = await this.append(tx, entry, 'issued');
          await tx.run('UPDATE ca_certificates SET log_index = ? WHERE serial = ?', [idx, cert.serialNumber]);
          return idx;
        });
        this.o.onAudit?.({ ...entry, outcome: 'issued', stored: true });
        return { certificate: cert, chain, serial: cert.serialNumber, logIndex };
      } catch (e) {
        if (e instanceof UniqueViolation && attempt < 3) continue; // a serial collision: draw again
        if (e instanceof CaRefusal) return this.refuse(r.name, requester, e.message, e.status, { sha256: csrSha });
        if (e instanceof StoreUnavailableError)
          return this.refuse(r.name, requester, 'the CA store is unavailable: nothing was issued', 503, { sha256: csrSha });
        throw e;
      }
    }
  }

  /** A certificate this store issued, by its SHA-256, with its state. */
  async lookup(certSha256: string): Promise<{ ca: string; serial: string; revoked: boolean; logIndex: number } | undefined> {
    const r = await this.o.store.get<{ ca: string; serial: string; revoked_at: string | null; log_index: number }>(
      'SELECT ca, serial, revoked_at, log_index FROM ca_certificates WHERE sha256 = ?',
      [certSha256],
    );
    return r && { ca: r.ca, serial: r.serial, revoked: r.revoked_at !== null, logIndex: Number(r.log_index) };
  }

  // ---------- revocation ----------

  async revoke(req: RevokeRequest): Promise<string[]> {
    if (!(await this.row(req.ca))) throw new CaRefusal(`unknown CA '${req.ca}'`, 404);
    if ((req.serial === undefined) === (req.identity === undefined))
      throw new InputError('revoke by --serial or by --identity (one of them)');
    const reason = req.reason ?? 'unspecified';
    if (!CRL_REASONS.includes(reason) || reason === 'removeFromCRL' || reason === 'unused7')
      throw new InputError(`revocation reason '${reason}' cannot be used`);
    const now = this.now().toISOString();
    return this.o.store.transaction(async (tx) => {
      let serials: string[];
      if (req.serial !== undefined) {
        const s = req.serial.toLowerCase().replace(/[:\s]/g, '').replace(/^0x/, '');
        const row = await tx.get<{ serial: string; revoked_at: string | null }>(
          'SELECT serial, revoked_at FROM ca_certificates WHERE ca = ? AND serial = ?',
          [req.ca, s.replace(/^00(?=[89a-f])/, '')],
        );
        if (!row) throw new CaRefusal(`no certificate with serial ${req.serial} from CA '${req.ca}'`, 404);
        serials = row.revoked_at ? [] : [row.serial];
      } else {
        const id = parseIdentity(req.identity as string);
        const rows = await tx.all<{ serial: string }>(
          'SELECT c.serial AS serial FROM ca_names n JOIN ca_certificates c ON c.serial = n.serial WHERE n.name = ? AND c.ca = ? AND c.revoked_at IS NULL AND c.not_after > ? ORDER BY c.serial',
          [id, req.ca, now],
        );
        serials = rows.map((x) => x.serial);
        if (serials.length === 0) throw new CaRefusal(`no unrevoked certificate of CA '${req.ca}' names ${id}`, 404);
      }
      for (const s of serials) {
        await tx.run('UPDATE ca_certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL', [
          now,
          reason,
          s,
        ]);
        await this.append(tx, { type: 'revoke', at: now, ca: req.ca, requester: req.requester, serial: s, reason }, 'revoked');
      }
      return serials;
    });
  }

  // ---------- retention ----------
  //
  // A certificate's row (its DER, names, revocation state) is needed while it can be presented: for renewal,
  // CRLs and OCSP. Once it has been expired for the retention period it is removed with its names; the
  // transparency log keeps its entry (serial, SHA-256, names, validity) for good, since the Merkle tree
  // covers it. CRLs list only revoked certificates that have not expired, so they shrink by themselves as
  // revoked certificates expire; pruning bounds the tables behind them. Spent and expired bootstrap
  // tokens go after the same period. Each prune is one log and audit entry.

  async prune(o: { retainDays: number; ca?: string; requester: string; batch?: number }): Promise<PruneResult> {
    if (!(o.retainDays >= 0 && o.retainDays <= 36500)) throw new InputError('retention must be 0 to 36500 days');
    if (o.ca !== undefined && !(await this.row(o.ca))) throw new CaRefusal(`unknown CA '${o.ca}'`, 404);
    const batch = Math.max(1, Math.min(o.batch ?? 500, 5000));
    const now = this.now();
    const cutoff = new Date(now.getTime() - o.retainDays * 86400000).toISOString();
    const scope = o.ca !== undefined ? ' AND ca = ?' : '';
    const args = o.ca !== undefined ? [cutoff, o.ca] : [cutoff];
    let certificates = 0;
    // Batches in their own transactions: a large backlog never holds one long write lock.
    for (;;) {
      const n = await this.o.store.transaction(async (tx) => {
        const rows = await tx.all<{ serial: string }>(
          `SELECT serial FROM ca_certificates WHERE not_after < ?${scope} ORDER BY not_after LIMIT ${batch}`,
          args,
        );
        if (rows.length === 0) return 0;
        const serials = rows.map((r) => r.serial);
        const marks = serials.map(() => '?').join(', ');
        await tx.run(`DELETE FROM ca_names WHERE serial IN (${marks})`, serials);
        return tx.run(`DELETE FROM ca_certificates WHERE serial IN (${marks})`, serials);
      });
      certificates += n;
      if (n === 0) break;
    }
    const tokens = await this.o.store.run(`DELETE FROM ca_tokens WHERE expires_at < ?${scope}`, args);
    const logIndex = await this.o.store.transaction((tx) =>
      this.append(
        tx,
        {
          type: 'prune',
          at: now.toISOString(),
          ca: o.ca ?? null,
          requester: o.requester,
          reason: `removed ${certificates} certificate record(s) and ${tokens} token(s) expired before ${cutoff}`,
        },
        'pruned',
      ),
    );
    return { certificates, tokens, cutoff, logIndex };
  }

  /** A generation of a CA that still holds its key (default: the issuing one). */
  private async liveGeneration(name: string, gen?: number): Promise<GenerationRow> {
    const r = await this.row(name);
    if (!r) throw new CaRefusal(`unknown CA '${name}'`, 404);
    const g = await this.o.store.get<GenerationRow>('SELECT * FROM ca_generations WHERE ca = ? AND gen = ?', [
      name,
      gen ?? Number(r.generation),
    ]);
    if (!g) throw new CaRefusal(`CA '${name}' has no generation ${gen}`, 404);
    if (g.key_sealed === null || g.state === 'retired') throw new CaRefusal(`generation ${g.gen} of CA '${name}' is retired`, 404);
    return g;
  }

  /**
   * A fresh CRL of every revoked, unexpired certificate one generation of the CA issued, signed by that
   * generation's key (default: the issuing generation); its CRL number only grows, across replicas.
   */
  async crl(name: string, validitySeconds = 86400, generation?: number): Promise<Uint8Array> {
    const g = await this.liveGeneration(name, generation);
    const gen = Number(g.gen);
    const now = this.now();
    const { number, rows } = await this.o.store.transaction(async (tx) => {
      await tx.lock(`ca_crl:${name}`);
      await tx.run('UPDATE ca_generations SET crl_number = crl_number + 1 WHERE ca = ? AND gen = ?', [name, gen]);
      const n = await tx.get<{ crl_number: number }>('SELECT crl_number FROM ca_generations WHERE ca = ? AND gen = ?', [name, gen]);
      const rows = await tx.all<{ serial: string; revoked_at: string; revocation_reason: string }>(
        'SELECT serial, revoked_at, revocation_reason FROM ca_certificates WHERE ca = ? AND generation = ? AND revoked_at IS NOT NULL AND not_after > ? ORDER BY serial',
        [name, gen, now.toISOString()],
      );
      return { number: Number(n?.crl_number ?? 1), rows };
    });
    const caCert = chainOf(g.chain_pem)[0] as Certificate;
    let key = this.genKey(name, gen, g.key_sealed as string, g.chain_pem);
    if (key instanceof Promise) key = await key;
    const crlReq = {
      entries: rows.map((x) => ({ serial: x.serial, revokedAt: new Date(x.revoked_at), reason: x.revocation_reason as CrlReason })),
      thisUpdate: new Date(now.getTime() - 60_000),
      nextUpdate: new Date(now.getTime() + validitySeconds * 1000),
      crlNumber: number,
    };
    return isExternalKey(key)
      ? (await createCrlAsync({ ...crlReq, issuer: { cert: caCert, key } })).der
      : createCrl({ ...crlReq, issuer: { cert: caCert, key } }).der;
  }

  /** Answer an OCSP request for the CA `name` (RFC 6960); errors are OCSP error responses, never exceptions. */
  async ocsp(name: string, requestDer: Uint8Array, validitySeconds = 3600): Promise<Uint8Array> {
    let req: ReturnType<typeof parseOcspRequest>;
    try {
      req = parseOcspRequest(requestDer);
    } catch {
      return ocspError('malformedRequest');
    }
    let r: CaRow | undefined;
    try {
      r = await this.row(name);
    } catch (e) {
      if (e instanceof StoreUnavailableError) return ocspError('tryLater');
      throw e;
    }
    if (!r) return ocspError('unauthorized');
    // The generation whose certificate the request names (during a rotation two generations answer).
    let gens: GenerationRow[];
    try {
      gens = await this.o.store.all<GenerationRow>("SELECT * FROM ca_generations WHERE ca = ? AND state <> 'retired' ORDER BY gen DESC", [
        name,
      ]);
    } catch (e) {
      if (e instanceof StoreUnavailableError) return ocspError('tryLater');
      throw e;
    }
    const g = gens.find((x) => x.key_sealed !== null && req.ids.every((id) => certIdMatches(id, chainOf(x.chain_pem)[0] as Certificate)));
    if (!g) return ocspError('unauthorized');
    const caCert = chainOf(g.chain_pem)[0] as Certificate;
    const answers: OcspAnswer[] = [];
    try {
      for (const id of req.ids) {
        const row = await this.o.store.get<{ revoked_at: string | null; revocation_reason: string | null }>(
          'SELECT revoked_at, revocation_reason FROM ca_certificates WHERE ca = ? AND generation = ? AND serial = ?',
          [name, Number(g.gen), id.serial],
        );
        answers.push({
          id,
          status: !row
            ? { status: 'unknown' }
            : row.revoked_at
              ? { status: 'revoked', revokedAt: new Date(row.revoked_at), reason: (row.revocation_reason ?? 'unspecified') as CrlReason }
              : { status: 'good' },
        });
      }
    } catch (e) {
      if (e instanceof StoreUnavailableError) return ocspError('tryLater');
      throw e;
    }
    const now = this.now();
    let key = this.genKey(name, Number(g.gen), g.key_sealed as string, g.chain_pem);
    if (key instanceof Promise) key = await key;
    const thisUpdate = new Date(now.getTime() - 60_000);
    const nextUpdate = new Date(now.getTime() + validitySeconds * 1000);
    return isExternalKey(key)
      ? ocspResponseAsync({ cert: caCert, key }, answers, thisUpdate, nextUpdate, req.nonce)
      : ocspResponse({ cert: caCert, key }, answers, thisUpdate, nextUpdate, req.nonce);
  }
}

export const LOG_FORMAT = 'anchorage.ca.log/v1';

export interface PruneResult {
  certificates: number;
  tokens: number;
  /** Records of certificates that expired before this instant were removed. */
  cutoff: string;
  logIndex: number;
}

export interface LogExport {
  format: typeof LOG_FORMAT;
  /** SPKI PEM of the key that signs tree heads. */
  logKey: string;
  treeHead: TreeHead;
  /** Each entry's exact bytes (UTF-8 JSON); the leaf hash is over these bytes. */
  entries: string[];
}
