// Option parsers shared by several commands.
import { InputError } from '../common/errors.ts';
import { resolveSecret } from '../common/secret-source.ts';

/** Commander collector for repeatable options. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A number option within [min, max]: `flag: 'v' is not a number from min to max` otherwise. */
export function num(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InputError(`${flag}: '${v}' is not a number from ${min} to ${max}`);
  return n;
}

/** ISO 8601, or Unix seconds (optionally after '@', as `date +@%s` prints). */
export function parseAt(s: string): Date {
  const t = /^@?\d+$/.test(s.trim()) ? Number(s.trim().replace('@', '')) * 1000 : Date.parse(s);
  if (!Number.isFinite(t)) throw new InputError(`--at: '${s}' is not a time (use ISO 8601 or Unix seconds)`);
  return new Date(t);
}

/**
 * Commander parser for password options: `env:NAME`, `file:PATH`, `prompt` or the value itself
 * (src/common/secret-source.ts), so a password need not sit in shell history or `ps`.
 */
export function secretArg(flag: string): (v: string) => string {
  return (v: string) => resolveSecret(v, flag);
}
