// `pki ca-keys encrypt|decrypt` and `pki root-key export|remove|restore`: how the CA keys sit in DIR/store.
// Each change is one journaled transaction (journal.ts) under the folder's lock, so a killed run leaves the
// old store or the new one. Node trees never change here: they always hold what their components use.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFilesAtomic } from '../common/atomic.ts';
import { InputError } from '../common/errors.ts';
import { keyMatchesSpki } from '../x509/keys.ts';
import type { ClusterConfig } from './config.ts';
import { readBounded, Transaction, type TxnOp, withPkiDir } from './journal.ts';
import {
  attachRootKey,
  isEncryptedKeyPem,
  type KeyAccess,
  PASSPHRASE_HINT,
  readKeyFile,
  readKeysRecord,
  renderKeysRecord,
  storeEncryptsCaKeys,
} from './key-protection.ts';
import type { Material } from './materialize.ts';
import { buildPlan } from './plan.ts';
import { type LoadedStore, loadStore, MAX_STORE_FILE_BYTES, storeKeyFile } from './store.ts';

const WHO = "another 'anchorage pki' command";

function existingStore(dir: string): void {
  let ok = false;
  try {
    ok = statSync(join(dir, 'store')).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new InputError(`${dir}: no PKI store (run 'anchorage pki init' first)`);
}

function refuseProblems(s: LoadedStore, ids: (id: string) => boolean): void {
  const p = s.problems.find((x) => ids(x.id));
  if (p) throw new InputError(`${p.file}: ${p.why}; restore it from a backup`);
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function currentBytes(path: string): Buffer | undefined {
  return existsSync(path) ? readBounded(path, MAX_STORE_FILE_BYTES, 'store file') : undefined;
}

export interface CaKeysResult {
  /** Store key files rewritten. */
  changed: string[];
  /** CA keys now in the store, with their state. */
  keys: { id: string; state: 'encrypted' | 'plain' | 'removed' }[];
}

function keyStates(material: Map<string, Material>, encrypted: boolean): CaKeysResult['keys'] {
  return [...material]
    .filter(([, m]) => m.cert.isCA && (m.key || m.locked))
    .map(([id, m]): CaKeysResult['keys'][number] => ({
      id,
      state: m.locked?.reason === 'removed' ? 'removed' : encrypted ? 'encrypted' : 'plain',
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Encrypt every CA key in the store with the passphrase, or decrypt them all. */
export async function convertCaKeys(o: { dir: string; to: 'encrypted' | 'plain'; keys: KeyAccess }): Promise<CaKeysResult> {
  existingStore(o.dir);
  if (o.keys.passphrase === undefined)
    throw new InputError(
      `${o.to === 'encrypted' ? 'encrypting' : 'decrypting'} the CA keys needs their passphrase: ${PASSPHRASE_HINT.replace(/^give its passphrase with /, 'give it with ')}`,
    );
  const op: TxnOp = { command: 'ca-keys', args: [o.to] };
  return withPkiDir(o.dir, WHO, async () => {
    const s = loadStore(o.dir, o.keys);
    // A CA whose certificate or key cannot be read is refused; leaves, sa.key and the encryption key are not this command's.
    refuseProblems(s, (id) => s.material.get(id)?.cert.isCA ?? !(id.includes('@') || id === 'sa-key' || id === 'encryption-key'));
    const writing = { encryptCaKeys: o.to === 'encrypted', passphrase: o.keys.passphrase as string };
    const changed: string[] = [];
    const txn = new Transaction(o.dir);
    try {
      for (const [id, m] of s.material) {
        if (!m.cert.isCA || (!m.key && !m.locked)) continue;
        const data = storeKeyFile(id, m, writing);
        if (data === undefined) continue;
        const path = join(o.dir, 'store', `${id}.key`);
        if (currentBytes(path)?.equals(Buffer.from(data))) continue;
        txn.put(path, data, 0o600);
        changed.push(id);
      }
      if (txn.size > 0) await txn.commit(op);
      else txn.abort();
    } catch (e) {
      txn.abort();
      throw e;
    }
    return { changed: changed.sort(), keys: keyStates(s.material, o.to === 'encrypted') };
  });
}

function rootOf(config: ClusterConfig): string {
  const id = buildPlan(config).certs.find((p) => p.offline)?.id;
  if (!id) throw new InputError('this cluster has no offline root CA (rootCA in the config): there is no root key to move');
  return id;
}

/** Copy the offline root's key, as the store holds it (encrypted or not), to a file of the user's. */
export async function exportRootKey(o: { dir: string; config: ClusterConfig; out: string; force?: boolean }): Promise<{
  id: string;
  out: string;
  encrypted: boolean;
}> {
  existingStore(o.dir);
  const id = rootOf(o.config);
  const storeFile = join(o.dir, 'store', `${id}.key`);
  const outAbs = resolve(o.out);
  if (resolve(dirname(outAbs)) === safeReal(join(o.dir, 'store')) || outAbs === resolve(storeFile))
    throw new InputError(`--out ${o.out}: inside the store; export the key out of DIR/store`);
  return withPkiDir(o.dir, WHO, async () => {
    const data = currentBytes(storeFile);
    if (!data) {
      const removed = readKeysRecord(o.dir).removed[id];
      throw new InputError(
        removed
          ? `${storeFile}: the root key was already removed from the store (${removed.at}); it is wherever it was exported to`
          : `${storeFile}: missing: there is no root key to export`,
      );
    }
    writeFilesAtomic([{ path: o.out, data, mode: 0o600 }], { overwrite: !!o.force });
    return { id, out: o.out, encrypted: isEncryptedKeyPem(data.toString('latin1')) };
  });
}

function safeReal(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Take the offline root's key out of the store, once `backup` is proved to hold it. */
export async function removeRootKey(o: { dir: string; config: ClusterConfig; backup: string; keys: KeyAccess }): Promise<{
  id: string;
  spkiSha256: string;
}> {
  existingStore(o.dir);
  const id = rootOf(o.config);
  const storeFile = join(o.dir, 'store', `${id}.key`);
  const op: TxnOp = { command: 'root-key', args: ['remove'] };
  return withPkiDir(o.dir, WHO, async () => {
    const data = currentBytes(storeFile);
    if (!data) throw new InputError(`${storeFile}: not in the store (already removed?): nothing to remove`);
    const s = loadStore(o.dir);
    const root = s.material.get(id);
    if (!root) throw new InputError(`${join(o.dir, 'store', `${id}.crt`)}: missing: the store has no root certificate`);
    if (!existsSync(o.backup)) throw new InputError(`--backup ${o.backup}: no such file (export it first: pki root-key export --out FILE)`);
    // The copy must hold this very key: byte for byte, or decrypted and matched with the root certificate.
    const copy = readBounded(o.backup, MAX_STORE_FILE_BYTES, 'key file');
    if (!copy.equals(data)) {
      const key = readKeyFile(o.backup, o.keys.passphrase, '--backup');
      if (!keyMatchesSpki(key, root.cert.spki)) throw new InputError(`--backup ${o.backup}: not the root key (${id}); nothing removed`);
    }
    const spkiSha256 = sha256(root.cert.spki);
    const record = readKeysRecord(o.dir);
    record.removed[id] = { spkiSha256, at: new Date().toISOString() };
    const txn = new Transaction(o.dir);
    try {
      txn.put(join(o.dir, 'store', 'keys.json'), renderKeysRecord(record), 0o644);
      txn.remove(storeFile);
      await txn.commit(op);
    } catch (e) {
      txn.abort();
      throw e;
    }
    return { id, spkiSha256 };
  });
}

/** Put the offline root's key back into the store (encrypted when the store's CA keys are). */
export async function restoreRootKey(o: { dir: string; config: ClusterConfig; from: string; keys: KeyAccess }): Promise<{
  id: string;
  encrypted: boolean;
}> {
  existingStore(o.dir);
  const id = rootOf(o.config);
  const storeFile = join(o.dir, 'store', `${id}.key`);
  const op: TxnOp = { command: 'root-key', args: ['restore'] };
  return withPkiDir(o.dir, WHO, async () => {
    if (existsSync(storeFile)) throw new InputError(`${storeFile}: the root key is already in the store`);
    const s = loadStore(o.dir, o.keys);
    const root = s.material.get(id);
    if (!root) throw new InputError(`${join(o.dir, 'store', `${id}.crt`)}: missing: the store has no root certificate`);
    attachRootKey(s.material, id, { ...o.keys, rootKeyFile: o.from });
    const text = readBounded(o.from, MAX_STORE_FILE_BYTES, 'key file').toString('latin1');
    const m: Material = { cert: root.cert, ...(root.key ? { key: root.key } : {}), ...(isEncryptedKeyPem(text) ? { stored: text } : {}) };
    const encrypted = storeEncryptsCaKeys(s.material);
    const data = storeKeyFile(id, m, {
      encryptCaKeys: encrypted,
      ...(o.keys.passphrase !== undefined ? { passphrase: o.keys.passphrase } : {}),
    }) as string;
    const record = readKeysRecord(o.dir);
    delete record.removed[id];
    const txn = new Transaction(o.dir);
    try {
      txn.put(storeFile, data, 0o600);
      txn.put(join(o.dir, 'store', 'keys.json'), renderKeysRecord(record), 0o644);
      await txn.commit(op);
    } catch (e) {
      txn.abort();
      throw e;
    }
    return { id, encrypted };
  });
}
