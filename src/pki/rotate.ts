// Staged CA rotation without downtime, recorded so it can be resumed or rolled back:
//   1 new-ca   a new CA is made beside the old one; nodes unchanged
//   2 bundle   every trust bundle (ca.crt files, kubeconfig CA data) holds old+new; leaves unchanged
//   3 reissue  the new CA becomes current and re-issues every leaf it signs; bundles still hold both
//   4 done     bundles hold only the new CA; the old CA is deleted
// Between any two adjacent phases every client trusts every server, so nodes may be updated in any order.

import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import type { Material, MaterialMap } from './materialize.ts';
import type { Plan } from './plan.ts';

export const PHASES = ['new-ca', 'bundle', 'reissue', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export interface RotationState {
  ca: string;
  phase: Phase;
  startedAt: string;
  history: { phase: Phase | 'rolled-back'; at: string }[];
}

export const PHASE_EFFECTS: Record<Phase, string> = {
  'new-ca': 'generate a new CA key and certificate beside the old one; nothing on the nodes changes',
  bundle:
    'every trust bundle for this CA (ca.crt files, kubeconfig certificate-authority-data) holds old + new; distribute, then restart components so they load the bundle',
  reissue:
    'the new CA becomes current and re-issues every certificate the old one signed (new keys); bundles still hold both; distribute, restart',
  done: 'bundles hold only the new CA and the old CA is deleted; distribute, restart',
};

export const nextId = (ca: string): string => `${ca}~next`;
export const previousId = (ca: string): string => `${ca}~previous`;

/** Which CAs' bundles carry extra certificates in the current phase. */
export function trustOverrides(state: RotationState | undefined, material: MaterialMap): Map<string, Certificate[]> {
  const out = new Map<string, Certificate[]>();
  if (!state) return out;
  const cur = material.get(state.ca)?.cert;
  if (!cur) return out;
  if (state.phase === 'bundle') {
    const next = material.get(nextId(state.ca))?.cert;
    if (next) out.set(state.ca, [cur, next]);
  } else if (state.phase === 'reissue') {
    const prev = material.get(previousId(state.ca))?.cert;
    if (prev) out.set(state.ca, [cur, prev]);
  }
  return out;
}

export function checkRotatable(plan: Plan, ca: string): void {
  const p = plan.certs.find((c) => c.id === ca);
  if (!p?.ca)
    throw new InputError(
      `'${ca}' is not a CA of this cluster (CAs: ${plan.certs
        .filter((c) => c.ca)
        .map((c) => c.id)
        .join(', ')})`,
    );
  if (p.external) throw new InputError(`'${ca}' is externally managed: rotate it where its key lives`);
  if (p.offline) throw new InputError(`'${ca}' is the offline root: rotate the cluster CAs under a new root instead`);
}

/** Leaves signed by this CA: the ones phase 3 re-issues. */
export function signedBy(plan: Plan, ca: string): string[] {
  return plan.certs.filter((c) => c.signer === ca).map((c) => c.id);
}

/** Swap material for phase `to`: returns the ids that must be (re)issued afterwards. */
export function applyPhase(state: RotationState, to: Phase, material: MaterialMap, plan: Plan, newCa: () => Material): string[] {
  const { ca } = state;
  const cur = material.get(ca);
  if (!cur) throw new InputError(`${ca}: no current CA in the store`);
  switch (to) {
    case 'new-ca':
      material.set(nextId(ca), newCa());
      return [];
    case 'bundle':
      if (!material.get(nextId(ca))) throw new InputError(`${ca}: the new CA is missing from the store; roll back and start again`);
      return [];
    case 'reissue': {
      const next = material.get(nextId(ca)) as Material;
      material.set(previousId(ca), cur);
      material.set(ca, next);
      material.delete(nextId(ca));
      return signedBy(plan, ca);
    }
    case 'done':
      material.delete(previousId(ca));
      return [];
  }
}

/** Undo the current phase (only before `done`). Returns ids to re-issue from the restored CA. */
export function rollback(state: RotationState, material: MaterialMap, plan: Plan): string[] {
  const { ca } = state;
  switch (state.phase) {
    case 'new-ca':
      material.delete(nextId(ca));
      return [];
    case 'bundle':
      // Back to the state after new-ca: the new CA stays (that phase made it); bundles drop it again.
      return [];
    case 'reissue': {
      const prev = material.get(previousId(ca));
      if (!prev) throw new InputError(`${ca}: the previous CA is gone; cannot roll back`);
      material.set(nextId(ca), material.get(ca) as Material);
      material.set(ca, prev);
      material.delete(previousId(ca));
      return signedBy(plan, ca);
    }
    case 'done':
      throw new InputError(`the rotation of ${ca} is finished: the old CA is deleted and cannot come back`);
  }
}

/** rotation.json as read from disk: validated, so a damaged file is one line and never a half-understood state. */
export function parseRotationState(text: string, source: string): RotationState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source}: not valid JSON (${(e as Error).message.split('\n')[0]}); restore it from a backup`);
  }
  const bad = (what: string): InputError =>
    new InputError(`${source}: not an Anchorage rotation state (${what}); restore it from a backup`);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not an object');
  const d = doc as Record<string, unknown>;
  if (typeof d.ca !== 'string' || !/^[a-z0-9-]{1,64}$/.test(d.ca)) throw bad('ca');
  if (!PHASES.includes(d.phase as Phase)) throw bad(`phase must be one of ${PHASES.join(', ')}`);
  if (typeof d.startedAt !== 'string' || Number.isNaN(Date.parse(d.startedAt))) throw bad('startedAt');
  if (!Array.isArray(d.history) || d.history.length > 10_000) throw bad('history');
  for (const h of d.history as unknown[]) {
    const e = h as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || typeof e.at !== 'string' || !(PHASES.includes(e.phase as Phase) || e.phase === 'rolled-back'))
      throw bad('history entry');
  }
  return { ca: d.ca, phase: d.phase as Phase, startedAt: d.startedAt, history: d.history as RotationState['history'] };
}

const same = (a: Material | undefined, b: Material | undefined): boolean => !!a && !!b && a.cert.sha256 === b.cert.sha256;

/**
 * The store must hold what the recorded phase says, or the phase cannot go on safely: refused with one
 * line rather than, say, recording the new CA as the previous one.
 */
export function checkConsistent(state: RotationState | undefined, material: MaterialMap, ca: string): void {
  const cur = material.get(ca);
  const next = material.get(nextId(ca));
  const prev = material.get(previousId(ca));
  const where = `store: ${state ? `rotation of ${ca} in phase ${state.phase}` : `no rotation of ${ca} recorded`}`;
  if (!cur?.key && !cur?.locked) throw new InputError(`${where}, but the current ${ca} or its key is missing`);
  if (!state) return;
  switch (state.phase) {
    case 'new-ca':
    case 'bundle':
      if (!next?.key && !next?.locked)
        throw new InputError(`${where}, but the new CA (${nextId(ca)}) or its key is missing; roll back and start again`);
      if (same(next, cur)) throw new InputError(`${where}, but the new CA is the current one`);
      if (prev) throw new InputError(`${where}, but ${previousId(ca)} is present too`);
      return;
    case 'reissue':
      if (!prev?.key && !prev?.locked) throw new InputError(`${where}, but the old CA (${previousId(ca)}) or its key is missing`);
      if (same(prev, cur)) throw new InputError(`${where}, but the old CA is recorded as the current one`);
      if (next) throw new InputError(`${where}, but ${nextId(ca)} is present too`);
      return;
    case 'done':
      return;
  }
}
