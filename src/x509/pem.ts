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

/** Most blocks one PEM input may hold: a budget on entries, not a format rule. */
export const MAX_PEM_BLOCKS = 1_000_000;

/** Every block, in one linear pass (line numbers are counted incrementally, labels only on their line). */
export function scanPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let pos = 0;
  // Line counting resumes where the previous block left it: scanning from the start each time is quadratic.
  let lineAt = 0;
  let lineNo = 1;
  const lineOf = (offset: number): number => {
    for (let i = text.indexOf('\n', lineAt); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) lineNo++;
    lineAt = offset;
    return lineNo;
  };
  for (;;) {
    const b = text.indexOf(BEGIN, pos);
    if (b < 0) break;
    // The label ends on the BEGIN line. The search stops at the next '-----' at the latest (the next
    // BEGIN has one), so a run of broken BEGIN lines costs linear time, not a rescan each.
    const labelStop = text.indexOf('-----', b + BEGIN.length);
    if (labelStop < 0) break;
    if (text.slice(b + BEGIN.length, labelStop).includes('\n')) {
      pos = b + BEGIN.length;
      continue;
    }
    const label = text.slice(b + BEGIN.length, labelStop);
    const endMarker = `-----END ${label}-----`;
    const e = text.indexOf(endMarker, labelStop);
    const line = lineOf(b);
    if (e < 0) throw new InputError(`PEM block '${shortLabel(label)}' starting on line ${line} has no END line (truncated?)`);
    if (blocks.length >= MAX_PEM_BLOCKS) throw new InputError(`too large: more than ${MAX_PEM_BLOCKS} PEM blocks in one input`);
    const body = text.slice(labelStop + 5, e);
    const headers: Record<string, string> = {};
    let der: Buffer;
    if (plainBase64Lines(body)) der = Buffer.from(body, 'base64');
    else {
      const chunks: string[] = [];
      for (const raw of body.split(/\r?\n/)) {
        const l = raw.trim();
        if (!l) continue;
        const colon = l.indexOf(':');
        if (colon > 0 && chunks.length === 0) {
          headers[l.slice(0, colon).trim()] = l.slice(colon + 1).trim();
          continue;
        }
        chunks.push(l);
      }
      const b64 = chunks.join('');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1)
        throw new InputError(`PEM block '${shortLabel(label)}' starting on line ${line} has invalid base64`);
      der = Buffer.from(b64, 'base64');
    }
    blocks.push({ label, der, headers, text: text.slice(b, e + endMarker.length), line });
    pos = e + endMarker.length;
  }
  return blocks;
}

/**
 * The usual body: lines of base64 split by LF only, at most two '=' at the very end, no headers, no
 * blanks or other whitespace, and a length that is not 1 mod 4. The general path above would join those
 * lines and find them valid; Buffer's decoder skips the line feeds itself, so the body is decoded as it is.
 * Anything else (CRLF, headers, spaces, a bad character) takes the general path and its errors.
 * A regular expression, not a loop over charCodeAt: on the slice of a file's text that a body is, the loop
 * took ~15 us for a 1.8 KB certificate and the expression ~3 (docs/benchmarks.md, 2026-12-04).
 */
export function plainBase64Lines(body: string): boolean {
  if (!PLAIN_BASE64_LINES.test(body)) return false;
  let lineFeeds = 0;
  for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) lineFeeds++;
  return (body.length - lineFeeds) % 4 !== 1;
}
/** Base64 characters and line feeds, then at most two '=', each followed only by line feeds. */
const PLAIN_BASE64_LINES = /^[A-Za-z0-9+/\n]*(?:=\n*){0,2}$/;

function shortLabel(label: string): string {
  return label.length > 40 ? `${label.slice(0, 40)}...` : label;
}
