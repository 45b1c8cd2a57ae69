// CA keys on a PKCS#11 token (an HSM, or SoftHSM): generated on the token as sensitive, non-extractable
// objects, and used there; this process only ever holds a handle and the public key. The binding is the
// native addon pkcs11js (an optionalDependency, loaded on first use): one loaded module per process, a
// few logged-in sessions per token, signatures through C_SignAsync on libuv's pool (the event loop is not
// held while a slow HSM signs). The key is named by an RFC 7512 URI (token, object, id), stored in place of
// the sealed key; the PIN comes from a file or the environment when a key is first used, never from the
// database and never logged. docs/ca.md (PKCS#11) and docs/architecture.md say why this binding.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InputError } from '../common/errors.ts';
import { parse } from '../x509/der.ts';
import { type Digest, describeSpki, type ExternalKey, ecdsaRawToDer, type KeyType, keyTypeFromInfo, spkiDer } from '../x509/keys.ts';

/** Where Debian (and others) put SoftHSM's module: the default when no module is named. */
export const SOFTHSM_MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

export interface Pkcs11Options {
  /** Path of the PKCS#11 module (default: SoftHSM where it is installed). */
  module?: string;
  /** The user PIN, read when a token is first logged into (from a file or env, never stored). */
  pin?: () => string;
}

export interface Pkcs11Uri {
  token: string;
  object?: string;
  id?: Buffer;
}

const MAX_URI = 1024;

function pctDecode(v: string, what: string): Buffer {
  if (!/^(?:[^%]|%[0-9a-fA-F]{2})*$/.test(v)) throw new InputError(`PKCS#11 URI: bad percent-encoding in ${what}`);
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    if (v[i] === '%') {
      out.push(Number.parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(v[i] as string, 'utf8'));
  }
  return Buffer.from(out);
}

const pctEncode = (b: Buffer, all = false): string =>
  [...b]
    .map((c) => (!all && /[A-Za-z0-9\-._~ ]/.test(String.fromCharCode(c)) ? String.fromCharCode(c) : `%${c.toString(16).padStart(2, '0')}`))
    .join('')
    .replaceAll(' ', '%20');

/**
 * `pkcs11:token=LABEL;object=LABEL[;id=%01%02]` (RFC 7512 path attributes). A PIN in the URI (pin-value,
 * pin-source) is refused: the PIN comes from --pkcs11-pin, so it never lands in the store with the URI.
 */
export function parsePkcs11Uri(s: string): Pkcs11Uri {
  if (s.length > MAX_URI) throw new InputError(`PKCS#11 URI longer than ${MAX_URI} characters`);
  if (!s.startsWith('pkcs11:')) throw new InputError(`'${s.slice(0, 60)}' is not a PKCS#11 URI (pkcs11:token=…;object=…)`);
  const [path = '', query] = s.slice(7).split('?', 2);
  if (query !== undefined && query !== '')
    throw new InputError(
      'PKCS#11 URI: query attributes (pin-value, pin-source, module-path) are not taken: use --pkcs11-pin and --pkcs11-module',
    );
  const u: Partial<Pkcs11Uri> = {};
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new InputError(`PKCS#11 URI: '${part}' is not name=value`);
    const k = part.slice(0, eq);
    const v = pctDecode(part.slice(eq + 1), k);
    if (k === 'token') u.token = v.toString('utf8');
    else if (k === 'object') u.object = v.toString('utf8');
    else if (k === 'id') u.id = v;
    else if (k === 'type') {
      if (!['private', 'public'].includes(v.toString())) throw new InputError(`PKCS#11 URI: type=${v} is not a key`);
    } else if (k === 'pin-value' || k === 'pin-source') throw new InputError('PKCS#11 URI: a PIN does not go in the URI: use --pkcs11-pin');
    else throw new InputError(`PKCS#11 URI: attribute '${k}' is not supported (token, object, id)`);
  }
  if (!u.token) throw new InputError('PKCS#11 URI: token=LABEL is required');
  if (u.token.length > 32) throw new InputError('PKCS#11 URI: a token label has at most 32 characters');
  if (u.object === undefined && u.id === undefined) throw new InputError('PKCS#11 URI: object=LABEL (or id=…) is required');
  return u as Pkcs11Uri;
}

export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const parts = [`token=${pctEncode(Buffer.from(u.token, 'utf8'))}`];
  if (u.object !== undefined) parts.push(`object=${pctEncode(Buffer.from(u.object, 'utf8'))}`);
  if (u.id !== undefined) parts.push(`id=${pctEncode(u.id, true)}`);
  return `pkcs11:${parts.join(';')}`;
}

export const isPkcs11Ref = (sealed: string): boolean => sealed.startsWith('pkcs11:');

// ---------- the binding: only what this file uses of pkcs11js ----------

type Handle = Buffer;
interface Attr {
  type: number;
  value?: number | boolean | string | Buffer | null;
}
interface P11 {
  load(path: string): void;
  C_Initialize(o?: { flags?: number }): void;
  C_Finalize(): void;
  C_GetSlotList(present?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { label: string; flags: number };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(s: Handle): void;
  C_Login(s: Handle, user: number, pin?: string): void;
  C_FindObjectsInit(s: Handle, t: Attr[]): void;
  C_FindObjects(s: Handle, max: number): Handle[];
  C_FindObjectsFinal(s: Handle): void;
  C_GetAttributeValue(s: Handle, o: Handle, t: Attr[]): { type: number; value: Buffer }[];
  C_GenerateKeyPair(
    s: Handle,
    m: { mechanism: number; parameter?: Buffer },
    pub: Attr[],
    priv: Attr[],
  ): { publicKey: Handle; privateKey: Handle };
  C_SignInit(s: Handle, m: { mechanism: number }, key: Handle): void;
  C_SignAsync(s: Handle, data: Buffer, out: Buffer): Promise<Buffer>;
  C_DestroyObject(s: Handle, o: Handle): void;
}
interface P11Module {
  PKCS11: new () => P11;
  [constant: string]: unknown;
}

// PKCS#11 constants (v2.40), written here so no type depends on the optional package.
const CKF_SERIAL_SESSION = 0x4;
const CKF_RW_SESSION = 0x2;
const CKF_OS_LOCKING_OK = 0x2;
const CKF_TOKEN_INITIALIZED = 0x400;
const CKU_USER = 1;
const CKO_PUBLIC_KEY = 2;
const CKO_PRIVATE_KEY = 3;
const CKK_RSA = 0;
const CKK_EC = 3;
const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  WRAP: 0x106,
  UNWRAP: 0x107,
  SIGN: 0x108,
  VERIFY: 0x10a,
  DERIVE: 0x10c,
  MODULUS: 0x120,
  MODULUS_BITS: 0x121,
  PUBLIC_EXPONENT: 0x122,
  EXTRACTABLE: 0x162,
  EC_PARAMS: 0x180,
  EC_POINT: 0x181,
} as const;
const CKM = {
  RSA_PKCS_KEY_PAIR_GEN: 0x0,
  SHA256_RSA_PKCS: 0x40,
  SHA384_RSA_PKCS: 0x41,
  SHA512_RSA_PKCS: 0x42,
  EC_KEY_PAIR_GEN: 0x1040,
  ECDSA: 0x1041,
} as const;
const CURVES: Record<string, { params: string; crv: string; size: number }> = {
  // namedCurve OIDs, DER: prime256v1 and secp384r1.
  'ecdsa-p256': { params: '06082a8648ce3d030107', crv: 'P-256', size: 32 },
  'ecdsa-p384': { params: '06052b81040022', crv: 'P-384', size: 48 },
};
const RSA_BITS: Record<string, number> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };

/** The CKA_ID of a key this code makes (16 bytes of SHA-256 over a fixed prefix, its owner and label). */
const ownId = (ownerAndLabel: string): Buffer => createHash('sha256').update(`anchorage-ca-key\0${ownerAndLabel}`).digest().subarray(0, 16);

const RSA_MECH: Record<Digest, number> = { sha256: CKM.SHA256_RSA_PKCS, sha384: CKM.SHA384_RSA_PKCS, sha512: CKM.SHA512_RSA_PKCS };
/** Sessions per token that sign at once. */
const MAX_SESSIONS = 4;

/** The PKCS#11 return code in a pkcs11js error (CKR_PIN_INCORRECT …), else the message. */
const ckr = (e: unknown): string => {
  const m = (e as Error)?.message ?? String(e);
  return /CKR_[A-Z_]+/.exec(m)?.[0] ?? m.split('\n')[0] ?? 'error';
};

function loadBinding(): P11Module {
  try {
    return createRequire(import.meta.url)('pkcs11js') as P11Module;
  } catch (e) {
    throw new InputError(
      `PKCS#11 needs the optional package pkcs11js, which did not load (${(e as Error).message.split('\n')[0]}): install it with a C++ compiler present (npm install pkcs11js)`,
    );
  }
}

export function defaultModule(env: NodeJS.ProcessEnv = process.env): string {
  const named = env.ANCHORAGE_PKCS11_MODULE;
  if (named) return named;
  const found = SOFTHSM_MODULES.find((p) => existsSync(p));
  if (!found) throw new InputError('no PKCS#11 module: give --pkcs11-module PATH or set ANCHORAGE_PKCS11_MODULE (SoftHSM was not found)');
  return found;
}

interface Session {
  h: Handle;
  busy: boolean;
}

class Token {
  private readonly sessions: Session[] = [];
  private readonly waiting: ((s: Session) => void)[] = [];
  private readonly p11: P11;
  private readonly slot: Handle;
  readonly label: string;
  constructor(p11: P11, slot: Handle, label: string) {
    this.p11 = p11;
    this.slot = slot;
    this.label = label;
  }

  /** The first session logs the token in (login state is shared by all of this process's sessions). */
  login(pin: string): void {
    const h = this.p11.C_OpenSession(this.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    try {
      this.p11.C_Login(h, CKU_USER, pin);
    } catch (e) {
      const code = ckr(e);
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
        this.p11.C_CloseSession(h);
        if (code === 'CKR_PIN_INCORRECT') throw new InputError(`wrong PIN for PKCS#11 token '${this.label}'`);
        if (code === 'CKR_PIN_LOCKED') throw new InputError(`the PIN of PKCS#11 token '${this.label}' is locked`);
        throw new InputError(`cannot log into PKCS#11 token '${this.label}': ${code}`);
      }
    }
    this.sessions.push({ h, busy: false });
  }

  /** A session for a call that finishes synchronously (search, generation). */
  get any(): Handle {
    return (this.sessions[0] as Session).h;
  }

  async withSession<T>(f: (h: Handle) => Promise<T>): Promise<T> {
    let s = this.sessions.find((x) => !x.busy);
    if (!s && this.sessions.length < MAX_SESSIONS) {
      s = { h: this.p11.C_OpenSession(this.slot, CKF_SERIAL_SESSION), busy: false };
      this.sessions.push(s);
    }
    if (!s) s = await new Promise<Session>((r) => this.waiting.push(r));
    s.busy = true;
    try {
      return await f(s.h);
    } finally {
      const next = this.waiting.shift();
      if (next) next(s);
      else s.busy = false;
    }
  }

  find(template: Attr[]): Handle[] {
    const h = this.any;
    this.p11.C_FindObjectsInit(h, template);
    try {
      return this.p11.C_FindObjects(h, 16);
    } finally {
      this.p11.C_FindObjectsFinal(h);
    }
  }

  close(): void {
    for (const s of this.sessions.splice(0)) {
      try {
        this.p11.C_CloseSession(s.h);
      } catch {}
    }
  }
}

/** One loaded PKCS#11 module and its logged-in tokens. */
export class Pkcs11Keys {
  private readonly tokens = new Map<string, Token>();
  private readonly p11: P11;
  private readonly pin: () => string;
  private constructor(p11: P11, pin: () => string) {
    this.p11 = p11;
    this.pin = pin;
  }

  static open(o: Pkcs11Options = {}, env: NodeJS.ProcessEnv = process.env): Pkcs11Keys {
    const path = o.module ?? defaultModule(env);
    if (!existsSync(path)) throw new InputError(`PKCS#11 module ${path} does not exist`);
    const mod = loadBinding();
    const p11 = new mod.PKCS11();
    try {
      p11.load(path);
    } catch (e) {
      throw new InputError(`cannot load the PKCS#11 module ${path}: ${(e as Error).message.split('\n')[0]}`);
    }
    try {
      p11.C_Initialize({ flags: CKF_OS_LOCKING_OK });
    } catch (e) {
      if (ckr(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw new InputError(`cannot initialise the PKCS#11 module ${path}: ${ckr(e)}`);
    }
    const pin =
      o.pin ??
      (() => {
        throw new InputError(
          'no PKCS#11 PIN: give --pkcs11-pin file:PATH|env:NAME, or set ANCHORAGE_PKCS11_PIN_SPEC or ANCHORAGE_PKCS11_PIN',
        );
      });
    return new Pkcs11Keys(p11, pin);
  }

  private token(label: string): Token {
    let t = this.tokens.get(label);
    if (t) return t;
    const slot = this.p11.C_GetSlotList(true).find((s) => {
      const info = this.p11.C_GetTokenInfo(s);
      return (info.flags & CKF_TOKEN_INITIALIZED) !== 0 && info.label.replace(/[ \0]+$/, '') === label;
    });
    if (!slot) throw new InputError(`no PKCS#11 token labelled '${label}'`);
    t = new Token(this.p11, slot, label);
    t.login(this.pin());
    this.tokens.set(label, t);
    return t;
  }

  private objectTemplate(cls: number, u: Pkcs11Uri): Attr[] {
    const t: Attr[] = [{ type: CKA.CLASS, value: cls }];
    if (u.object !== undefined) t.push({ type: CKA.LABEL, value: u.object });
    if (u.id !== undefined) t.push({ type: CKA.ID, value: u.id });
    return t;
  }

  /**
   * Make a key pair on the token: the private key sensitive, never extractable, a token object.
   * Returns the key and its URI with the object's id (what the store keeps).
   */
  generate(
    uriText: string,
    keyType: KeyType,
    o: { adopt?: boolean; owner?: string } = {},
  ): { key: ExternalKey; uri: string; adopted?: true } {
    const u = parsePkcs11Uri(uriText);
    if (u.object === undefined) throw new InputError('PKCS#11 URI: a new key needs object=LABEL');
    const t = this.token(u.token);
    // The id is derived from the owner (a CA and its generation) and the label, so the key this code made
    // for that owner can be told from anyone else's object, and from the retired key of another CA.
    const id = u.id ?? ownId(`${o.owner ?? ''}\0${u.object}`);
    if (t.find([{ type: CKA.LABEL, value: u.object }]).length > 0) {
      // A key made here by a run that was killed before the store recorded it: the rerun takes it over.
      const full = formatPkcs11Uri({ token: u.token, object: u.object, id });
      const ours =
        o.adopt &&
        u.id === undefined &&
        t.find([
          { type: CKA.CLASS, value: CKO_PRIVATE_KEY },
          { type: CKA.LABEL, value: u.object },
          { type: CKA.ID, value: id },
        ]).length === 1 &&
        t.find([{ type: CKA.LABEL, value: u.object }]).length === 2;
      if (!ours) throw new InputError(`PKCS#11 token '${u.token}' already holds an object labelled '${u.object}': choose another object=`);
      const key = this.key(full);
      const have = keyTypeFromInfo(describeSpki(parse(spkiDer(key.publicKey))));
      if (have !== keyType)
        throw new InputError(
          `PKCS#11 token '${u.token}' holds an unused ${have ?? 'unknown'} key '${u.object}' left by an interrupted run, not ${keyType}: delete it (pkcs11-tool --delete-object) or choose another object=`,
        );
      return { key, uri: full, adopted: true };
    }
    const common: Attr[] = [
      { type: CKA.TOKEN, value: true },
      { type: CKA.LABEL, value: u.object },
      { type: CKA.ID, value: id },
    ];
    // A CA key signs and does nothing else (no decryption, unwrapping or key agreement).
    const pub: Attr[] = [
      ...common,
      { type: CKA.VERIFY, value: true },
      { type: CKA.ENCRYPT, value: false },
      { type: CKA.WRAP, value: false },
    ];
    const priv: Attr[] = [
      ...common,
      { type: CKA.PRIVATE, value: true },
      { type: CKA.SENSITIVE, value: true },
      { type: CKA.EXTRACTABLE, value: false },
      { type: CKA.SIGN, value: true },
      { type: CKA.DECRYPT, value: false },
      { type: CKA.UNWRAP, value: false },
      { type: CKA.DERIVE, value: false },
    ];
    let mechanism: number;
    const curve = CURVES[keyType];
    if (curve) {
      mechanism = CKM.EC_KEY_PAIR_GEN;
      pub.push({ type: CKA.EC_PARAMS, value: Buffer.from(curve.params, 'hex') });
    } else if (RSA_BITS[keyType]) {
      mechanism = CKM.RSA_PKCS_KEY_PAIR_GEN;
      pub.push({ type: CKA.MODULUS_BITS, value: RSA_BITS[keyType] }, { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
    } else throw new InputError(`key type ${keyType} cannot be made on a PKCS#11 token here (ecdsa-p256, ecdsa-p384, rsa-*)`);
    try {
      this.p11.C_GenerateKeyPair(t.any, { mechanism }, pub, priv);
    } catch (e) {
      throw new InputError(`PKCS#11 token '${u.token}' could not make a ${keyType} key: ${ckr(e)}`);
    }
    const full: Pkcs11Uri = { token: u.token, object: u.object, id };
    return { key: this.key(formatPkcs11Uri(full)), uri: formatPkcs11Uri(full) };
  }

  /** The key the URI names (exactly one private key, with its public key object). */
  key(uriText: string): ExternalKey {
    const u = parsePkcs11Uri(uriText);
    const t = this.token(u.token);
    const privs = t.find(this.objectTemplate(CKO_PRIVATE_KEY, u));
    if (privs.length === 0) throw new InputError(`no private key ${formatPkcs11Uri(u)} on PKCS#11 token '${u.token}'`);
    if (privs.length > 1) throw new InputError(`${formatPkcs11Uri(u)} names ${privs.length} private keys: add id=`);
    const handle = privs[0] as Handle;
    const [kt] = this.p11.C_GetAttributeValue(t.any, handle, [{ type: CKA.KEY_TYPE }]);
    const keyType = kt && kt.value.length >= 4 ? kt.value.readUInt32LE(0) : undefined;
    const pubs = t.find(this.objectTemplate(CKO_PUBLIC_KEY, u));
    if (pubs.length !== 1) throw new InputError(`the public key of ${formatPkcs11Uri(u)} is not on the token (found ${pubs.length})`);
    const publicKey = this.publicKeyOf(t, pubs[0] as Handle, keyType);
    const p11 = this.p11;
    const isEc = keyType === CKK_EC;
    const size = isEc
      ? publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? 96
        : 64
      : (publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8;
    return {
      publicKey,
      sign: (data, digest) =>
        t.withSession(async (h) => {
          try {
            if (isEc) {
              p11.C_SignInit(h, { mechanism: CKM.ECDSA }, handle);
              const raw = await p11.C_SignAsync(h, createHash(digest).update(data).digest(), Buffer.alloc(size));
              return ecdsaRawToDer(raw);
            }
            p11.C_SignInit(h, { mechanism: RSA_MECH[digest] }, handle);
            return new Uint8Array(await p11.C_SignAsync(h, Buffer.from(data), Buffer.alloc(size)));
          } catch (e) {
            if (e instanceof InputError) throw e;
            throw new Error(`PKCS#11 token '${u.token}' did not sign: ${ckr(e)}`);
          }
        }),
    };
  }

  private publicKeyOf(t: Token, h: Handle, keyType: number | undefined): KeyObject {
    const b64u = (b: Buffer) => b.toString('base64url');
    if (keyType === CKK_EC) {
      const [params, point] = this.p11.C_GetAttributeValue(t.any, h, [{ type: CKA.EC_PARAMS }, { type: CKA.EC_POINT }]);
      const curve = Object.values(CURVES).find((c) => params?.value.toString('hex') === c.params);
      if (!curve || !point) throw new InputError('the key on the token is on a curve other than P-256 or P-384');
      // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some tokens give the point bare).
      let p = point.value;
      if (p.length !== 1 + 2 * curve.size) p = p.subarray(p.length - (1 + 2 * curve.size));
      if (p[0] !== 4) throw new InputError('the key on the token has a compressed or malformed EC point');
      return createPublicKey({
        key: { kty: 'EC', crv: curve.crv, x: b64u(p.subarray(1, 1 + curve.size)), y: b64u(p.subarray(1 + curve.size)) },
        format: 'jwk',
      });
    }
    if (keyType === CKK_RSA) {
      const [n, e] = this.p11.C_GetAttributeValue(t.any, h, [{ type: CKA.MODULUS }, { type: CKA.PUBLIC_EXPONENT }]);
      return createPublicKey({ key: { kty: 'RSA', n: b64u(n?.value as Buffer), e: b64u(e?.value as Buffer) }, format: 'jwk' });
    }
    throw new InputError('the key on the token is neither RSA nor EC');
  }

  close(): void {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
    try {
      this.p11.C_Finalize();
    } catch {}
  }
}
