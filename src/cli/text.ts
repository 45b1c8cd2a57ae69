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
  // What toISOString writes for years 0-9999 (every certificate's time) reads back as itself: cut, not parsed
  // (`inspect` formats two a certificate). Days 29-31 are parsed: Date rolls February 30 over into March.
  if (typeof iso === 'string' && ISO_UTC.test(iso)) return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
/** Date.prototype.toISOString's form between the years 0 and 9999 (no offset, milliseconds always there), days 1-28. */
const ISO_UTC = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** A hex digit's upper-case character code by character code (0: not a hex digit). */
const HEX_UPPER = new Uint8Array(128);
for (const c of '0123456789ABCDEF') HEX_UPPER[c.charCodeAt(0)] = HEX_UPPER[c.toLowerCase().charCodeAt(0)] = c.charCodeAt(0);

/** ab12cd -> AB:12:CD (openssl's fingerprint style); an odd last character is dropped. */
export function colonHex(hex: string): string {
  // Hex digits only (fingerprints, serials, key ids: six a certificate in `inspect`): the output's bytes written
  // into one buffer and read out as one string, where adding pairs to a string made ~80 bytes of garbage a pair.
  if (hex.length >= 2 && hex.length <= 8192) {
    const n = hex.length >> 1;
    const out = Buffer.allocUnsafe(3 * n - 1);
    let ok = (hex.length & 1) === 0 || (HEX_UPPER[hex.charCodeAt(hex.length - 1)] ?? 0) !== 0;
    for (let i = 0, j = 0; ok && i < n; i++) {
      const a = HEX_UPPER[hex.charCodeAt(2 * i)] ?? 0;
      const b = HEX_UPPER[hex.charCodeAt(2 * i + 1)] ?? 0;
      if (a === 0 || b === 0) ok = false;
      if (i) out[j++] = 0x3a;
      out[j++] = a;
      out[j++] = b;
    }
    if (ok) return out.toString('latin1');
  }
  // Anything else (never a hash or a serial) pairs as the regex does: a line break is stepped over, and upper-casing
  // may change the length (ß -> SS).
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}
