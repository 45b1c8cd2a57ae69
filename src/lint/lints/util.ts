// Small helpers shared by the lint modules.
import type { Certificate } from '../../x509/certificate.ts';
import type { LintContext } from '../types.ts';

export const DAY_MS = 86_400_000;

/** ISO date without milliseconds: what people compare with openssl's output. */
export function isoDate(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

/** "3.5 days" / "1 day" / "12 days": rounded to one decimal below ten. */
export function days(ms: number): string {
  const d = Math.abs(ms) / DAY_MS;
  const v = d < 10 ? Math.round(d * 10) / 10 : Math.round(d);
  return `${v} day${v === 1 ? '' : 's'}`;
}

/**
 * Why the engine believes this certificate acts as a CA without asking its basicConstraints; undefined if
 * it does not. Only what it issued counts here: a leaf sitting in a CA file is k8s.bundle.non-ca's finding.
 */
export function caEvidence(ctx: LintContext): string | undefined {
  return ctx.issuesOthers ? 'other certificates in the set name it as their issuer' : undefined;
}

export function ekus(cert: Certificate): string[] {
  return cert.extKeyUsage ?? [];
}

export function list(xs: readonly string[]): string {
  return xs.length ? xs.join(', ') : '(none)';
}

const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00a0\u00ad\u2000-\u200f\u2028-\u202f\u205f-\u206f\ufeff]/;
const INVISIBLE_G = new RegExp(INVISIBLE.source, 'g');

/**
 * A string as a reader should see it: unchanged when it prints unambiguously; otherwise quoted, with
 * control characters, invisible format characters and unusual white space escaped ("web\u200b.example"),
 * so two names that print alike are told apart.
 */
export function showString(s: string): string {
  if (!INVISIBLE.test(s)) return s;
  return JSON.stringify(s).replace(INVISIBLE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
