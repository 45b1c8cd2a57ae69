// BER to DER for container formats. PKCS#7 and PKCS#12 producers (Windows, NSS, streaming CMS) may use
// indefinite lengths and chunked strings, which der.ts rejects by design. Only the containers go through
// here; OCTET STRING contents stay byte-exact because MACs and signatures cover them.
import { DerError, tlv } from './der.ts';

// Universal string types that BER may send as a constructed series of chunks.
const STRING_TAGS = new Set([0x03, 0x04, 0x0c, 0x12, 0x13, 0x14, 0x16, 0x1a, 0x1c, 0x1e]);
const MAX_DEPTH = 64;

export function berToDer(buf: Uint8Array): Uint8Array {
  const { der, end } = convert(buf, 0, buf.length, 0);
  if (end !== buf.length) throw new DerError(`${buf.length - end} bytes of trailing data`, end);
  return der;
}

function convert(buf: Uint8Array, pos: number, limit: number, depth: number): { der: Uint8Array; end: number } {
  if (depth > MAX_DEPTH) throw new DerError('nesting too deep', pos);
  if (pos + 2 > limit) throw new DerError('truncated TLV header', pos);
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported', pos);
  let p = pos + 2;
  let len = buf[pos + 1] as number;
  const indefinite = len === 0x80;
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4 || p + n > limit) throw new DerError('bad length', pos);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
    p += n;
  }
  const constructed = (tag & 0x20) !== 0;
  if (!constructed) {
    if (indefinite) throw new DerError('indefinite length on a primitive value', pos);
    if (p + len > limit) throw new DerError('truncated value', pos);
    return { der: tlv(tag, buf.subarray(p, p + len)), end: p + len };
  }
  const stop = indefinite ? limit : p + len;
  if (stop > limit) throw new DerError('truncated value', pos);
  const kids: Uint8Array[] = [];
  let q = p;
  for (;;) {
    if (indefinite && q + 1 < stop && buf[q] === 0 && buf[q + 1] === 0) {
      q += 2;
      break;
    }
    if (q >= stop) {
      if (indefinite) throw new DerError('missing end-of-contents', q);
      break;
    }
    const c = convert(buf, q, stop, depth + 1);
    kids.push(c.der);
    q = c.end;
  }
  const base = tag & ~0x20;
  if (STRING_TAGS.has(base)) return { der: tlv(base, ...kids.map(contentsOf)), end: q };
  return { der: tlv(tag, ...kids), end: q };
}

/** Contents octets of a DER TLV we just built (lengths are minimal, so the header is easy to skip). */
function contentsOf(t: Uint8Array): Uint8Array {
  const l = t[1] as number;
  return t.subarray(l < 0x80 ? 2 : 2 + (l & 0x7f));
}
