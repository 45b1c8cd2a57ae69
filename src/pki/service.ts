// Orchestration of the PKI directory: init, renew, rotate. I/O through store.ts; decisions in pure modules.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { issueCertificate } from '../x509/build.ts';
import { Certificate } from '../x509/certificate.ts';
import { generateKey } from '../x509/keys.ts';
import { scanPem } from '../x509/pem.ts';
import { type ClusterConfig, parseClusterConfig } from './config.ts';
import { type Decision, type Material, type MaterialMap, materialize } from './materialize.ts';
import { buildPlan, type Plan } from './plan.ts';
import {
  applyPhase,
  checkRotatable,
  nextId,
  PHASES,
  type Phase,
  previousId,
  type RotationState,
  rollback,
  trustOverrides,
} from './rotate.ts';
import {
  type Changes,
  diffManifests,
  loadStore,
  type Manifest,
  newSecrets,
  readManifestIfAny,
  saveStore,
  writeAtomic,
  writeNodeTrees,
} from './store.ts';

export type Progress = (stage: string, done: number, total: number) => void;

export function loadConfigFile(path: string): ClusterConfig {
  if (!existsSync(path)) throw new InputError(`${path}: no such file`);
  return parseClusterConfig(readFileSync(path, 'utf8'), path);
}

/** The config saved in DIR by init, or the one given. */
export function configFor(dir: string, configPath?: string): ClusterConfig {
  if (configPath) return loadConfigFile(configPath);
  const saved = join(dir, 'cluster.yaml');
  if (!existsSync(saved))
    throw new InputError(`${dir}: no cluster.yaml (run 'anchorage pki init --config FILE --out ${dir}' first, or pass --config)`);
  return loadConfigFile(saved);
}

function readRotation(dir: string): RotationState | undefined {
  const p = join(dir, 'rotation.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as RotationState) : undefined;
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
    const block = scanPem(readFileSync(full, 'latin1')).find((b) => b.label === 'CERTIFICATE');
    if (!block) throw new InputError(`externalCA: ${full}: no certificate`);
    m.set(id, { cert: new Certificate(block.der) });
  }
  return m;
}

export interface InitResult {
  plan: Plan;
  decisions: Decision[];
  manifest: Manifest;
  changes: Changes;
}

export async function initPki(o: {
  config: ClusterConfig;
  configText: string;
  configDir: string;
  out: string;
  force?: boolean;
  now?: Date;
  progress?: Progress;
}): Promise<InitResult> {
  const plan = buildPlan(o.config);
  const { material: existing, secrets: oldSecrets } = loadStore(o.out);
  for (const [id, m] of externalMaterial(o.config, o.configDir)) existing.set(id, m);
  const state = readRotation(o.out);
  const { material, decisions } = await materialize(plan, existing, {
    ...(o.now ? { now: o.now } : {}),
    ...(o.force ? { force: true } : {}),
    onProgress: (d, t) => o.progress?.('certificates', d, t),
  });
  keepRotationMaterial(existing, material, state);
  const secrets = oldSecrets && !o.force ? oldSecrets : newSecrets(o.config.keyAlgorithm);
  saveStore(o.out, material, secrets);
  writeAtomic(join(o.out, 'cluster.yaml'), o.configText, 0o644);
  const before = readManifestIfAny(o.out);
  const manifest = writeNodeTrees(o.out, plan, material, secrets, trustOverrides(state, material), (d, t) => o.progress?.('files', d, t));
  return { plan, decisions, manifest, changes: diffManifests(before, manifest) };
}

function keepRotationMaterial(from: MaterialMap, to: MaterialMap, state: RotationState | undefined): void {
  if (!state) return;
  for (const id of [nextId(state.ca), previousId(state.ca)]) {
    const m = from.get(id);
    if (m) to.set(id, m);
  }
}

/** kubeadm renew: same subject, SANs and usages; new key; every node at once; never CAs. */
export async function renewPki(o: {
  dir: string;
  config: ClusterConfig;
  names: string[];
  now?: Date;
  progress?: Progress;
}): Promise<{ renewed: string[]; skipped: { id: string; why: string }[]; changes: Changes }> {
  const plan = buildPlan(o.config);
  const { material: existing, secrets } = loadStore(o.dir);
  if (!secrets || existing.size === 0) throw new InputError(`${o.dir}: no PKI store (run 'anchorage pki init' first)`);
  const all = o.names.includes('all');
  const known = new Set(plan.certs.filter((p) => !p.ca).map((p) => p.kubeadmName));
  for (const n of o.names)
    if (n !== 'all' && !known.has(n)) throw new InputError(`unknown certificate '${n}' (one of: all, ${[...known].sort().join(', ')})`);
  const skipped: { id: string; why: string }[] = [];
  const ids = new Set<string>();
  for (const p of plan.certs) {
    if (p.ca || (!all && !o.names.includes(p.kubeadmName))) continue;
    if (p.external || !existing.get(p.signer ?? '')?.key) skipped.push({ id: p.id, why: `its CA ${p.signer} is externally managed` });
    else ids.add(p.id);
  }
  const state = readRotation(o.dir);
  const { material } = await materialize(plan, existing, {
    ...(o.now ? { now: o.now } : {}),
    reissue: ids,
    keepExistingProfile: true,
    onProgress: (d, t) => o.progress?.('certificates', d, t),
  });
  keepRotationMaterial(existing, material, state);
  saveStore(o.dir, material, secrets);
  const before = readManifestIfAny(o.dir);
  const after = writeNodeTrees(o.dir, plan, material, secrets, trustOverrides(state, material));
  return { renewed: [...ids], skipped, changes: diffManifests(before, after) };
}

export interface RotateResult {
  state: RotationState | undefined;
  from: Phase | 'none';
  to: Phase | 'rolled-back' | 'none';
  reissued: number;
  /** Node files that changed: what must be distributed before the next phase. */
  changes: Changes;
}

/** Advance a rotation by one phase (or to `target`), or roll back one phase. */
export async function rotateCa(o: {
  dir: string;
  config: ClusterConfig;
  ca: string;
  action: 'next' | 'rollback' | 'status';
  now?: Date;
  progress?: Progress;
}): Promise<RotateResult> {
  const plan = buildPlan(o.config);
  checkRotatable(plan, o.ca);
  const { material, secrets } = loadStore(o.dir);
  if (!secrets) throw new InputError(`${o.dir}: no PKI store (run 'anchorage pki init' first)`);
  let state = readRotation(o.dir);
  if (state && state.ca !== o.ca)
    throw new InputError(`a rotation of ${state.ca} is in progress (phase ${state.phase}); finish or roll it back first`);
  const now = o.now ?? new Date();
  if (o.action === 'status') return { state, from: state?.phase ?? 'none', to: 'none', reissued: 0, changes: { files: 0, nodes: [] } };
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
    const next: Phase = state ? (PHASES[PHASES.indexOf(state.phase) + 1] as Phase) : 'new-ca';
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
      const cert = signer?.key
        ? issueCertificate({ profile, publicKey: kp.publicKey, issuer: { cert: signer.cert, key: signer.key }, now })
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
  saveStore(o.dir, fresh, secrets);
  const rotation = join(o.dir, 'rotation.json');
  if (state && state.phase !== 'done') writeAtomic(rotation, `${JSON.stringify(state, null, 2)}\n`, 0o644);
  else {
    rmSync(rotation, { force: true });
    if (state)
      writeAtomic(
        join(o.dir, `rotation-${o.ca}-${now.toISOString().replace(/[:.]/g, '-')}.json`),
        `${JSON.stringify(state, null, 2)}\n`,
        0o644,
      );
  }
  const before = readManifestIfAny(o.dir);
  const after = writeNodeTrees(o.dir, plan, fresh, secrets, trustOverrides(state?.phase === 'done' ? undefined : state, fresh));
  return { state, from, to, reissued: reissue.length, changes: diffManifests(before, after) };
}
