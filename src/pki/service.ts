// Orchestration of the PKI directory: init, renew, rotate. Each state-changing command is one journaled
// transaction (journal.ts) under the folder's lock: it first finishes or discards what a killed run left,
// reads the store (damaged files are repaired when nothing depends on them, refused with one line when
// something does), computes the whole new state in memory, stages it, commits, applies.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from '../x509/build.ts';
import { Certificate } from '../x509/certificate.ts';
import { generateKey } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';
import { type ClusterConfig, parseClusterConfig } from './config.ts';
import { mkdirs, pendingTransaction, type Recovery, readBounded, Transaction, type TxnOp, withPkiDir } from './journal.ts';
import { attachRootKey, type KeyAccess, type KeyWriting, storeEncryptsCaKeys, usableKey } from './key-protection.ts';
import { type Decision, type Material, type MaterialMap, materialize } from './materialize.ts';
import { buildPlan, type Plan } from './plan.ts';
import {
  applyPhase,
  checkConsistent,
  checkRotatable,
  nextId,
  PHASES,
  type Phase,
  parseRotationState,
  previousId,
  type RotationState,
  rollback,
  trustOverrides,
} from './rotate.ts';
import {
  type Changes,
  type LoadedStore,
  loadStore,
  MAX_STORE_FILE_BYTES,
  type Manifest,
  newSaKey,
  newSecrets,
  renderNodeFiles,
  renderStore,
  type Secrets,
  stageDir,
  type TrustOverrides,
} from './store.ts';

export type Progress = (stage: string, done: number, total: number) => void;

const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
const MAX_ROTATION_BYTES = 4 * 1024 * 1024;
const WHO = "another 'anchorage pki' command";

export function loadConfigFile(path: string): ClusterConfig {
  if (!existsSync(path)) throw new InputError(`${path}: no such file`);
  return parseClusterConfig(readBounded(path, MAX_CONFIG_BYTES, 'config').toString('utf8'), path);
}

/** The config saved in DIR by init, or the one given. */
export function configFor(dir: string, configPath?: string): ClusterConfig {
  if (configPath) return loadConfigFile(configPath);
  const saved = join(dir, 'cluster.yaml');
  if (!existsSync(saved))
    throw new InputError(`${dir}: no cluster.yaml (run 'anchorage pki init --config FILE --out ${dir}' first, or pass --config)`);
  return loadConfigFile(saved);
}

export function readRotation(dir: string): RotationState | undefined {
  const p = join(dir, 'rotation.json');
  if (!existsSync(p)) return undefined;
  return parseRotationState(readBounded(p, MAX_ROTATION_BYTES, 'rotation state').toString('utf8'), p);
}

/** A committed but unfinished transaction in DIR, for read-only commands to mention. */
export function interrupted(dir: string): TxnOp | undefined {
  return pendingTransaction(dir);
}

/** External CA certificates (no keys) from the config's paths. */
function externalMaterial(c: ClusterConfig, baseDir: string): MaterialMap {
  const m: MaterialMap = new Map();
  for (const [id, path] of [
    ['ca', c.externalCA?.ca],
    ['front-proxy-ca', c.externalCA?.frontProxyCA],
    ['etcd-ca', c.externalCA?.etcdCA],
  ] as const) {
    if (!path) continue;
    const full = path.startsWith('/') ? path : join(baseDir, path);
    if (!existsSync(full)) throw new InputError(`externalCA: ${full}: no such file`);
    const block = scanPem(readBounded(full, MAX_STORE_FILE_BYTES, 'certificate').toString('latin1')).find((b) => b.label === 'CERTIFICATE');
    if (!block) throw new InputError(`externalCA: ${full}: no certificate`);
    m.set(id, { cert: new Certificate(block.der) });
  }
  return m;
}

/** What a killed run left, as the rerun found it. */
export interface Resumed {
  /** The committed transaction this run finished, with what its command would have printed. */
  finished?: { command: string; args: string[]; changes?: Changes; note?: string };
  /** An uncommitted transaction was thrown away: its command changed nothing. */
  discarded: boolean;
}

function resumed(r: Recovery): Resumed {
  const out: Resumed = { discarded: r.discarded };
  if (r.finished) out.finished = r.finished as Resumed['finished'];
  return out;
}

/** The output folder: created when missing; anything else that is in the way is one line. */
function ensureOutDir(out: string): void {
  try {
    mkdirs(out, 0o755);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new InputError(`--out ${out}: not a directory`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
      throw new InputError(`--out ${out}: cannot create it (permission denied)`);
    throw new InputError(`--out ${out}: cannot create it (${code ?? (e as Error).message})`);
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(out);
  } catch (e) {
    throw new InputError(`--out ${out}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  if (!st.isDirectory()) throw new InputError(`--out ${out}: not a directory`);
}

function existingDir(dir: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(`${dir}: no such directory (run 'anchorage pki init' first)`);
  }
  if (!st.isDirectory()) throw new InputError(`${dir}: not a directory`);
}

/**
 * Damaged store files: a leaf is simply re-issued (nothing depends on it); a CA, the service-account
 * key or the encryption key is regenerated only by an init that nothing was distributed from yet and
 * that nothing in the store depends on, and refused with one line naming the file otherwise.
 */
function resolveProblems(plan: Plan, s: LoadedStore, dir: string, canRegenerate: boolean): void {
  const distributed = existsSync(join(dir, 'manifest.json'));
  const planned = new Map(plan.certs.map((p) => [p.id, p]));
  for (const pr of s.problems) {
    if (pr.id === 'encryption-key' && !encryptionOn(plan)) continue; // not used: left as it is
    const p = planned.get(pr.id);
    if (p && !p.ca) {
      continue; // re-issued: its certificate or key is unreadable, so it no longer fits
    }
    if (!p && !pr.id.includes('~') && pr.id !== 'sa-key' && pr.id !== 'encryption-key') continue; // not in the plan: removed
    const dependents = p ? plan.certs.filter((c) => c.signer === pr.id && s.material.has(c.id)).length : 0;
    if (canRegenerate && !distributed && dependents === 0 && !pr.id.includes('~')) {
      s.material.delete(pr.id);
      if (pr.id === 'sa-key') delete s.saKey;
      if (pr.id === 'encryption-key') delete s.encryptionKey;
      continue;
    }
    const why = dependents
      ? `${dependents} certificate(s) in the store depend on it`
      : distributed
        ? 'node trees were already made from it'
        : 'the rotation depends on it';
    throw new InputError(
      `${pr.file}: ${pr.why}; ${why}: restore it from a backup${canRegenerate || pr.id.includes('~') ? '' : ", or re-issue everything with 'anchorage pki init --force'"}`,
    );
  }
}

function keepRotationMaterial(from: MaterialMap, to: MaterialMap, state: RotationState | undefined): void {
  if (!state) return;
  for (const id of [nextId(state.ca), previousId(state.ca)]) {
    const m = from.get(id);
    if (m) to.set(id, m);
  }
}

const encryptionOn = (plan: Plan): boolean => plan.config.encryptionAtRest?.enabled === true;

/** Whether the node trees already hold an encryption config (so its key was distributed). */
function encryptionConfigDistributed(dir: string): boolean {
  try {
    const m = JSON.parse(readBounded(join(dir, 'manifest.json'), 512 * 1024 * 1024, 'manifest').toString('utf8')) as Manifest;
    return m.files.some((f) => f.kind === 'encryption-config');
  } catch {
    return existsSync(join(dir, 'manifest.json')); // unreadable: assume it was
  }
}

function secretsFrom(s: LoadedStore, plan: Plan, dir: string, regenerate: boolean): Secrets {
  const distributed = existsSync(join(dir, 'manifest.json'));
  const missing = (what: string): InputError =>
    new InputError(`${join(dir, 'store', what)}: missing, but node trees were already made from it: restore it from a backup`);
  let saKey = s.saKey;
  if (!saKey) {
    if (!regenerate && distributed) throw missing('sa.key');
    saKey = newSaKey(plan.config.keyAlgorithm);
  }
  // The encryption-at-rest key exists only when encryption at rest is on (an old one is left alone when it is off).
  if (!encryptionOn(plan)) return { saKey };
  let encryptionKey = s.encryptionKey;
  if (!encryptionKey) {
    if (!regenerate && encryptionConfigDistributed(dir)) throw missing('encryption-key');
    encryptionKey = randomBytes(32);
  }
  return { saKey, encryptionKey };
}

/** The offline root's id in this plan, if it has one. */
const rootId = (plan: Plan): string | undefined => plan.certs.find((p) => p.offline)?.id;

/** The store with every key this run may use unlocked (passphrase, --root-key). */
function loadKeys(dir: string, plan: Plan, keys: KeyAccess): LoadedStore {
  const s = loadStore(dir, keys);
  attachRootKey(s.material, rootId(plan), keys);
  return s;
}

function keyWriting(material: MaterialMap, keys: KeyAccess, encrypt = false): KeyWriting {
  return {
    encryptCaKeys: encrypt || storeEncryptsCaKeys(material),
    ...(keys.passphrase !== undefined ? { passphrase: keys.passphrase } : {}),
  };
}

/** Stage store + node trees + manifest (+ extra files), commit, apply. */
async function commitDir(
  dir: string,
  op: TxnOp,
  plan: Plan,
  material: MaterialMap,
  secrets: Secrets,
  trust: TrustOverrides,
  now: Date,
  writing: KeyWriting,
  extra: (txn: Transaction) => void = () => {},
  note?: string,
): Promise<{ manifest: Manifest; changes: Changes }> {
  const { files, manifest } = renderNodeFiles(plan, material, secrets, trust, now);
  const store = renderStore(material, secrets, writing);
  const txn = new Transaction(dir);
  try {
    const changes = stageDir(txn, dir, store, files, manifest);
    extra(txn);
    // Temp files older versions wrote in place (name.<pid>.tmp) and left when killed.
    for (const f of readdirSync(dir))
      if (/^(manifest\.json|rotation\.json|cluster\.yaml|rotation-.+\.json)\.\d+\.tmp$/.test(f)) txn.remove(join(dir, f));
    if (txn.size > 0) await txn.commit({ ...op, changes, ...(note ? { note } : {}) } as TxnOp);
    else txn.abort();
    return { manifest, changes };
  } catch (e) {
    txn.abort();
    throw e;
  }
}

export interface InitResult {
  plan: Plan;
  decisions: Decision[];
  manifest: Manifest;
  changes: Changes;
  resumed: Resumed;
}

export async function initPki(o: {
  config: ClusterConfig;
  configText: string;
  configDir: string;
  out: string;
  force?: boolean;
  now?: Date;
  progress?: Progress;
  /** Passphrase of the encrypted CA keys, the offline root's key for this run. */
  keys?: KeyAccess;
  /** Store the CA keys encrypted (with keys.passphrase) from now on. */
  encryptCaKeys?: boolean;
}): Promise<InitResult> {
  const keys = o.keys ?? {};
  if (o.encryptCaKeys && keys.passphrase === undefined)
    throw new InputError(`--encrypt-ca-keys: no passphrase: give it with --ca-passphrase (env:NAME, file:PATH or prompt)`);
  const plan = buildPlan(o.config);
  const external = externalMaterial(o.config, o.configDir);
  ensureOutDir(o.out);
  return withPkiDir(o.out, WHO, async (rec) => {
    const now = o.now ?? new Date();
    const loaded = loadKeys(o.out, plan, keys);
    if (!o.force) resolveProblems(plan, loaded, o.out, true);
    const existing = loaded.material;
    for (const [id, m] of external) existing.set(id, m);
    const state = readRotation(o.out);
    if (state) checkConsistent(state, existing, state.ca);
    const { material, decisions } = await materialize(plan, existing, {
      now,
      ...(o.force ? { force: true } : {}),
      onProgress: (d, t) => o.progress?.('certificates', d, t),
    });
    keepRotationMaterial(existing, material, state);
    const secrets = o.force ? newSecrets(o.config.keyAlgorithm, encryptionOn(plan)) : secretsFrom(loaded, plan, o.out, false);
    const { manifest, changes } = await commitDir(
      o.out,
      { command: 'init', args: [] },
      plan,
      material,
      secrets,
      trustOverrides(state, material),
      now,
      keyWriting(existing, keys, o.encryptCaKeys),
      (txn) => {
        const p = join(o.out, 'cluster.yaml');
        let same = false;
        try {
          same = readBounded(p, MAX_CONFIG_BYTES, 'config').equals(Buffer.from(o.configText));
        } catch {
          same = false;
        }
        if (!same) txn.put(p, o.configText, 0o644);
      },
    );
    return { plan, decisions, manifest, changes, resumed: resumed(rec) };
  });
}

/** The finished transaction was this very command: its rerun only had to finish it. */
function sameOp(r: Recovery, op: TxnOp): boolean {
  return !!r.finished && r.finished.command === op.command && r.finished.args.join('\0') === op.args.join('\0');
}

/** kubeadm renew: same subject, SANs and usages; new key; every node at once; never CAs. */
export async function renewPki(o: {
  dir: string;
  config: ClusterConfig;
  names: string[];
  /** Only these nodes' certificates (default: every node). */
  nodes?: string[];
  now?: Date;
  progress?: Progress;
  keys?: KeyAccess;
}): Promise<{ renewed: string[]; skipped: { id: string; why: string }[]; changes: Changes; resumed: Resumed }> {
  const keys = o.keys ?? {};
  const plan = buildPlan(o.config);
  for (const n of o.nodes ?? [])
    if (!plan.nodes.some((x) => x.name === n))
      throw new InputError(`no node '${n}' in this cluster (${plan.nodes.map((x) => x.name).join(', ')})`);
  const all = o.names.includes('all');
  const known = new Set(plan.certs.filter((p) => !p.ca).map((p) => p.kubeadmName));
  for (const n of o.names)
    if (n !== 'all' && !known.has(n)) throw new InputError(`unknown certificate '${n}' (one of: all, ${[...known].sort().join(', ')})`);
  existingDir(o.dir);
  const op: TxnOp = { command: 'renew', args: [...[...o.names].sort(), ...(o.nodes ? [...o.nodes].sort().map((n) => `--node=${n}`) : [])] };
  return withPkiDir(o.dir, WHO, async (rec) => {
    const none: Changes = { files: 0, nodes: [], removed: { files: 0, nodes: [] } };
    if (sameOp(rec, op)) return { renewed: [], skipped: [], changes: none, resumed: resumed(rec) };
    const loaded = loadKeys(o.dir, plan, keys);
    if (loaded.material.size === 0 || !existsSync(join(o.dir, 'store')))
      throw new InputError(`${o.dir}: no PKI store (run 'anchorage pki init' first)`);
    resolveProblems(plan, loaded, o.dir, false);
    const secrets = secretsFrom(loaded, plan, o.dir, false);
    const existing = loaded.material;
    const skipped: { id: string; why: string }[] = [];
    const ids = new Set<string>();
    for (const p of plan.certs) {
      if (p.ca || (!all && !o.names.includes(p.kubeadmName))) continue;
      if (o.nodes && !o.nodes.includes(p.node ?? '')) continue;
      const signer = existing.get(p.signer ?? '');
      if (p.external || !(signer?.key || signer?.locked)) skipped.push({ id: p.id, why: `its CA ${p.signer} is externally managed` });
      else ids.add(p.id);
    }
    const state = readRotation(o.dir);
    if (state) checkConsistent(state, existing, state.ca);
    const now = o.now ?? new Date();
    const { material } = await materialize(plan, existing, {
      now,
      reissue: ids,
      keepExistingProfile: true,
      onProgress: (d, t) => o.progress?.('certificates', d, t),
    });
    keepRotationMaterial(existing, material, state);
    const { changes } = await commitDir(
      o.dir,
      op,
      plan,
      material,
      secrets,
      trustOverrides(state, material),
      now,
      keyWriting(existing, keys),
      undefined,
      `renewed ${ids.size}`,
    );
    return { renewed: [...ids], skipped, changes, resumed: resumed(rec) };
  });
}

export interface RotateResult {
  state: RotationState | undefined;
  from: Phase | 'none';
  to: Phase | 'rolled-back' | 'none';
  reissued: number;
  /** Node files that changed: what must be distributed before the next phase. */
  changes: Changes;
  resumed: Resumed;
  /** An interrupted command was committed and not finished yet (status only). */
  pending?: TxnOp;
}

/** Advance a rotation by one phase, or roll back one phase. */
export async function rotateCa(o: {
  dir: string;
  config: ClusterConfig;
  ca: string;
  action: 'next' | 'rollback' | 'status';
  now?: Date;
  progress?: Progress;
  keys?: KeyAccess;
}): Promise<RotateResult> {
  const keys = o.keys ?? {};
  const plan = buildPlan(o.config);
  checkRotatable(plan, o.ca);
  existingDir(o.dir);
  const none: Changes = { files: 0, nodes: [], removed: { files: 0, nodes: [] } };
  if (o.action === 'status') {
    const state = readRotation(o.dir);
    const pending = interrupted(o.dir);
    return {
      state,
      from: state?.phase ?? 'none',
      to: 'none',
      reissued: 0,
      changes: none,
      resumed: { discarded: false },
      ...(pending ? { pending } : {}),
    };
  }
  const op: TxnOp = { command: 'rotate-ca', args: [o.ca, o.action] };
  return withPkiDir(o.dir, WHO, async (rec) => {
    let state = readRotation(o.dir);
    if (sameOp(rec, op)) {
      // The killed run committed its phase and this run finished writing it: that phase is done, the next one waits.
      return { state, from: state?.phase ?? 'none', to: 'none', reissued: 0, changes: none, resumed: resumed(rec) };
    }
    if (state && state.ca !== o.ca)
      throw new InputError(`a rotation of ${state.ca} is in progress (phase ${state.phase}); finish or roll it back first`);
    const loaded = loadKeys(o.dir, plan, keys);
    if (loaded.material.size === 0) throw new InputError(`${o.dir}: no PKI store (run 'anchorage pki init' first)`);
    resolveProblems(plan, loaded, o.dir, false);
    const secrets = secretsFrom(loaded, plan, o.dir, false);
    const material = loaded.material;
    checkConsistent(state, material, o.ca);
    const now = o.now ?? new Date();
    let reissue: string[] = [];
    let from: Phase | 'none' = state?.phase ?? 'none';
    let to: Phase | 'rolled-back';
    if (o.action === 'rollback') {
      if (!state) throw new InputError(`no rotation of ${o.ca} is in progress`);
      reissue = rollback(state, material, plan);
      const i = PHASES.indexOf(state.phase);
      to = 'rolled-back';
      state.history.push({ phase: 'rolled-back', at: now.toISOString() });
      if (i === 0) state = undefined;
      else state.phase = PHASES[i - 1] as Phase;
    } else {
      const p = plan.certs.find((c) => c.id === o.ca);
      if (!p) throw new InputError(`unknown CA ${o.ca}`);
      const next: Phase | undefined = state ? PHASES[PHASES.indexOf(state.phase) + 1] : 'new-ca';
      if (!next) throw new InputError(`the rotation of ${o.ca} is already done`);
      state ??= { ca: o.ca, phase: 'new-ca', startedAt: now.toISOString(), history: [] };
      from = state.phase === next ? 'none' : state.phase;
      const signer = p.signer ? material.get(p.signer) : undefined;
      reissue = applyPhase(state, next, material, plan, (): Material => {
        const kp = generateKey(p.keyType);
        const cur = material.get(o.ca)?.cert;
        const profile = {
          subject: cur ? cur.subjectRdns : `CN=${p.cn}`,
          sans: p.sans,
          keyUsage: p.keyUsage,
          ca: true,
          ...(p.pathLen !== undefined ? { pathLen: p.pathLen } : {}),
          validity: { notAfter: new Date(now.getTime() + p.validitySeconds * 1000) },
        };
        const cert = signer
          ? issueCertificate({
              profile,
              publicKey: kp.publicKey,
              issuer: { cert: signer.cert, key: usableKey(p.signer as string, signer, `to sign the new ${nextId(o.ca)}`) },
              now,
            })
          : issueCertificate({ profile, publicKey: kp.publicKey, signingKey: kp.privateKey, now });
        return { cert, key: kp.privateKey };
      });
      state.phase = next;
      state.history.push({ phase: next, at: now.toISOString() });
      to = next;
    }
    // Re-issue the affected leaves from whichever CA is now current, keeping their profiles.
    const extra = new Map([...material].filter(([id]) => id.includes('~')));
    const { material: fresh } = await materialize(plan, material, {
      now,
      reissue: new Set(reissue),
      keepExistingProfile: true,
      onProgress: (d, t) => o.progress?.('certificates', d, t),
    });
    for (const [id, m] of extra) fresh.set(id, m);
    const finalState = state;
    // The phase is recorded in the same transaction as its effects, and renamed into place after them.
    const { changes } = await commitDir(
      o.dir,
      op,
      plan,
      fresh,
      secrets,
      trustOverrides(finalState?.phase === 'done' ? undefined : finalState, fresh),
      now,
      keyWriting(material, keys),
      (txn) => {
        const rotation = join(o.dir, 'rotation.json');
        if (finalState && finalState.phase !== 'done') txn.put(rotation, `${JSON.stringify(finalState, null, 2)}\n`, 0o644);
        else {
          if (existsSync(rotation)) txn.remove(rotation);
          if (finalState)
            txn.put(
              join(o.dir, `rotation-${o.ca}-${now.toISOString().replace(/[:.]/g, '-')}.json`),
              `${JSON.stringify(finalState, null, 2)}\n`,
              0o644,
            );
        }
      },
      to === 'rolled-back' ? `rolled back ${o.ca}` : `${o.ca}: phase ${to}`,
    );
    return { state: finalState, from, to, reissued: reissue.length, changes, resumed: resumed(rec) };
  });
}
