// PEM block scanning: many blocks, CRLF, text around blocks, RFC 1421 headers (legacy encrypted keys).
import { InputError } from '../common/errors.ts';

export interface PemBlock {
  label: string;
  /** Decoded contents. */
  der: Uint8Array;
  /** RFC 1421 headers such as Proc-Type and DEK-Info. */
  headers: Record<string, string>;
  /** The block's text exactly as found, for handing to parsers that want PEM. */
  text: string;
  /** 1-based line where the block begins. */
  line: number;
}

const BEGIN = '-----BEGIN ';

/** True when the buffer looks like it holds PEM (a BEGIN line somewhere in the first 64 KiB or whole text). */
export function looksLikePem(data: Uint8Array): boolean {
  return Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, 65536)).includes(BEGIN, 0, 'latin1');
}

export function scanPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let pos = 0;
  for (;;) {
    const b = text.indexOf(BEGIN, pos);
    if (b < 0) break;
    const labelEnd = text.indexOf('-----', b + BEGIN.length);
    if (labelEnd < 0) break;
    const label = text.slice(b + BEGIN.length, labelEnd);
    if (label.includes('\n')) {
      pos = b + BEGIN.length;
      continue;
    }
    const endMarker = `-----END ${label}-----`;
    const e = text.indexOf(endMarker, labelEnd);
    const line = countLines(text, b);
    if (e < 0) throw new InputError(`PEM block '${label}' starting on line ${line} has no END line (truncated?)`);
    const body = text.slice(labelEnd + 5, e);
    const headers: Record<string, string> = {};
    let b64 = '';
    for (const raw of body.split(/\r?\n/)) {
      const l = raw.trim();
      if (!l) continue;
      const colon = l.indexOf(':');
      if (colon > 0 && !b64) {
        headers[l.slice(0, colon).trim()] = l.slice(colon + 1).trim();
        continue;
      }
      b64 += l;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1)
      throw new InputError(`PEM block '${label}' starting on line ${line} has invalid base64`);
    blocks.push({ label, der: Buffer.from(b64, 'base64'), headers, text: text.slice(b, e + endMarker.length), line });
    pos = e + endMarker.length;
  }
  return blocks;
}

function countLines(text: string, upTo: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < upTo; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
