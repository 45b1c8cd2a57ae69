// Small text formatters shared by renderers.

/** kubeadm-style short duration: 364d, 9y, 5h, 12m. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  if (d >= 365 * 2) return `${Math.floor(d / 365)}y`;
  if (d >= 1) return `${d}d`;
  const h = Math.floor(s / 3600);
  if (h >= 1) return `${h}h`;
  const m = Math.floor(s / 60);
  if (m >= 1) return `${m}m`;
  return `${s}s`;
}

/** 2026-11-25 14:59 UTC */
export function formatDate(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** ab12cd -> AB:12:CD (openssl's fingerprint style); an odd last character is dropped. */
export function colonHex(hex: string): string {
  const u = hex.toUpperCase();
  // Pairs by hand (a regex match allocates an array of pairs per call, six calls a certificate); a line
  // break, which /../g would step over, takes the regex's way.
  let out = '';
  for (let i = 0; i + 1 < u.length; i += 2) {
    const a = u.charCodeAt(i);
    const b = u.charCodeAt(i + 1);
    if (a === 10 || a === 13 || b === 10 || b === 13 || a === 0x2028 || a === 0x2029 || b === 0x2028 || b === 0x2029)
      return (u.match(/../g) ?? []).join(':');
    out += i === 0 ? u.slice(0, 2) : `:${u.slice(i, i + 2)}`;
  }
  return out;
}
