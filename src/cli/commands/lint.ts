// `anchorage lint <files|dirs>`: run the lint catalog (docs/findings.md) under a policy (docs/policy.md).
// Exit 0 clean, 1 findings at or above --fail-on, 2 bad input (InputError, mapped by main.ts).
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { stringifyYaml } from '../../common/yaml.ts';
import { activeLints, LintIndex, type LintReport, type LintTarget, lintTarget, MAX_SHARERS_LISTED } from '../../lint/engine.ts';
import { showString } from '../../lint/lints/util.ts';
import { loadPolicy, type Policy } from '../../lint/policy.ts';
import { sarifWriter } from '../../lint/sarif.ts';
import { type Finding, SEVERITIES, SEVERITY_RANK, type Severity } from '../../lint/types.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { DerError } from '../../x509/der.ts';
import { parseAt } from '../args.ts';
import { constantMemory, noMidTierCompiler, stdinOnce } from '../files.ts';
import { GroupedTable } from '../grouped-table.ts';
import { eachInput, type SourceRead } from '../inputs.ts';
import { bufferedWriter, checkFormat, writeStdoutSync } from '../output.ts';
import { CertificateSpool } from '../spool.ts';

export interface LintCliOptions {
  policy?: string;
  output?: string;
  failOn?: string;
  /** Evaluate expiry at this time (ISO 8601 or Unix seconds) instead of now. */
  at?: string;
  /** default|strict: strict also warns about what kubeadm does by design (docs/policy.md). */
  profile?: string;
  /** List the files that held no certificate in the table output. */
  verbose?: boolean;
}

export interface LintOutput extends LintReport {
  /** Files (or parts of files) that held nothing lintable, with the reason. Informational: they do not fail the run. */
  skipped: { source: string; reason: string }[];
}

const FORMATS = ['table', 'json', 'yaml', 'sarif'] as const;

/** Most certificates a lint run holds at once: those named as another's issuer and those sharing a key. */
export const MAX_LINT_POOL = 100_000;

/** The lint targets of one source, and why it was (partly) skipped. */
function targetsOf(r: SourceRead, skipped: LintOutput['skipped'] | undefined): LintTarget[] {
  if (!r.result) {
    skipped?.push({ source: r.source, reason: r.error ?? 'unreadable' });
    return [];
  }
  const certs = r.result.objects.filter((o) => o.kind === 'certificate');
  if (skipped) {
    for (const w of r.result.warnings) skipped.push({ source: r.source, reason: w });
    if (certs.length === 0) skipped.push({ source: r.source, reason: 'no certificate in this file' });
  }
  return certs.map((o) => {
    const t: LintTarget = { cert: o.cert, source: r.source };
    // Name the position only when it tells certificates apart (bundles, kubeconfigs).
    if (certs.length > 1 || r.result?.format === 'kubeconfig') t.location = o.location;
    return t;
  });
}

/**
 * A 64-bit hash of some bytes (cyrb53's two 32-bit halves, hi and lo, left in `h64hi`/`h64lo`): sets of hashes
 * stand for sets of names and keys in the first pass. h53 is cyrb53 itself, from the same halves.
 */
let h64hi = 0;
let h64lo = 0;
function h64(b: Uint8Array): true {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  h64hi = h2 >>> 0;
  h64lo = h1 >>> 0;
  return true;
}
const h53of = (hi: number, lo: number): number => 4294967296 * (2097151 & hi) + lo;
function h53(b: Uint8Array): number {
  h64(b);
  return h53of(h64hi, h64lo);
}

const tryDer = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
};

/**
 * A certificate's key and subject as two 64-bit hashes (four 32-bit words), in blocks of 16k: 16 bytes a
 * certificate, no copy of the whole as it grows, sorted in place (no sorted copy).
 */
class HashPairs {
  private readonly blocks: Uint32Array[] = [];
  length = 0;
  push(keyHi: number, keyLo: number, subjectHi: number, subjectLo: number): void {
    const b = this.length >>> 14;
    if (b === this.blocks.length) this.blocks.push(new Uint32Array(65536));
    const block = this.blocks[b] as Uint32Array;
    const o = (this.length++ & 16383) * 4;
    block[o] = keyHi;
    block[o + 1] = keyLo;
    block[o + 2] = subjectHi;
    block[o + 3] = subjectLo;
  }
  /** Word w (0 key hi, 1 key lo, 2 subject hi, 3 subject lo) of pair i. */
  word(i: number, w: number): number {
    return (this.blocks[i >>> 14] as Uint32Array)[(i & 16383) * 4 + w] as number;
  }
  sameKey(i: number, j: number): boolean {
    return this.word(i, 0) === this.word(j, 0) && this.word(i, 1) === this.word(j, 1);
  }
  sameSubject(i: number, j: number): boolean {
    return this.word(i, 2) === this.word(j, 2) && this.word(i, 3) === this.word(j, 3);
  }
  clear(): void {
    this.blocks.length = 0;
    this.length = 0;
  }
  private less(i: number, j: number): boolean {
    const bi = this.blocks[i >>> 14] as Uint32Array;
    const oi = (i & 16383) * 4;
    const bj = this.blocks[j >>> 14] as Uint32Array;
    const oj = (j & 16383) * 4;
    for (let w = 0; w < 4; w++) {
      const a = bi[oi + w] as number;
      const b = bj[oj + w] as number;
      if (a !== b) return a < b;
    }
    return false;
  }
  private swap(i: number, j: number): void {
    const bi = this.blocks[i >>> 14] as Uint32Array;
    const oi = (i & 16383) * 4;
    const bj = this.blocks[j >>> 14] as Uint32Array;
    const oj = (j & 16383) * 4;
    for (let w = 0; w < 4; w++) {
      const t = bi[oi + w] as number;
      bi[oi + w] = bj[oj + w] as number;
      bj[oj + w] = t;
    }
  }
  /** Sorts the pairs by key, then subject, in place (quicksort, median of three, the smaller side first). */
  sort(): void {
    const stack: number[] = [0, this.length - 1];
    while (stack.length) {
      let hi = stack.pop() as number;
      let lo = stack.pop() as number;
      while (hi - lo > 16) {
        const mid = lo + ((hi - lo) >>> 1);
        if (this.less(mid, lo)) this.swap(mid, lo);
        if (this.less(hi, lo)) this.swap(hi, lo);
        if (this.less(hi, mid)) this.swap(hi, mid);
        // The median at hi - 1 as the pivot.
        this.swap(mid, hi - 1);
        const p = hi - 1;
        let i = lo;
        let j = hi - 1;
        for (;;) {
          while (this.less(++i, p));
          while (this.less(p, --j));
          if (i >= j) break;
          this.swap(i, j);
        }
        this.swap(i, p);
        if (i - lo < hi - i) {
          stack.push(i + 1, hi);
          hi = i - 1;
        } else {
          stack.push(lo, i - 1);
          lo = i + 1;
        }
      }
      for (let i = lo + 1; i <= hi; i++) for (let j = i; j > lo && this.less(j, j - 1); j--) this.swap(j, j - 1);
    }
  }
}

/** Distinct issuer names and key ids the first walk notes (past that, a walk looks up every certificate's issuer). */
const MAX_ISSUED_BY = 10_000;

/** Certificates the first walk keeps on a guess that they are in the pool (CAs, names some certificate gave as its issuer). */
const MAX_GUESSED = 4096;
/** And on a guess that keys are shared: each key's first holders of its first MAX_SHARERS_LISTED + 1 subjects. */
export const MAX_KEY_GUESSED = 1024;

/**
 * Lint every certificate under the paths, streaming: what lintCertificates reports over every
 * certificate of the inputs at once, without holding them. Each file is read and parsed once per walk and
 * dropped. Two walks in the common case:
 *  1. hashes of every issuer name, and of every key and subject (16 bytes a certificate); the certificates
 *     that look like issuers (CAs, and those whose name an earlier certificate gave as its issuer), kept on
 *     a guess; every distinct issuer name and authority key id;
 *  then the pool: the certificates whose subject is some certificate's issuer name, and, of each key that
 *  certificates with different subjects hold, the first MAX_SHARERS_LISTED + 1 subjects' first holders (those
 *  are the only answers the set's lookups can give; how many subjects share the key is counted from the
 *  hashes), at most MAX_LINT_POOL, in the walk's order, taken from the guessed ones: the first walk also keeps
 *  each key's first holders of its first subjects while there are at most MAX_KEY_GUESSED of them (few keys);
 *  and which of the pool issue others, from the issuer names and key ids;
 *  2. every certificate linted with its set facts, its findings handed to `emit`.
 * When the guess missed a certificate of the pool (a leaf that issued another before it was met) or a key
 * is shared under two names among too many keys to keep each one's first holders, a walk reads the pool
 * again; when a signature must tell which certificate
 * issued another (no key ids), a walk looks up every certificate's issuer (the four walks this took before).
 * Memory: the pool, the hashes, the findings and the skipped list; not the certificates.
 */
export function streamLint(
  paths: readonly string[],
  opts: {
    policy: Policy;
    now: Date;
    begin?: (certificates: number) => void;
    /** Most bytes the spool of the first walk may take (default MAX_SPOOL_BYTES; 0: none, every walk reads the files). */
    spoolBytes?: number;
  },
  emit: (f: Finding) => void,
): { certificates: number; skipped: LintOutput['skipped']; pooled: number; walks: number; spooled: boolean } {
  // The later walks read the first one's certificates back from a spool when it holds them all (src/cli/spool.ts).
  const spool = new CertificateSpool(undefined, opts.spoolBytes);
  try {
    return { ...lintWalks(paths, opts, emit, spool), spooled: spool.complete };
  } finally {
    spool.close();
  }
}

/** streamLint's walks, the first recorded in `spool`, the later ones replayed from it when it holds the whole walk. */
function lintWalks(
  paths: readonly string[],
  opts: { policy: Policy; now: Date; begin?: (certificates: number) => void },
  emit: (f: Finding) => void,
  spool: CertificateSpool,
): { certificates: number; skipped: LintOutput['skipped']; pooled: number; walks: number } {
  const stdin = stdinOnce();
  // Files are read into the walk's reused buffers, except in the walk that reads the pool again
  // (a certificate read from DER is a view of the file's bytes; a guessed one is copied).
  const inputs = eachInput(paths, { stdin, reuse: true });
  const keeping = eachInput(paths, { stdin });
  let walks = 1;
  // Sources named twice (a file given twice, or inside a directory given too) count their certificates
  // together, as the collected targets did; any other path is met once.
  const named = new Set(paths);
  const namedCounts = new Map<string, number>();
  const issuerNames = new Set<number>();
  const hashes = new HashPairs();
  // Subjects (h53) of certificates whose key cannot be read: they can still be named as an issuer.
  const unkeyed: number[] = [];
  let total = 0;
  let guessed: Map<number, Certificate> | undefined = new Map();
  const keyId = (hi: number, lo: number): string => `${hi}:${lo}`;
  // Per key (64-bit hash): its first MAX_SHARERS_LISTED + 1 subjects and their first holders, in the walk's order.
  let keyGuess: Map<string, { subjects: string[]; holders: [number, Certificate][] }> | undefined = new Map();
  let keyGuessed = 0;
  // Issuer name (LintIndex.nameKey) and authority key id ('' none) of every certificate that is not self-issued.
  let issuedBy: Map<string, Set<string>> | undefined = new Map();
  let issuedByCount = 0;
  let lastIssuer = Buffer.alloc(0);
  let lastAki: string | undefined;
  for (const r of spool.record(inputs)) {
    const targets = targetsOf(r, undefined);
    if (named.has(r.source)) namedCounts.set(r.source, (namedCounts.get(r.source) ?? 0) + targets.length);
    for (const { cert } of targets) {
      const at = total++;
      // A certificate whose subject cannot be read is in no lookup of the set (LintIndex.add); one whose key
      // cannot be read is found only by its name.
      let subject = -1;
      if (tryDer(() => h64(cert.subjectRaw)) !== undefined) {
        subject = h53of(h64hi, h64lo);
        const sHi = h64hi;
        const sLo = h64lo;
        if (tryDer(() => h64(cert.spki)) !== undefined) {
          hashes.push(h64hi, h64lo, sHi, sLo);
          if (keyGuess) {
            const k = keyId(h64hi, h64lo);
            const s = keyId(sHi, sLo);
            let g = keyGuess.get(k);
            if (!g) {
              g = { subjects: [], holders: [] };
              keyGuess.set(k, g);
            }
            if (firstSubject(g.subjects, s)) {
              const copy = ++keyGuessed <= MAX_KEY_GUESSED ? cert.detached() : undefined;
              if (copy) g.holders.push([at, copy]);
              else keyGuess = undefined;
            }
          }
        } else unkeyed.push(subject);
      }
      if (guessed && ((subject >= 0 && issuerNames.has(subject)) || looksLikeCa(cert))) {
        const copy = cert.detached();
        if (copy && guessed.size < MAX_GUESSED) guessed.set(at, copy);
        else guessed = undefined;
      }
      const issuer = tryDer(() => (cert.selfIssued ? undefined : h53(cert.issuerRaw)));
      if (issuer === undefined) continue;
      issuerNames.add(issuer);
      if (!issuedBy) continue;
      let aki: string | undefined;
      try {
        aki = cert.authorityKeyId;
      } catch (e) {
        // issuerOf answers nothing for a certificate whose key id cannot be read.
        if (e instanceof DerError) continue;
        issuedBy = undefined;
        continue;
      }
      // Certificates of one folder mostly share their issuer: the same as the last one is not looked up again.
      const raw = cert.issuerRaw;
      if (aki === lastAki && Buffer.from(raw.buffer, raw.byteOffset, raw.length).equals(lastIssuer)) continue;
      lastIssuer = Buffer.from(raw);
      lastAki = aki;
      const name = LintIndex.nameKey(raw);
      let ids = issuedBy.get(name);
      if (!ids) {
        ids = new Set();
        issuedBy.set(name, ids);
      }
      if (!ids.has(aki ?? '')) {
        ids.add(aki ?? '');
        if (++issuedByCount > MAX_ISSUED_BY) issuedBy = undefined;
      }
    }
  }
  if (total === 0) return { certificates: 0, skipped: [], pooled: 0, walks };

  const tooLarge = (): InputError =>
    new InputError(
      `${paths.join(', ')}: too large: more than ${MAX_LINT_POOL} certificates issue others or share a key (lint holds those at once)`,
    );
  // A key is shared when certificates with different subjects hold it (what LintIndex.sharersOf reports):
  // copies of one certificate, or renewals under the same name and key, hold it alone. The pairs sorted by
  // key then subject: a key's holders are a run, its distinct subjects runs within it. The pool holds the
  // first holder of each of a shared key's first MAX_SHARERS_LISTED + 1 subjects (all a finding names) and
  // the certificates named as an issuer (byName); the number of subjects is kept per key for the finding.
  const shared = new Map<string, number>();
  let byName = 0;
  let reps = 0;
  for (const s of unkeyed) if (issuerNames.has(s)) byName++;
  hashes.sort();
  for (let i = 0; i < hashes.length; ) {
    let end = i + 1;
    let subjects = 1;
    for (; end < hashes.length && hashes.sameKey(end, i); end++) if (!hashes.sameSubject(end, end - 1)) subjects++;
    if (subjects > 1) {
      shared.set(keyId(hashes.word(i, 0), hashes.word(i, 1)), subjects);
      reps += Math.min(subjects, MAX_SHARERS_LISTED + 1);
    }
    for (; i < end; i++) if (issuerNames.has(h53of(hashes.word(i, 2), hashes.word(i, 3)))) byName++;
    // The pool holds at least either part.
    if (byName > MAX_LINT_POOL || reps > MAX_LINT_POOL) throw tooLarge();
  }
  hashes.clear();
  const isNamed = (cert: Certificate): boolean => {
    const subject = tryDer(() => h53(cert.subjectRaw));
    return subject !== undefined && issuerNames.has(subject);
  };

  // The pool, in the walk's order: the guessed certificates when they hold all of it (as many named as an
  // issuer as the walk met, and each shared key's first holders kept). A certificate of the pool stands for
  // itself (its object) in the later walks, and a file that changed since the first walk fails the run rather
  // than mixing two versions.
  const pool = new Map<number, Certificate>();
  const index = new LintIndex();
  let fromGuess = false;
  if (shared.size === 0 || keyGuess) {
    const found = new Map([...(guessed ?? [])].filter(([, cert]) => isNamed(cert)));
    if (found.size === byName) {
      fromGuess = true;
      for (const [k, subjects] of shared) {
        const holders = keyGuess?.get(k)?.holders ?? [];
        for (const [at, cert] of holders) found.set(at, cert);
        const spki = holders.length ? tryDer(() => (holders[0] as [number, Certificate])[1].spkiSha256) : undefined;
        if (spki !== undefined) index.setKeySubjects(spki, subjects);
      }
      if (found.size > MAX_LINT_POOL) throw tooLarge();
      for (const [at, cert] of [...found].sort((a, b) => a[0] - b[0])) {
        pool.set(at, cert);
        index.add(cert);
      }
    }
  }
  guessed = undefined;
  keyGuess = undefined;
  const changed = (source: string): InputError => new InputError(`${source}: changed while being linted (read again in a later pass)`);
  const pass = (
    each: (t: LintTarget, at: number, source: string, count: number, read: Certificate) => void,
    skipped?: LintOutput['skipped'],
    walk: Iterable<SourceRead> = spool.complete ? spool.replay(true) : inputs,
  ): void => {
    walks++;
    let at = 0;
    for (const r of walk) {
      const targets = targetsOf(r, skipped);
      for (const t of targets) {
        if (at >= total) throw changed(r.source);
        const read = t.cert;
        const kept = pool.get(at);
        if (kept) {
          const d = t.cert.der;
          if (!Buffer.from(d.buffer, d.byteOffset, d.length).equals(kept.der)) throw changed(r.source);
          t.cert = kept;
        }
        each(t, at++, r.source, targets.length, read);
      }
    }
    if (at !== total) throw changed(paths.join(', '));
  };
  // The guess missed part of the pool, or keys are shared: a walk reads it, in the walk's order.
  if (!fromGuess) {
    // Per shared key, the subjects (64-bit hashes) whose first holder is in the pool.
    const held = new Map<string, string[]>();
    pass(
      ({ cert }, at) => {
        // The subject hashed once: its 53 bits say whether it is named as an issuer, all 64 which name it is.
        if (tryDer(() => h64(cert.subjectRaw)) === undefined) return;
        const named = issuerNames.has(h53of(h64hi, h64lo));
        let rep = false;
        if (shared.size) {
          const subject = keyId(h64hi, h64lo);
          const k = tryDer(() => h64(cert.spki)) === undefined ? undefined : keyId(h64hi, h64lo);
          const subjects = k === undefined ? undefined : shared.get(k);
          if (k !== undefined && subjects !== undefined) {
            let seen = held.get(k);
            if (!seen) {
              seen = [];
              held.set(k, seen);
            }
            if (firstSubject(seen, subject)) {
              rep = true;
              const spki = tryDer(() => cert.spkiSha256);
              if (spki !== undefined) index.setKeySubjects(spki, subjects);
            }
          }
        }
        if (!rep && !named) return;
        if (pool.size >= MAX_LINT_POOL) throw tooLarge();
        pool.set(at, cert);
        index.add(cert);
      },
      undefined,
      spool.complete ? spool.replay(false) : keeping,
    );
  }
  issuerNames.clear();
  shared.clear();
  // Which of the pool issue others: each issuer name and key id answers for all its certificates, unless a
  // signature must decide; then a walk looks up every certificate's issuer.
  const issuers = new Set<Certificate>();
  for (const [name, ids] of issuedBy ?? []) {
    for (const aki of ids) {
      const found = index.issuerByKeyId(name, aki === '' ? undefined : aki);
      if (!found) {
        issuedBy = undefined;
        break;
      }
      if (found.issuer) issuers.add(found.issuer);
    }
    if (!issuedBy) break;
  }
  if (!issuedBy) {
    issuers.clear();
    pass(({ cert }) => {
      const i = index.issuerOf(cert).issuer;
      if (i) issuers.add(i);
    });
  }
  issuedBy = undefined;
  // Lint, in the walk's order.
  const lints = activeLints(opts.policy);
  opts.begin?.(total);
  const skipped: LintOutput['skipped'] = [];
  pass((t, _at, source, count, read) => {
    const { issuer, claimed } = index.issuerOf(t.cert);
    const sourceCount = namedCounts.get(source) ?? count;
    const facts = { issuer, claimed, issuesOthers: issuers.has(t.cert), sharers: index.sharersOf(t.cert), sourceCount };
    // The set's facts are the pool's objects; the lints read every field of the certificate itself, so a pooled one
    // is linted as this walk read it: the pool keeps only what its lookups decoded, not every field the lints did
    // (20,000 certificates sharing a few keys held 540 MiB so).
    t.cert = read;
    for (const f of lintTarget(t, facts, opts, lints)) emit(f);
  }, skipped);
  return { certificates: total, skipped, pooled: pool.size, walks };
}

/**
 * Notes `subject` (its 64-bit hash) among a key's subjects in the walk's order: true when it is new and among the
 * first MAX_SHARERS_LISTED + 1, whose first holders are all a shared-key finding can name (both walks that pick them).
 */
function firstSubject(seen: string[], subject: string): boolean {
  if (seen.length > MAX_SHARERS_LISTED || seen.includes(subject)) return false;
  seen.push(subject);
  return true;
}

/** A CA by its basic constraints (a guess: anything unreadable is not). */
function looksLikeCa(cert: Certificate): boolean {
  try {
    return cert.isCA;
  } catch {
    return false;
  }
}

function parseFailOn(s: string | undefined): Severity {
  const v = s ?? 'error';
  if (!(SEVERITIES as readonly string[]).includes(v))
    throw new InputError(`--fail-on: '${v}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  return v as Severity;
}

export function lintSettings(o: LintCliOptions, now: Date): { policy: Policy; now: Date } {
  const loaded = loadPolicy(o.policy);
  if (o.profile !== undefined && o.profile !== 'default' && o.profile !== 'strict')
    throw new InputError(`--profile: '${o.profile}' is not a lint profile (expected default or strict)`);
  const policy = o.profile !== undefined ? { ...loaded, profile: o.profile as 'default' | 'strict' } : loaded;
  return { policy, now: o.at !== undefined ? parseAt(o.at) : now };
}

/**
 * `-o json` written as it goes: each finding as the last walk meets it, nothing held. The document is
 * what JSON.stringify(report, null, 2) prints for {certificates, findings, summary, skipped}: the
 * summary and the skipped files, known only at the end, come after the findings (docs/findings.md).
 * Returns the summary for --fail-on.
 */
export const streamLintJson: LintStreamer = streamer(() => ({
  begin: (count, w) => w(`{\n  "certificates": ${count},\n  "findings": [`),
  finding: (f, first, w) => w(`${first ? '' : ','}\n    ${JSON.stringify(f, null, 2).replaceAll('\n', '\n    ')}`),
  end: ({ summary, skipped, findings }, w) => w(`${findings ? '\n  ' : ''}],\n${JSON.stringify({ summary, skipped }, null, 2).slice(2)}\n`),
}));

/**
 * `-o yaml` written as it goes, as `-o json` is: what the YAML library prints for {certificates, findings, summary,
 * skipped} (line width off), each finding printed as a one-item list and indented under `findings:` as the whole
 * document would have it. Returns the summary for --fail-on.
 */
export const streamLintYaml: LintStreamer = streamer(() => ({
  begin: (count, w) => w(stringifyYaml({ certificates: count }, { lineWidth: 0 })),
  // Lines of a block scalar left empty stay empty, as in the whole document.
  finding: (f, first, w) => w(`${first ? 'findings:\n' : ''}${stringifyYaml([f], { lineWidth: 0 }).replace(/^(?=.)/gm, '  ')}`),
  end: ({ summary, skipped, findings }, w) =>
    w(`${findings ? '' : 'findings: []\n'}${stringifyYaml({ summary, skipped }, { lineWidth: 0 })}`),
}));

/** How a streamed document is written: its opening once the count is known, each finding, and its end. */
interface StreamedDocument {
  begin?: (certificates: number, w: (s: string) => void) => void;
  finding: (f: Finding, first: boolean, w: (s: string) => void) => void;
  end: (
    r: { certificates: number; summary: Record<Severity, number>; skipped: LintOutput['skipped']; findings: number },
    w: (s: string) => void,
  ) => void;
}

/** A streamed output: the paths linted into `write` as the last walk goes; returns the summary for --fail-on. */
type LintStreamer = (
  paths: string[],
  o: LintCliOptions,
  write: (chunk: string) => void,
  now?: Date,
) => { certificates: number; summary: Record<Severity, number> };

/** A LintStreamer writing the document `make` describes (made anew for each run). */
function streamer(make: () => StreamedDocument): LintStreamer {
  return (paths, o, write, now = new Date()) => streamDocument(paths, o, write, now, make());
}

/** countedLint into a document written through a buffer as the last walk goes. Returns the summary for --fail-on. */
function streamDocument(
  paths: string[],
  o: LintCliOptions,
  write: (chunk: string) => void,
  now: Date,
  doc: StreamedDocument,
): { certificates: number; summary: Record<Severity, number> } {
  const out = bufferedWriter(write);
  const w = (s: string): void => out.write(s);
  let findings = 0;
  const { certificates, skipped, summary } = countedLint(
    paths,
    o,
    now,
    (f) => doc.finding(f, findings++ === 0, w),
    doc.begin && ((count) => doc.begin?.(count, w)),
  );
  doc.end({ certificates, summary, skipped, findings }, w);
  out.flush();
  return { certificates, summary };
}

/**
 * streamLint with the run's settings, each finding counted by severity before `emit` has it; no certificate
 * at all is bad input (thrown before anything is written: `begin` runs only when there are certificates).
 */
function countedLint(
  paths: string[],
  o: LintCliOptions,
  now: Date,
  emit: (f: Finding) => void,
  begin?: (certificates: number) => void,
): { certificates: number; skipped: LintOutput['skipped']; summary: Record<Severity, number> } {
  const summary: Record<Severity, number> = { error: 0, warning: 0, notice: 0 };
  const { certificates, skipped } = streamLint(paths, { ...lintSettings(o, now), ...(begin && { begin }) }, (f) => {
    summary[f.severity]++;
    emit(f);
  });
  if (certificates === 0) throw new InputError(`no certificates found in ${paths.join(', ')}`);
  return { certificates, skipped, summary };
}

/**
 * `-o sarif` written as it goes, as `-o json` is: what JSON.stringify(toSarif(report), null, 2) prints, each
 * result as the last walk meets its finding. Returns the summary for --fail-on.
 */
export const streamLintSarif: LintStreamer = streamer(() => {
  // Made on first use: nothing is written before the walks have found a certificate.
  let sarif: ReturnType<typeof sarifWriter> | undefined;
  return {
    finding: (f, _first, w) => {
      sarif ??= sarifWriter(w);
      sarif.result(f);
    },
    end: ({ certificates, summary }, w) => {
      sarif ??= sarifWriter(w);
      sarif.end(certificates, summary);
    },
  };
});

/** failsAt over the counts: a finding at or above `threshold` was reported. */
function summaryFailsAt(summary: Record<Severity, number>, threshold: Severity): boolean {
  return SEVERITIES.some((s) => SEVERITY_RANK[s] >= SEVERITY_RANK[threshold] && summary[s] > 0);
}

export const TABLE_HEADERS = ['SEVERITY', 'LINT', 'SUBJECT', 'FILE', 'MESSAGE'];

/** The table's row of a finding. */
export const rowOf = (f: Finding): string[] => [
  f.severity,
  f.lintId,
  showString(f.subject) || '(empty subject)',
  f.source ? `${f.source}${f.location ? ` [${f.location}]` : ''}` : '-',
  f.message,
];

/** The line under the table: counts, and the files without certificates (listed with --verbose). */
export function summaryText(
  certificates: number,
  s: Record<Severity, number>,
  skippedFiles: LintOutput['skipped'],
  verbose: boolean,
): string {
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  const summary = `${plural(certificates, 'certificate')}: ${plural(s.error, 'error')}, ${plural(s.warning, 'warning')}, ${plural(s.notice, 'notice')}`;
  // Keys, manifests and READMEs beside the certificates are expected: counted, listed only with --verbose.
  const skipped = !skippedFiles.length
    ? ''
    : verbose
      ? `\nskipped ${skippedFiles.length}: ${skippedFiles.map((k) => `${k.source} (${k.reason})`).join('; ')}`
      : `; ${skippedFiles.length} file${skippedFiles.length === 1 ? '' : 's'} without certificates skipped (--verbose lists them)`;
  return `${summary}${skipped}\n`;
}

/**
 * The table (what renderTable prints over the findings sorted by severity) as the last walk goes: the findings grouped by severity in a GroupedTable,
 * which holds them up to a budget and then in temporary files, printed at the end. Returns the summary.
 */
export function streamLintTable(
  paths: string[],
  o: LintCliOptions,
  write: (chunk: string) => void,
  now: Date = new Date(),
  /** Characters of rows held before they go to temporary files (GroupedTable's default; tests make it small). */
  held?: number,
): { certificates: number; summary: Record<Severity, number> } {
  const groups = [...SEVERITIES].sort((a, b) => SEVERITY_RANK[b] - SEVERITY_RANK[a]);
  const table = new GroupedTable(TABLE_HEADERS, groups.length, held);
  try {
    const { certificates, skipped, summary } = countedLint(paths, o, now, (f) => table.add(groups.indexOf(f.severity), rowOf(f)));
    table.finish(write);
    write(summaryText(certificates, summary, skipped, o.verbose === true));
    return { certificates, summary };
  } finally {
    table.dispose();
  }
}

/** The whole command: print in the chosen format and return the exit code. `-o json`, `-o yaml` and `-o sarif`
 * go to `write` as they are made, the table (sorted by severity and aligned) at the end in bounded memory. */
export function lintCommand(
  paths: string[],
  o: LintCliOptions = {},
  write: (chunk: string) => void = (c) => process.stdout.write(c),
): number {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = parseFailOn(o.failOn);
  if (format === 'json') return summaryFailsAt(streamLintJson(paths, o, write).summary, failOn) ? 1 : 0;
  if (format === 'table') return summaryFailsAt(streamLintTable(paths, o, write).summary, failOn) ? 1 : 0;
  if (format === 'sarif') return summaryFailsAt(streamLintSarif(paths, o, write).summary, failOn) ? 1 : 0;
  return summaryFailsAt(streamLintYaml(paths, o, write).summary, failOn) ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('lint')
    .description('check certificates against RFC 5280, CA/B and Kubernetes role rules (docs/findings.md); exit 1 on findings at --fail-on')
    .argument('<paths...>', 'files or directories (PEM, DER, PKCS#7, kubeconfig, ...) or - for stdin')
    .option('--policy <file>', 'policy file with thresholds (YAML or JSON, docs/policy.md); default: built-in defaults')
    .option('-o, --output <format>', 'table|json|yaml|sarif', 'table')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: error|warning|notice', 'error')
    .option('--at <time>', 'evaluate expiry at this time (ISO 8601 or Unix seconds) instead of now')
    .option(
      '--profile <profile>',
      'default|strict: strict also warns about what kubeadm does by design (leaf SKI, keyEncipherment on ECDSA)',
    )
    .option('-v, --verbose', 'list the files that held no certificate')
    .action((paths: string[], o: LintCliOptions) => {
      constantMemory();
      noMidTierCompiler();
      process.exitCode = lintCommand(paths, o, writeStdoutSync);
    });
}
