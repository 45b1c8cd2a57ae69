// Incremental judging. `scan` judges a whole inventory at once; most of what it judges about one object
// depends on a few others only: the certificates it holds and the objects holding the same ones, their
// issuers and subjects (by name, by key id), the private keys of their public keys, the caBundle backends
// that name them, the cert-manager Certificates that point at them. Each object gets the tokens of what
// it can be linked by (deps below); objects sharing a token fall into one group; `scan` judges each
// group alone, and a group none of whose objects changed keeps its last report. The groups' reports
// merged (merge below) are the report a scan of everything would make: the tests apply random changes and
// compare with a full scan, the oracle. What scan judges across the whole inventory (node trees, worker
// nodes, kubeconfigs, the API server certificate, roles from the Kubernetes role table, the control
// plane's relations) is one token, `global`: every file and every object with such a thing is one group.
import { createHash, createPublicKey } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { isObjectKey, type KnownKey, type Location } from '../inventory/inventory.ts';
import { type Found, readObjects } from '../inventory/read.ts';
import type { Backend, CertManagerCertificate } from '../k8s/cluster-source.ts';
import { detectRole } from '../k8s/role-detect.ts';
import { SEVERITY_RANK } from '../lint/types.ts';
import { type EndpointInput, readPlainPem, type ScanCertificate, type ScanFinding, type ScanInput, type ScanReport } from '../scan/scan.ts';
import { normaliseName } from '../trust/pool.ts';
import type { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import { spkiDer, spkiSha256 } from '../x509/keys.ts';

/** What every scan (full or of one group) reads across all objects of a cluster: these sources link to all. */
const EXTENSION_AUTH = 'kube-system/ConfigMap/extension-apiserver-authentication[requestheader-client-ca-file]';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function certTokenTexts(c: Certificate, source: string, at: string | undefined, out: string[]): void {
  try {
    out.push(`s:${c.sha256}`);
    out.push(`k:${c.spkiSha256}`);
    // Issuer lookups (inventory edges, the lint index, path building) go by the raw name, both ways.
    out.push(`n:${hex(c.subjectRaw)}`);
    out.push(`n:${hex(c.issuerRaw)}`);
    const ski = c.subjectKeyId;
    const aki = c.authorityKeyId;
    if (ski) out.push(`i:${ski}`);
    if (aki) out.push(`i:${aki}`);
    if (c.isCA) out.push(`c:${normaliseName(c.subject)}`);
    // A caBundle's Service backend is judged by the serving certificates that name it (see groupUnits).
    for (const d of c.sans.dns) out.push(`h:${d.toLowerCase().replace(/\.$/, '')}`);
    // A role from the Kubernetes role table brings the role checks over the whole inventory. (A file is
    // `global` already; at an object key the role comes from the certificate and the place's kind alone.)
    if (isObjectKey(source))
      for (const multiple of [false, true])
        if (detectRole(c, { path: source, ...(at !== undefined && { location: at }), multiple })) out.push('global');
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    out.push('global'); // an unreadable field: do not guess what it links to
  }
}

/**
 * A certificate's packed tokens at an object key, by SHA-256 and whether the place is CA data: a CA carried
 * in every Secret's chain is read once, not once per Secret. Bounded: cleared when full.
 */
const certMemo = new Map<string, Float64Array>();
const MAX_MEMO = 50_000;

function certTokens(c: Certificate, source: string, at: string | undefined, out: Set<number>): void {
  const memoKey = isObjectKey(source) ? `${c.sha256}\u0000${at?.includes('certificate-authority') === true}` : undefined;
  let packed = memoKey === undefined ? undefined : certMemo.get(memoKey);
  if (!packed) {
    const texts: string[] = [];
    certTokenTexts(c, source, at, texts);
    packed = packTokens(texts);
    if (memoKey !== undefined) {
      if (certMemo.size >= MAX_MEMO) certMemo.clear();
      certMemo.set(memoKey, packed);
    }
  }
  for (const t of packed) out.add(t);
}

type Read = Found | KnownKey;

function foundTokens(f: Read, source: string, out: Set<number>, keys?: Set<number>): void {
  if (/^(clusters|users)\[/.test(f.location)) out.add(GLOBAL); // kubeconfigs are judged against the API server certificate
  if (f.kind === 'certificate') certTokens(f.cert, source, f.location, out);
  else if (f.kind === 'private-key')
    try {
      const t = packToken(`k:${'spkiSha256' in f ? f.spkiSha256 : spkiSha256(spkiDer(createPublicKey(f.key)))}`);
      out.add(t);
      keys?.add(t);
    } catch {
      // No public half: the inventory cannot link it either.
    }
}

/** A value's objects as scan reads them: plain PEM without node:crypto (keys' public halves from their DER), else the general reader. */
function readValue(data: Uint8Array, password: string | undefined): readonly Read[] {
  const fast = password === undefined ? readPlainPem(data) : undefined;
  if (fast) return fast.objects;
  return readObjects(data, password === undefined ? {} : { password }).objects;
}

/**
 * Tokens as held: a 50-bit hash of the text, doubled, plus 1 for a passive `h:` (it links only to the
 * `hb:` of the same name). Eight bytes a token instead of a string (100k objects, ~14 tokens each); two
 * texts with one hash merely fall into one group, which costs time, never a wrong answer.
 */
export function packToken(t: string): number {
  const passive = t.startsWith('h:');
  const d = createHash('sha1')
    .update(passive ? `hb:${t.slice(2)}` : t)
    .digest();
  return (d.readUIntBE(0, 6) % 2 ** 50) * 2 + (passive ? 1 : 0);
}

/**
 * An object's tokens: a plain array of numbers (doubles held unboxed), not a typed array, whose buffer
 * costs more than its eight bytes a token at one or two dozen tokens (100k objects hold two such lists).
 * Built with `unboxed`: a spread of a Set makes an array of boxed numbers (16 bytes more a token).
 */
export type Tokens = readonly number[];

/** The numbers as an array of unboxed doubles (pushed one by one into an empty array: PACKED_DOUBLE). */
export function unboxed(xs: Iterable<number>): number[] {
  const out: number[] = [];
  for (const x of xs) out.push(x);
  return out;
}

/** The token every object judged across the whole inventory holds. */
export const GLOBAL = packToken('global');

/** The tokens a certificate links by, wherever it is (no role: the caller checks `global` itself). */
export function certLinkTokens(c: Certificate): number[] {
  const texts: string[] = [];
  certTokenTexts(c, '', undefined, texts);
  return texts.filter((t) => t !== 'global').map(packToken);
}

export function packTokens(tokens: Iterable<string>): Float64Array {
  const out = new Set<number>();
  for (const t of tokens) out.add(packToken(t));
  return Float64Array.from(out);
}

/** The tokens of one object's values, backends and cert-manager Certificates; the certificates parsed on the way. */
export function objectTokens(
  values: readonly ScanInput[],
  backends: readonly Backend[],
  certManager: readonly CertManagerCertificate[],
  password: string | undefined,
): { tokens: Tokens; own: Tokens; certs: Certificate[]; keys: Tokens | undefined } {
  const out = new Set<number>();
  /** Tokens of this object's own names: apart, so objects holding the same values alike share one list of the rest. */
  const own = new Set<number>();
  const keys = new Set<number>();
  const add = (t: string): void => {
    out.add(packToken(t));
  };
  const certs: Certificate[] = [];
  for (const v of values) {
    // A value's own name links it only to a cert-manager Certificate naming its Secret's `tls.crt` (below):
    // other names are a token no other object holds (100,000 of them at 100,000 Secrets, for nothing).
    if (v.source.endsWith('[tls.crt]')) own.add(packToken(`src:${v.source}`));
    if (!isObjectKey(v.source) || v.source === EXTENSION_AUTH) add('global');
    let objs: readonly Read[];
    try {
      objs = readValue(v.data, password);
    } catch (e) {
      if (e instanceof InputError) continue;
      throw e;
    }
    for (const f of objs) {
      foundTokens(f, v.source, out, keys);
      if (f.kind === 'certificate') certs.push(f.cert);
    }
  }
  for (const b of backends) {
    add(`src:${b.source}`);
    add(`for:${b.source}`);
    if (b.service) {
      const host = `${b.service.name}.${b.service.namespace}.svc`.toLowerCase();
      add(`hb:${host}`);
      add(`hb:*${host.slice(host.indexOf('.'))}`);
    }
  }
  for (const c of certManager) {
    add(`src:${c.secret}[tls.crt]`);
    add(`src:${c.source}`);
  }
  for (const t of out) own.delete(t);
  return { tokens: unboxed(out), own: unboxed(own), certs, keys: keys.size ? unboxed(keys) : undefined };
}

/** The tokens of the probed endpoints (one unit: they are few, and scan reads their chains after every object). */
export function endpointTokens(endpoints: Iterable<EndpointInput>): Tokens {
  const out = new Set<number>();
  for (const e of endpoints) {
    out.add(packToken(`for:${e.for}`));
    for (const der of e.probe.chain) {
      let objs: Found[];
      try {
        objs = readObjects(der).objects;
      } catch {
        continue;
      }
      for (const f of objs) foundTokens(f, `tls://${e.probe.endpoint}`, out);
    }
  }
  return unboxed(out);
}

/**
 * Tokens as small integers while some object holds them: grouping then indexes arrays instead of hashing
 * 50-bit doubles in a Map (at 100,000 objects, ~1.4 million lookups a grouping). A token's code is its id
 * times two, plus 1 for a passive token, whose id is that of the active token it links to (packToken:
 * passive is the active one plus 1), so codes compare as the packed tokens do.
 */
export class TokenIds {
  private readonly ids = new Map<number, number>();
  private tokens = new Float64Array(1024);
  private refs = new Int32Array(1024);
  private readonly free: number[] = [];
  private next = 0;

  /** One more than the largest id in use: the size of an array indexed by id. */
  get limit(): number {
    return this.next;
  }

  /** The codes of these tokens, held (one reference each) until `drop`. */
  take(tokens: Iterable<number>): number[] {
    const out: number[] = [];
    for (const t of tokens) {
      // 0 or 1 as small integers: `t % 2` of a 50-bit double is a double, and so would every code be (a
      // record holding one in a field boxes it: 16 bytes more an object).
      const passive = t % 2 === 1 ? 1 : 0;
      const base = t - passive;
      let id = this.ids.get(base);
      if (id === undefined) {
        id = this.free.pop() ?? this.next++;
        if (id >= this.refs.length) {
          const refs = new Int32Array(this.refs.length * 2);
          refs.set(this.refs);
          this.refs = refs;
          const tokens = new Float64Array(this.tokens.length * 2);
          tokens.set(this.tokens);
          this.tokens = tokens;
        }
        this.ids.set(base, id);
        this.tokens[id] = base;
        this.refs[id] = 0;
      }
      (this.refs[id] as number)++;
      out.push(id * 2 + passive);
    }
    return out;
  }

  /** Let go of codes `take` gave. */
  drop(codes: readonly number[]): void {
    for (const c of codes) {
      const id = c >> 1;
      if (--(this.refs[id] as number) > 0) continue;
      this.ids.delete(this.tokens[id] as number);
      this.free.push(id);
    }
  }

  /** The code of a token if some object holds it (then it can link to something), else undefined. */
  peek(t: number): number | undefined {
    const passive = t % 2;
    const id = this.ids.get(t - passive);
    return id === undefined ? undefined : id * 2 + passive;
  }
}

/**
 * Lists that many objects hold alike (one chain's tokens, certificates and keys, copied to many Secrets), held
 * once while some object holds them.
 */
export class SharedLists<T extends string | number> {
  private readonly lists = new Map<string, { list: readonly T[]; refs: number }>();

  take(list: readonly T[]): readonly T[] {
    const k = list.join(',');
    const have = this.lists.get(k);
    if (have) {
      have.refs++;
      return have.list;
    }
    this.lists.set(k, { list, refs: 1 });
    return list;
  }

  drop(list: readonly T[]): void {
    const k = list.join(',');
    const have = this.lists.get(k);
    if (have && --have.refs <= 0) this.lists.delete(k);
  }
}

/**
 * Group units (in their order) by shared token codes (TokenIds; every code below 2 * `limit`), `tokens` and
 * `own` alike. A passive
 * code (a name a certificate carries) links only to the units holding the same token actively (a caBundle
 * backend naming it); every other code links all its holders. Codes in `skip` link nothing.
 */
export function groupUnits(
  units: readonly { tokens: Tokens; own?: number | Tokens | undefined }[],
  limit: number,
  skip: readonly number[] = [],
): number[][] {
  const parent = new Int32Array(units.length);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    let x = i;
    while (parent[x] !== r) {
      const n = parent[x] as number;
      parent[x] = r;
      x = n;
    }
    return r;
  };
  const union = (a: number, b: number): void => {
    const x = find(a);
    const y = find(b);
    if (x !== y) parent[Math.max(x, y)] = Math.min(x, y);
  };
  // Arrays indexed by id when the units are many for the ids in use (the whole cluster); a map sized by the
  // units' own tokens when they are few (one group of a cluster with many: an array per group would be
  // as large as the cluster's ids).
  const dense = units.length * 8 >= limit;
  const skipped = dense ? new Uint8Array(limit * 2) : undefined;
  if (skipped) for (const t of skip) if (t < skipped.length) skipped[t] = 1;
  const skipSet = dense ? undefined : new Set(skip);
  /** The first unit holding each id actively, plus 1 (0 or absent: none). */
  const first = dense ? new Int32Array(limit) : undefined;
  const firstMap = dense ? undefined : new Map<number, number>();
  const passive: number[] = [];
  const firstOf = (id: number): number => (first ? (first[id] as number) : (firstMap?.get(id) ?? 0));
  const link = (t: number, i: number): void => {
    if (skipped ? skipped[t] === 1 : skipSet?.has(t)) return;
    if (t & 1) {
      passive.push(t >> 1, i);
      return;
    }
    const id = t >> 1;
    const f = firstOf(id);
    if (f !== 0) union(f - 1, i);
    else if (first) first[id] = i + 1;
    else firstMap?.set(id, i + 1);
  };
  for (let i = 0; i < units.length; i++) {
    const u = units[i] as { tokens: Tokens; own?: number | Tokens | undefined };
    const tokens = u.tokens;
    for (let j = 0; j < tokens.length; j++) link(tokens[j] as number, i);
    if (typeof u.own === 'number') link(u.own, i);
    else if (u.own) for (const t of u.own) link(t, i);
  }
  for (let j = 0; j < passive.length; j += 2) {
    const b = firstOf(passive[j] as number);
    if (b !== 0) union(b - 1, passive[j + 1] as number);
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < units.length; i++) {
    const r = find(i);
    const g = groups.get(r);
    if (g) g.push(i);
    else groups.set(r, [i]);
  }
  return [...groups.values()];
}

/** A stable name for a group: its units' keys. */
export function groupId(keys: readonly string[]): string {
  const h = createHash('sha256');
  for (const k of keys) h.update(k).update('\0');
  return h.digest('hex');
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const placeKey = (l: Location): string => `${l.source}\u0000${l.at ?? ''}`;

/** Places in the order of `source NUL at` (their text), without making that text: the sources' order, then the positions'. */
function placeCmp(a: Location, b: Location): number {
  const x = a.source;
  const y = b.source;
  if (x === y) return cmp(a.at ?? '', b.at ?? '');
  // The texts differ where the sources do, unless one source starts the other and the longer goes on with a NUL.
  if (
    x.length < y.length
      ? y.charCodeAt(x.length) === 0 && y.startsWith(x)
      : x.length > y.length && x.charCodeAt(y.length) === 0 && x.startsWith(y)
  )
    return cmp(placeKey(a), placeKey(b));
  return x < y ? -1 : 1;
}

function sorted<T>(xs: readonly T[], order: (a: T, b: T) => number): boolean {
  for (let i = 1; i < xs.length; i++) if (order(xs[i - 1] as T, xs[i] as T) > 0) return false;
  return true;
}

/** A merged certificate's places and the parts' entries they came from (mergeReports' `cache`, by SHA-256). */
interface MergedPlaces {
  from: readonly ScanCertificate[];
  locations: Location[];
  /** Equal places came from two parts (one was dropped): the next merge starts over. */
  duplicates: boolean;
}

/** What mergeReports keeps from one merge to the next (the monitor passes one per cluster). */
export type MergeCache = Map<string, MergedPlaces>;

const samePlace = (a: Location, b: Location): boolean => a.source === b.source && (a.at ?? '') === (b.at ?? '');

/** All of these entries' places in order (each entry's list is in order), the first of equal places kept. */
function placesOf(from: readonly ScanCertificate[]): MergedPlaces {
  const all: Location[] = [];
  for (const x of from) for (const l of x.locations) all.push(l);
  // Stable: equal places stay in part order (the runs of each part's list are taken as they are).
  all.sort(placeCmp);
  let n = 0;
  for (const l of all) {
    if (n > 0 && samePlace(all[n - 1] as Location, l)) continue;
    all[n++] = l;
  }
  const duplicates = n !== all.length;
  all.length = n;
  return { from, locations: all, duplicates };
}

/**
 * placesOf(from), from the last merge's list when most parts are the same (a kept part is the same report, so
 * the same entry and place objects): the places of parts gone are dropped by identity, those of new parts put in
 * by binary search, each in O(log n) comparisons instead of sorting the hub CA's 100,000 places every pass. Any
 * two equal places (which part's is kept depends on the order) and the first merge take placesOf.
 */
function mergedPlaces(from: readonly ScanCertificate[], last: MergedPlaces | undefined): MergedPlaces {
  if (!last || last.duplicates) return placesOf(from);
  const before = new Set(last.from);
  const now = new Set(from);
  const added: Location[] = [];
  for (const x of from) if (!before.has(x)) for (const l of x.locations) added.push(l);
  let gone: Set<Location> | undefined;
  for (const x of last.from)
    if (!now.has(x)) {
      gone ??= new Set();
      for (const l of x.locations) gone.add(l);
    }
  if (added.length * 4 > last.locations.length) return placesOf(from);
  const base = gone ? last.locations.filter((l) => !gone.has(l)) : last.locations;
  added.sort(placeCmp);
  const out: Location[] = [];
  let j = 0;
  for (const a of added) {
    // The first place of `base` after `a` (none equal: that is a duplicate).
    let lo = j;
    let hi = base.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (placeCmp(base[mid] as Location, a) < 0) lo = mid + 1;
      else hi = mid;
    }
    if ((lo < base.length && samePlace(base[lo] as Location, a)) || (out.length && samePlace(out[out.length - 1] as Location, a)))
      return placesOf(from);
    for (; j < lo; j++) out.push(base[j] as Location);
    out.push(a);
  }
  for (; j < base.length; j++) out.push(base[j] as Location);
  return { from, locations: out, duplicates: false };
}

/**
 * The report in one order whatever order the groups were judged in: findings by severity, id, certificate,
 * places and words; certificates by SHA-256; skipped sources and relations by their text; a finding's and a
 * certificate's places by their text. (A full scan's order among equal severities and ids, and of a
 * certificate's places, follows its input order, which means nothing to the API.)
 */
export function canonicalReport(r: ScanReport, o: { placesInOrder?: boolean } = {}): ScanReport {
  // Each sort key is made once (a comparator that joins places would join them n log n times).
  const byKey = <T>(xs: readonly T[], key: (x: T) => string): T[] =>
    xs
      .map((x) => ({ x, k: key(x) }))
      .sort((a, b) => cmp(a.k, b.k))
      .map((e) => e.x);
  const rank = (s: keyof typeof SEVERITY_RANK): string => String(9 - SEVERITY_RANK[s]);
  // A list already in order (a part judged before, merged again) is kept as it is: checking is linear.
  const sortedFindings = r.findings.map((f) => (sorted(f.locations, cmp) ? f : { ...f, locations: [...f.locations].sort(cmp) }));
  const findings = byKey(sortedFindings, (f) => [rank(f.severity), f.id, f.sha256 ?? '', f.locations.join('\u0001'), f.why].join('\u0000'));
  const certificates = byKey(
    o.placesInOrder
      ? r.certificates
      : r.certificates.map((c) => (sorted(c.locations, placeCmp) ? c : { ...c, locations: [...c.locations].sort(placeCmp) })),
    (c) => c.sha256,
  );
  const skipped = byKey(r.skipped, (x) => `${x.source}\u0000${x.reason}`);
  const relations = byKey(r.relations, (x) => [x.consumer, x.server, x.basis, x.verdict, x.why, x.anchors.join(',')].join('\u0000'));
  return { ...r, findings, certificates, skipped, relations };
}

/**
 * The groups' reports as one (each judged at `now`); canonical order. A certificate shared by several parts
 * (a CA every object of a split group holds, see ClusterState) is one entry with the places of all of them,
 * and a finding on it made by several parts (the same id, certificate and words) is one finding with all
 * their places: what a scan of the parts together makes. `parts` are canonical reports (canonicalReport), as the
 * monitor keeps them.
 */
export function mergeReports(parts: readonly ScanReport[], now: Date, cache?: MergeCache): ScanReport {
  const out: ScanReport = {
    schema: 'anchorage.scan/v1',
    generatedAt: now.toISOString(),
    at: now.toISOString(),
    summary: { certificates: 0, keys: 0, sources: 0, unreadable: 0, error: 0, warning: 0, notice: 0 },
    findings: [],
    certificates: [],
    skipped: [],
    endpoints: [],
    relations: [],
  };
  const certs = new Map<string, ScanCertificate>();
  /** Certificates several parts hold: the parts' entries (in part order), their places merged at the end. */
  const merged = new Map<ScanCertificate, ScanCertificate[]>();
  const findings = new Map<string, ScanFinding>();
  const findingPlaces = new Map<string, Set<string>>();
  /** The part each merged finding came from first: two alike in one part stay two, as the scan made them. */
  const findingPart = new Map<string, number>();
  parts.forEach((p, part) => {
    out.summary.keys += p.summary.keys;
    out.summary.sources += p.summary.sources;
    out.summary.unreadable += p.summary.unreadable;
    for (const x of p.findings) {
      if (x.sha256 === undefined) {
        out.findings.push(x);
        continue;
      }
      const k = [x.id, x.severity, x.sha256, x.why, x.subject ?? '', x.fix].join('\u0000');
      const have = findings.get(k);
      if (!have) {
        findings.set(k, x);
        findingPart.set(k, part);
        continue;
      }
      if (findingPart.get(k) === part) {
        out.findings.push(x);
        continue;
      }
      let seen = findingPlaces.get(k);
      if (!seen) {
        const merged = { ...have, locations: [...have.locations] };
        findings.set(k, merged);
        seen = new Set(merged.locations);
        findingPlaces.set(k, seen);
      }
      const into = findings.get(k) as ScanFinding;
      for (const l of x.locations)
        if (!seen.has(l)) {
          seen.add(l);
          into.locations.push(l);
        }
    }
    for (const x of p.certificates) {
      const have = certs.get(x.sha256);
      if (!have) {
        certs.set(x.sha256, x);
        continue;
      }
      let into = have;
      let from = merged.get(have);
      if (!from) {
        into = { ...have, locations: [], keyLocations: [...have.keyLocations], issuedBy: [...have.issuedBy] };
        certs.set(x.sha256, into);
        from = [have];
        merged.set(into, from);
      }
      from.push(x);
      for (const l of x.keyLocations) if (!into.keyLocations.includes(l)) into.keyLocations.push(l);
      for (const s of x.issuedBy) if (!into.issuedBy.includes(s)) into.issuedBy.push(s);
    }
    for (const x of p.skipped) out.skipped.push(x);
    for (const x of p.endpoints) out.endpoints.push(x);
    for (const x of p.relations) out.relations.push(x);
  });
  for (const f of findings.values()) out.findings.push(f);
  // A merged certificate's places: every part's, in order, the first of equal places kept (what a scan of the
  // parts together lists); from the last merge's list where the cache has it (mergedPlaces).
  const seen = cache && new Map<string, MergedPlaces>();
  for (const [c, from] of merged) {
    const m = mergedPlaces(from, cache?.get(c.sha256));
    c.locations = m.locations;
    seen?.set(c.sha256, m);
  }
  if (cache && seen) {
    cache.clear();
    for (const [k, v] of seen) cache.set(k, v);
  }
  for (const c of certs.values()) out.certificates.push(c);
  out.summary.certificates = out.certificates.length;
  for (const f of out.findings) out.summary[f.severity]++;
  // Every certificate's places are in order: each part's were (its report is canonical), merged ones were sorted above.
  return canonicalReport(out, { placesInOrder: true });
}
