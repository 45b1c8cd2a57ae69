// Rotation with a grace period, one code path for the controller and the offline build: a CA that leaves the
// sources stays in the bundle for `rotation.gracePeriodSeconds` (listed as retiring with the time it left), so
// workloads verify both the old and the new CA while their leaves rotate. What a CA was is recovered from the
// previous bundle's PEM (a target in the cluster, the previous output folder offline); the previous state is the
// status the last run recorded (the bundle's `status`, or `status.json` beside the outputs).
import type { Certificate } from '../x509/certificate.ts';
import { canonical, parseStrictPem } from './resolve.ts';

export interface Retiring {
  sha256: string;
  subject: string;
  /** When the CA left the sources (RFC 3339). */
  removedAt: string;
  pem: string;
}

export interface RotationInput {
  /** The CAs the sources give now. */
  certs: Certificate[];
  /** The previous run's status: the sources' fingerprints then, and what was retiring. */
  previous?: { fingerprints?: string[]; retiring?: Retiring[] };
  graceSeconds: number;
  now: Date;
  /** The previous bundle as PEM (read only when a CA just left the sources and there is a grace period). */
  previousPem: () => Promise<string | undefined>;
}

export interface RotationResult {
  /** The bundle: the current CAs and the retained ones, canonical order. */
  all: Certificate[];
  retiring: Retiring[];
  /** How many of `all` are retiring. */
  retained: number;
  /** The sources' fingerprints now (recorded for the next run). */
  fingerprints: string[];
  /** Milliseconds until the next retiring CA expires out of the bundle (undefined: none retiring). */
  nextChangeInMs?: number;
}

export async function rotate(i: RotationInput): Promise<RotationResult> {
  const grace = i.graceSeconds * 1000;
  const now = i.now.getTime();
  const current = new Set(i.certs.map((c) => c.sha256));
  let retiring = (i.previous?.retiring ?? []).filter((r) => !current.has(r.sha256) && Date.parse(r.removedAt) + grace > now);
  if (grace > 0) {
    const removed = (i.previous?.fingerprints ?? []).filter((f) => !current.has(f) && !retiring.some((r) => r.sha256 === f));
    if (removed.length) {
      let old: Certificate[] = [];
      try {
        const text = await i.previousPem();
        old = text === undefined ? [] : parseStrictPem(text, 'previous bundle');
      } catch {
        old = [];
      }
      const at = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
      retiring = [
        ...retiring,
        ...old
          .filter((c) => removed.includes(c.sha256))
          .map((c) => ({ sha256: c.sha256, subject: c.subject, removedAt: at, pem: c.toPem() })),
      ];
    }
  }
  const retained = retiring.flatMap((r) => {
    try {
      return parseStrictPem(r.pem, 'retiring');
    } catch {
      return [];
    }
  });
  return {
    all: canonical([...i.certs, ...retained]),
    retiring,
    retained: retained.length,
    fingerprints: i.certs.map((c) => c.sha256),
    ...(retiring.length ? { nextChangeInMs: Math.max(0, Math.min(...retiring.map((r) => Date.parse(r.removedAt) + grace - now))) } : {}),
  };
}
