// CA keys at rest: encrypted PKCS#8 in DIR/store, and the offline root's key out of the store.
//   - An encrypted key is PBES2 (PBKDF2-HMAC-SHA256, KDF_ITERATIONS, AES-256-CBC), the EncryptedPrivateKeyInfo
//     `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes; any PKCS#8 OpenSSL can decrypt (scrypt, other ciphers) is read.
//   - A key that cannot be used in this run is `locked` (materialize.ts): encrypted without a passphrase, or
//     removed from the store (DIR/store/keys.json records which). Whatever needs it refuses with one line
//     naming the key, why it is needed and the option that supplies it (lockedKeyError).
//   - Node trees never get an encrypted key: they are rendered from the decrypted KeyObject (store.ts).
import { type KeyObject, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { toPem } from '../x509/certificate.ts';
import { octetString, seq } from '../x509/der.ts';
import { KeyError, keyMatchesSpki, loadPrivateKey } from '../x509/keys.ts';
import { pbes2Encrypt } from '../x509/pbe.ts';
import { scanPem } from '../x509/pem.ts';
import { readBounded } from './journal.ts';
import type { KeyLock, Material } from './materialize.ts';

/** PBKDF2-HMAC-SHA256 iterations for a CA key written here (OWASP's 2023 figure; OpenSSL's default is 2048). */
export const KDF_ITERATIONS = 600_000;
/** DIR/store/keys.json: keys deliberately moved out of the store. */
export const KEYS_RECORD = 'keys.json';
const KEYS_SCHEMA = 'anchorage.pki-keys/v1';
const MAX_RECORD_BYTES = 64 * 1024;
const MAX_KEY_FILE_BYTES = 1024 * 1024;

export const PASSPHRASE_HINT = 'give its passphrase with --ca-passphrase (env:NAME, file:PATH or prompt)';

/** What a command may use to unlock CA keys in this run. */
export interface KeyAccess {
  /** Passphrase of the encrypted CA keys (--ca-passphrase, already resolved). */
  passphrase?: string;
  /** The offline root's key brought for this run only (--root-key FILE). */
  rootKeyFile?: string;
}

/** How store keys are written: CA keys encrypted (with this passphrase) or plain. */
export interface KeyWriting {
  encryptCaKeys: boolean;
  passphrase?: string;
}

export interface KeysRecord {
  schema: typeof KEYS_SCHEMA;
  /** Keys out of the store, by material id: the SHA-256 of their public key, and when they left. */
  removed: Record<string, { spkiSha256: string; at: string }>;
}

/** An encrypted PKCS#8 PEM (or a legacy OpenSSL `Proc-Type: 4,ENCRYPTED` one). */
export function isEncryptedKeyPem(text: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /^Proc-Type:\s*4,ENCRYPTED/m.test(text);
}

/** The key as PKCS#8 encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC): what OpenSSL writes, more iterations. */
export function encryptKeyPem(key: KeyObject, passphrase: string): string {
  if (passphrase === '') throw new InputError('the CA key passphrase is empty');
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const e = pbes2Encrypt(passphrase, der, KDF_ITERATIONS, randomBytes(16));
  return toPem('ENCRYPTED PRIVATE KEY', seq(e.algorithmId, octetString(e.data)));
}

/** Decrypt a store key; a wrong passphrase is one line naming the file. */
export function decryptKeyPem(text: string, passphrase: string, file: string): KeyObject {
  try {
    return loadPrivateKey(text, passphrase);
  } catch (e) {
    if (e instanceof KeyError && /wrong password/.test(e.message))
      throw new InputError(`${file}: wrong CA key passphrase (--ca-passphrase), or the file is damaged`);
    if (e instanceof InputError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

export function readKeysRecord(dir: string): KeysRecord {
  const path = join(dir, 'store', KEYS_RECORD);
  const empty: KeysRecord = { schema: KEYS_SCHEMA, removed: {} };
  if (!existsSync(path)) return empty;
  const bad = (why: string): InputError => new InputError(`${path}: not an Anchorage key record (${why}); restore it from a backup`);
  let doc: unknown;
  try {
    doc = JSON.parse(readBounded(path, MAX_RECORD_BYTES, 'key record').toString('utf8'));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw bad('not valid JSON');
  }
  const d = doc as Partial<KeysRecord> | null;
  if (!d || typeof d !== 'object' || d.schema !== KEYS_SCHEMA || !d.removed || typeof d.removed !== 'object') throw bad('schema');
  for (const [id, r] of Object.entries(d.removed))
    if (!/^[a-z0-9@.~-]{1,128}$/.test(id) || !r || typeof r.spkiSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.spkiSha256))
      throw bad(`entry ${id.slice(0, 40)}`);
  return { schema: KEYS_SCHEMA, removed: d.removed };
}

export function renderKeysRecord(r: KeysRecord): string {
  return `${JSON.stringify({ schema: KEYS_SCHEMA, removed: r.removed }, null, 2)}\n`;
}

/** The one line for a key this run cannot use: which key, why it is needed, what brings it. */
export function lockedKeyError(id: string, lock: KeyLock, why: string): InputError {
  if (lock.reason === 'removed')
    return new InputError(
      `the offline root key '${id}' is not in the store (moved out with 'pki root-key remove'); it is needed ${why}: bring it for this run with --root-key FILE`,
    );
  return new InputError(`${lock.file}: the key of CA '${id}' is encrypted; it is needed ${why}: ${PASSPHRASE_HINT}`);
}

/** The key of `m`, or the one line saying why this run cannot have it. */
export function usableKey(id: string, m: Material, why: string): KeyObject {
  if (m.key) return m.key;
  if (m.locked) throw lockedKeyError(id, m.locked, why);
  throw new InputError(`${id}: private key not available (${why.replace(/^to /, 'needed to ')})`);
}

/** Read a key file the user brings (--root-key, a backup): plain or encrypted PKCS#8, PKCS#1, SEC1. */
export function readKeyFile(path: string, passphrase: string | undefined, what: string): KeyObject {
  if (!existsSync(path)) throw new InputError(`${what} ${path}: no such file`);
  const data = readBounded(path, MAX_KEY_FILE_BYTES, 'key file');
  const text = data.toString('latin1');
  if (!scanPem(text).some((b) => /PRIVATE KEY$/.test(b.label))) throw new InputError(`${what} ${path}: not a PEM private key`);
  if (isEncryptedKeyPem(text)) {
    if (passphrase === undefined) throw new InputError(`${what} ${path}: the key is encrypted: ${PASSPHRASE_HINT}`);
    return decryptKeyPem(text, passphrase, `${what} ${path}`);
  }
  try {
    return loadPrivateKey(text);
  } catch (e) {
    throw new InputError(`${what} ${path}: ${(e as Error).message}`);
  }
}

/** Attach the offline root's key brought with --root-key: it must be the key of the root certificate in the store. */
export function attachRootKey(material: Map<string, Material>, rootId: string | undefined, access: KeyAccess): void {
  if (!access.rootKeyFile) return;
  if (!rootId) throw new InputError('--root-key: this cluster has no offline root CA (rootCA in the config)');
  const root = material.get(rootId);
  if (!root) throw new InputError(`--root-key: the store has no ${rootId} certificate`);
  const key = readKeyFile(access.rootKeyFile, access.passphrase, '--root-key');
  if (!keyMatchesSpki(key, root.cert.spki))
    throw new InputError(`--root-key ${access.rootKeyFile}: not the key of the root CA in the store (${root.cert.commonName ?? rootId})`);
  if (root.key) return; // the store still holds it: nothing to bring
  root.key = key;
  root.transient = true;
  delete root.locked;
}

/** The store keeps its CA keys encrypted when any CA key in it is (converted with `pki ca-keys`, or by hand with openssl). */
export function storeEncryptsCaKeys(material: Map<string, Material>): boolean {
  for (const m of material.values()) if (m.cert.isCA && m.stored && isEncryptedKeyPem(m.stored)) return true;
  return false;
}
