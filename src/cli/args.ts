// Option parsers shared by several commands.
import { InputError } from '../common/errors.ts';

/** Commander collector for repeatable options. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** ISO 8601, or Unix seconds (optionally after '@', as `date +@%s` prints). */
export function parseAt(s: string): Date {
  const t = /^@?\d+$/.test(s.trim()) ? Number(s.trim().replace('@', '')) * 1000 : Date.parse(s);
  if (!Number.isFinite(t)) throw new InputError(`--at: '${s}' is not a time (use ISO 8601 or Unix seconds)`);
  return new Date(t);
}
