// OpenSSH known_hosts: parse, match a host key, and the line `--accept-new` appends. Pure.
// Matching follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT": comma-separated patterns with * and ?, negation
// with !, `[host]:port` for a port other than 22, hashed names (|1|salt|hmac-sha1), @revoked lines.
// Stricter than OpenSSH in one way: a host known under any key type whose key does not match is "changed".
import { createHmac } from 'node:crypto';
import { InputError } from '../common/errors.ts';

/** Budget for one known_hosts file. */
export const MAX_KNOWN_HOSTS_BYTES = 16 * 1024 * 1024;

export interface KnownHostEntry {
  line: number;
  marker?: 'revoked' | 'cert-authority';
  patterns: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { kind: 'known'; line: number }
  | { kind: 'unknown' }
  | { kind: 'changed'; line: number; knownType: string }
  | { kind: 'revoked'; line: number };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  if (text.length > MAX_KNOWN_HOSTS_BYTES) throw new InputError(`too large: known_hosts over ${MAX_KNOWN_HOSTS_BYTES} bytes`);
  const out: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (!raw || raw.startsWith('#')) continue;
    const parts = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (parts[0]?.startsWith('@')) {
      const m = parts.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [patterns, keyType, b64] = parts;
    if (!patterns || !keyType || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    const entry: KnownHostEntry = { line: i + 1, patterns, keyType, key: Buffer.from(b64, 'base64') };
    if (marker) entry.marker = marker;
    out.push(entry);
  }
  return out;
}

/** The name known_hosts uses for host:port. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function glob(pattern: string, s: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(s);
}

/** Does a known_hosts pattern list name this host? */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (glob(p.slice(1), name)) return false;
    } else if (glob(p, name)) matched = true;
  }
  return matched;
}

/** The key type inside an SSH public key blob (string keytype, then the key). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = hostName(host, port);
  const mine = entries.filter((e) => e.marker !== 'cert-authority' && patternsMatch(e.patterns, name));
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const plain = mine.filter((e) => !e.marker);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { kind: 'known', line: same.line };
  const other = plain[0];
  if (other) return { kind: 'changed', line: other.line, knownType: other.keyType };
  return { kind: 'unknown' };
}

/** The line `--accept-new` appends (plain host name, as OpenSSH writes with HashKnownHosts no). */
export function knownHostsLine(host: string, port: number, key: Buffer): string {
  return `${hostName(host, port)} ${keyTypeOfBlob(key)} ${key.toString('base64')}`;
}
