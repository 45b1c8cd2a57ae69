// `anchorage ca log verify`: check an exported transparency log offline. The tree head's signature (by
// the exported or a pinned log key), the root over every entry, optionally the consistency of an
// older tree head with this one, and a certificate's inclusion (by its SHA-256) with an RFC 6962 proof.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import type { Certificate } from '../x509/certificate.ts';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootOf,
  type TreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHead,
} from './merkle.ts';
import { LOG_FORMAT, type LogEntry, type LogExport } from './service.ts';

/** Most entries a log file may hold for offline verification. */
export const MAX_LOG_ENTRIES = 10_000_000;

export interface LogVerifyReport {
  ok: boolean;
  treeSize: number;
  rootHash: string;
  problems: string[];
  consistentWith?: { treeSize: number; ok: boolean };
  certificate?: {
    sha256: string;
    included: boolean;
    index?: number;
    proof?: string[];
    serial?: string;
    revoked?: boolean;
  };
}

export function parseLogExport(text: string): LogExport {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(`log file is not JSON: ${(e as Error).message}`);
  }
  const o = v as Partial<LogExport>;
  if (!o || o.format !== LOG_FORMAT) throw new InputError(`log file format must be ${LOG_FORMAT}`);
  if (!Array.isArray(o.entries) || !o.entries.every((e) => typeof e === 'string'))
    throw new InputError('log file: entries must be a list of strings');
  if (o.entries.length > MAX_LOG_ENTRIES) throw new InputError(`too large: ${o.entries.length} log entries (limit ${MAX_LOG_ENTRIES})`);
  const h = o.treeHead as TreeHead | undefined;
  if (
    !h ||
    typeof h.treeSize !== 'number' ||
    typeof h.timestamp !== 'number' ||
    typeof h.rootHash !== 'string' ||
    typeof h.signature !== 'string'
  )
    throw new InputError('log file: treeHead must have treeSize, timestamp, rootHash and signature');
  if (typeof o.logKey !== 'string') throw new InputError('log file: logKey missing');
  return o as LogExport;
}

export function parseTreeHead(text: string): TreeHead {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(`tree head is not JSON: ${(e as Error).message}`);
  }
  const h = ((v as { treeHead?: unknown }).treeHead ?? v) as TreeHead;
  if (typeof h?.treeSize !== 'number' || typeof h.rootHash !== 'string' || typeof h.signature !== 'string')
    throw new InputError('tree head must have treeSize, timestamp, rootHash and signature');
  return h;
}

export function verifyLog(log: LogExport, opts: { logKeyPem?: string; cert?: Certificate; since?: TreeHead } = {}): LogVerifyReport {
  const problems: string[] = [];
  let key: KeyObject;
  try {
    key = createPublicKey(opts.logKeyPem ?? log.logKey);
  } catch {
    throw new InputError('the log key is not a public key (PEM)');
  }
  if (opts.logKeyPem) {
    const pinned = key.export({ format: 'der', type: 'spki' });
    let exported: Buffer | undefined;
    try {
      exported = createPublicKey(log.logKey).export({ format: 'der', type: 'spki' });
    } catch {
      exported = undefined;
    }
    if (!exported || !pinned.equals(exported)) problems.push('the log file names another log key than the pinned one');
  }
  const head = log.treeHead;
  if (!verifyTreeHead(key, head)) problems.push('the tree head signature does not verify with the log key');
  if (head.treeSize !== log.entries.length)
    problems.push(`the tree head covers ${head.treeSize} entries; the file has ${log.entries.length}`);
  const leaves = log.entries.map((e) => leafHash(Buffer.from(e, 'utf8')));
  const size = Math.min(head.treeSize, leaves.length);
  const root = Buffer.from(rootOf(leaves.slice(0, size))).toString('hex');
  if (root !== head.rootHash) problems.push(`the entries hash to root ${root}, not the signed ${head.rootHash}: the log was altered`);
  const report: LogVerifyReport = { ok: false, treeSize: head.treeSize, rootHash: head.rootHash, problems };

  if (opts.since) {
    const old = opts.since;
    let ok = verifyTreeHead(key, old);
    if (!ok) problems.push('the older tree head signature does not verify with the log key');
    if (old.treeSize > size) {
      problems.push(`the older tree head (${old.treeSize} entries) is larger than this log (${size})`);
      ok = false;
    } else if (ok) {
      const proof = consistencyProof(leaves, old.treeSize, size);
      ok = verifyConsistency(old.treeSize, size, proof, Buffer.from(old.rootHash, 'hex'), Buffer.from(root, 'hex'));
      if (!ok) problems.push(`the log is not an append-only extension of the older tree head of ${old.treeSize} entries`);
    }
    report.consistentWith = { treeSize: old.treeSize, ok };
  }

  if (opts.cert) {
    const sha = createHash('sha256').update(opts.cert.der).digest('hex');
    const c: NonNullable<LogVerifyReport['certificate']> = { sha256: sha, included: false };
    for (let i = 0; i < size; i++) {
      let e: LogEntry;
      try {
        e = JSON.parse(log.entries[i] as string) as LogEntry;
      } catch {
        continue;
      }
      if (e.sha256 === sha && (e.type === 'issue' || e.type === 'renew' || e.type === 'ca')) {
        const proof = inclusionProof(leaves, i, size);
        c.included = verifyInclusion(leaves[i] as Uint8Array, i, size, proof, Buffer.from(head.rootHash, 'hex'));
        c.index = i;
        c.proof = proof.map((h) => Buffer.from(h).toString('hex'));
        if (e.serial !== undefined) c.serial = e.serial;
      }
      if (c.serial !== undefined && e.type === 'revoke' && e.serial === c.serial) c.revoked = true;
    }
    if (!c.included) problems.push(`certificate ${opts.cert.subject} (sha256 ${sha}) is not in the log: the CA did not record it`);
    report.certificate = c;
  }
  report.ok = problems.length === 0;
  return report;
}
