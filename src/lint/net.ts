// Service-CIDR arithmetic for the apiserver SAN check: kubeadm puts the first host address of the
// first service CIDR into the apiserver certificate.
import { isIP } from 'node:net';
import { formatIp, parseIp } from '../x509/extensions.ts';

/** True for "10.96.0.0/12" or "fd00::/108" (host bits may be set, as kubeadm tolerates). */
export function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m?.[1] || !m[2]) return false;
  const v = isIP(m[1]);
  const bits = Number(m[2]);
  return (v === 4 && bits <= 32) || (v === 6 && bits <= 128);
}

/** First usable address of a CIDR: the network address plus one. */
export function firstHostIp(cidr: string): string {
  const [addr, pfx] = cidr.trim().split('/') as [string, string];
  const bytes = parseIp(addr);
  const bits = Number(pfx);
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (out[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = ((out[i] as number) + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return formatIp(out);
}

/** Canonical text form of an IP, so "::1" and "0:0::1" compare equal. */
export function canonicalIp(s: string): string {
  return isIP(s) ? formatIp(parseIp(s)) : s;
}
