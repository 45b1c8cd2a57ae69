// One cluster as the monitor holds it: every object's values keyed by where they came from (a Kubernetes
// object, a file, an endpoint), each parsed once when it arrives, and the last scan of the whole. A change
// marks the cluster dirty; the scan runs again after a short debounce, so a burst of watch events costs one
// pass, and the pass is spaced by at least its own duration, so a cluster that changes all the time
// still leaves the process time to serve. A pass judges again only the groups of objects a change can
// touch (incremental.ts) and keeps the other groups' last reports; the merged report equals a scan of
// everything (judgeAll, the oracle the tests compare with).
import { readObjects } from '../inventory/read.ts';
import type { Backend, CertManagerCertificate } from '../k8s/cluster-source.ts';
import { LintIndex } from '../lint/engine.ts';
import { DEFAULT_POLICY, type Policy } from '../lint/policy.ts';
import type { EndpointInput, ScanInput, ScanReport } from '../scan/scan.ts';
import { scan } from '../scan/scan.ts';
import { normaliseName } from '../trust/pool.ts';
import type { Certificate } from '../x509/certificate.ts';
import { DerError } from '../x509/der.ts';
import type { Extracted } from './extract.ts';
import {
  canonicalReport,
  certLinkTokens,
  endpointTokens,
  GLOBAL,
  groupId,
  groupUnits,
  type MergeCache,
  mergeReports,
  objectTokens,
  SharedLists,
  TokenIds,
  type Tokens,
} from './incremental.ts';
import type { ClusterKind, Source, SourceStatus } from './types.ts';
import { buildView, type ClusterView } from './view.ts';

/** An object's backends, cert-manager Certificates and failures, when it has any (most objects have none). */
type Extra = Pick<Extracted, 'backends' | 'certManager' | 'failures'>;

/**
 * What the cluster holds of one object. Its values are one list of source and data, two slots a value: a
 * record a value and a list of them cost 144 bytes a TLS Secret more (the records are made again when a scan
 * reads them, and dropped with it).
 */
interface Held {
  values: readonly (string | Uint8Array)[];
  /** Backends, cert-manager Certificates and failures; undefined when it has none (one field instead of three). */
  extra: Extra | undefined;
  /** SHA-256 of the certificates its values hold (shared by objects alike). */
  certs: readonly string[];
  /** What it can be linked to by (incremental.ts), as codes of the cluster's TokenIds; shared by objects alike. */
  tokens: Tokens;
  /**
   * Its own names' tokens, packed (packToken; one number when one), not codes of the cluster's TokenIds: one a
   * TLS Secret that no other object holds in most clusters (a code would cost an entry of TokenIds' map, ~70
   * bytes). A pass gives them codes (ownCodes) when some object holds one too.
   */
  own: number | Tokens | undefined;
  /** The codes of the `k:` tokens of the private keys it holds (undefined without keys). */
  keys: Tokens | undefined;
  /** When it was set (ClusterState's count of changes): changed since the last pass when above that pass's. */
  gen: number;
}

/** One unit of grouping: an object (or the endpoints) and its token codes. */
interface Unit {
  key: string;
  tokens: Tokens;
  /** Codes of its own names' tokens that link it to something this pass (ownCodes). */
  own: number | Tokens | undefined;
  held: Held | undefined;
}

/** The unit that stands for the probed endpoints in incremental judging. */
const ENDPOINTS = '\u0000endpoints';

/** One scan of one or more groups (a batch): kept while none of its groups changed. */
interface Judged {
  report: ScanReport;
  at: number;
  policy: Policy;
  /** groupId of each group it judged. */
  groups: string[];
}

export interface ClusterOptions {
  name: string;
  kind: ClusterKind;
  policy?: Policy;
  warnDays?: number;
  password?: string;
  /** Wait this long after a change before scanning again (default 200 ms). */
  debounceMs?: number;
  /**
   * At most this share of a core on re-judging (default 0.25): after a pass that took t, the next waits at
   * least t x (1 / share - 1). A pass regroups every object (at 100,000 Secrets ~0.4 s), so changes that
   * keep coming are judged in batches of that period instead of one pass after another; what a small cluster
   * judges in milliseconds still waits only `debounceMs`.
   */
  judgeShare?: number;
  /**
   * Judge again a group of objects that did not change once its last judgement is this old (default 5 min):
   * expiry moves on without changes. A timer scans at least this often.
   */
  rejudgeMs?: number;
  /** Judge everything in one scan on every change instead of only the groups that changed (the oracle). */
  full?: boolean;
  /**
   * Groups that need judging are scanned together up to this many objects a scan (default: the square
   * root of the object count, at least 32): one scan has a fixed cost, so the first pass over many small
   * groups is not thousands of scans, while a change re-judges a batch of about this size. A pass that keeps
   * some batches judges in batches of 32 objects by default.
   */
  batchObjects?: number;
  onScan?: (c: ClusterState, prev: ClusterView | undefined, next: ClusterView) => void;
  now?: () => Date;
}

export class ClusterState {
  readonly name: string;
  readonly kind: ClusterKind;
  policy: Policy;
  readonly warnDays: number;
  private readonly objects = new Map<string, Held>();
  private readonly endpoints = new Map<string, EndpointInput>();
  private readonly certs = new Map<string, { cert: Certificate; refs: number; isCA: boolean }>();
  /** Objects set so far (Held.gen), and that count at the last pass. */
  private gen = 0;
  private judgedGen = 0;
  /** The held objects' tokens as small integers (incremental.ts). */
  private readonly ids = new TokenIds();
  /** Held objects' lists of token codes and certificates, one of each alike (SharedLists). */
  private readonly shared = new SharedLists<number>();
  private readonly sharedCerts = new SharedLists<string>();
  readonly sources = new Map<string, Source>();
  view: ClusterView | undefined;
  lastScanMs = 0;
  scans = 0;
  private timer: NodeJS.Timeout | undefined;
  private rejudge: NodeJS.Timeout | undefined;
  private readonly o: ClusterOptions;
  /** Objects (and ENDPOINTS) changed since the last scan. */
  private readonly changed = new Set<string>();
  /** The last report of each batch of groups. */
  private judged: Judged[] = [];
  /** The last merge's places of certificates several parts hold (a hub CA's 100,000): the next merge starts from them. */
  private readonly mergeCache: MergeCache = new Map();
  /** Groups judged again in the last scan, and how many groups there were (for tests and logs). */
  lastJudged = { groups: 0, judged: 0, objects: 0, scans: 0 };
  private stopped = false;
  /** Set when every source has delivered its first full read. */
  ready = false;

  constructor(o: ClusterOptions) {
    this.o = o;
    this.name = o.name;
    this.kind = o.kind;
    this.policy = o.policy ?? DEFAULT_POLICY;
    this.warnDays = o.warnDays ?? 30;
    const every = o.rejudgeMs ?? 300_000;
    this.rejudge = setInterval(() => this.schedule(), every);
    this.rejudge.unref?.();
  }

  private now(): Date {
    return this.o.now ? this.o.now() : new Date();
  }

  get objectCount(): number {
    return this.objects.size;
  }

  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }

  private parse(x: Extracted): { certs: readonly string[]; tokens: Tokens; own: number | Tokens | undefined; keys?: Tokens } {
    const { tokens, own, certs, keys } = objectTokens(x.values, x.backends, x.certManager, this.o.password);
    const out: string[] = [];
    for (const c of certs) {
      const held = this.certs.get(c.sha256);
      if (held) held.refs++;
      else this.certs.set(c.sha256, { cert: c, refs: 1, isCA: safe(() => c.isCA, false) });
      // The held certificate's string: one per certificate, not one per place (a CA in every Secret).
      out.push((held?.cert ?? c).sha256);
    }
    const owned = own.length ? own : undefined;
    return {
      certs: this.sharedCerts.take(out),
      tokens: this.shared.take(this.ids.take(tokens)),
      own: owned?.length === 1 ? owned[0] : owned,
      ...(keys && { keys: this.shared.take(this.ids.take(keys)) }),
    };
  }

  private release(h: Held | undefined): void {
    if (!h) return;
    this.ids.drop(h.tokens);
    this.shared.drop(h.tokens);
    if (h.keys) {
      this.ids.drop(h.keys);
      this.shared.drop(h.keys);
    }
    this.sharedCerts.drop(h.certs);
    for (const s of h.certs) {
      const held = this.certs.get(s);
      if (held && --held.refs <= 0) this.certs.delete(s);
    }
  }

  /** Put (or replace) one object's values; `undefined` deletes it. */
  setObject(key: string, x: Extracted | undefined): void {
    this.release(this.objects.get(key));
    if (!x || (x.values.length === 0 && x.backends.length === 0 && x.certManager.length === 0 && x.failures.length === 0))
      this.objects.delete(key);
    else {
      const p = this.parse(x);
      // One literal with every field (no spread, no optional field): V8 keeps them inside the object, where a
      // spread's copy keeps them in a property array of its own beside it (~50 bytes more an object).
      const values: (string | Uint8Array)[] = new Array(x.values.length * 2);
      for (let i = 0; i < x.values.length; i++) {
        const v = x.values[i] as ScanInput;
        values[2 * i] = v.source;
        values[2 * i + 1] = v.data;
      }
      this.objects.set(key, {
        values,
        extra:
          x.backends.length || x.certManager.length || x.failures.length
            ? { backends: x.backends, certManager: x.certManager, failures: x.failures }
            : undefined,
        certs: p.certs,
        tokens: p.tokens,
        own: p.own,
        keys: p.keys,
        gen: ++this.gen,
      });
    }
    this.changed.add(key);
    this.schedule();
  }

  /** Replace every object whose key starts with `prefix` by these (a folder read again, an agent's push). */
  replaceAll(prefix: string, next: Map<string, Extracted>): void {
    for (const k of this.keys(prefix)) if (!next.has(k)) this.setObject(k, undefined);
    for (const [k, x] of next) {
      const old = this.objects.get(k);
      if (old && sameValues(extractedOf(old), x)) continue;
      this.setObject(k, x);
    }
  }

  setEndpoint(name: string, e: EndpointInput | undefined): void {
    const old = this.endpoints.get(name);
    // A probe that found what the last one found changes nothing (the API server is probed every minute).
    if (e && old && endpointText(old) === endpointText(e)) return;
    if (!e && !old) return;
    if (e) this.endpoints.set(name, e);
    else this.endpoints.delete(name);
    this.changed.add(ENDPOINTS);
    this.schedule();
  }

  setSource(name: string, status: SourceStatus, patch: { reason?: string; objects?: number } = {}): Source {
    const prev = this.sources.get(name);
    const s: Source = { name, status, objects: patch.objects ?? prev?.objects ?? 0 };
    if (status === 'ok') s.lastSuccess = this.now().toISOString();
    else if (prev?.lastSuccess) s.lastSuccess = prev.lastSuccess;
    if (patch.reason !== undefined && status !== 'ok') s.reason = patch.reason;
    this.sources.set(name, s);
    return s;
  }

  /** Scan again soon. */
  schedule(): void {
    if (this.timer || this.stopped) return;
    const share = Math.min(1, Math.max(0.01, this.o.judgeShare ?? 0.25));
    const wait = Math.max(this.o.debounceMs ?? 200, this.lastScanMs * (1 / share - 1));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rescan();
    }, wait);
    this.timer.unref?.();
  }

  /** Scan now (also what the debounce timer runs). */
  rescan(): ClusterView {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const t0 = performance.now();
    const now = this.now();
    const report = this.o.full ? this.judgeAll(now) : this.judgeGroups(now);
    // Endpoint chains are not objects: parse them into the cache for this view.
    const certs = new Map<string, Certificate>();
    for (const [s, h] of this.certs) certs.set(s, h.cert);
    for (const e of this.endpoints.values())
      for (const der of e.probe.chain) {
        try {
          for (const f of readObjects(der).objects) if (f.kind === 'certificate') certs.set(f.cert.sha256, f.cert);
        } catch {
          // Unreadable chains are in the report's skipped list already.
        }
      }
    const prev = this.view;
    const next = buildView(this.name, report, certs, now, this.warnDays);
    this.view = next;
    this.scans++;
    this.lastScanMs = performance.now() - t0;
    this.o.onScan?.(this, prev, next);
    return next;
  }

  private scanOf(units: readonly string[], now: Date): ScanReport {
    const inputs: ScanInput[] = [];
    const backends: Backend[] = [];
    const certManager: CertManagerCertificate[] = [];
    const failures: { source: string; reason: string }[] = [];
    let endpoints: EndpointInput[] = [];
    for (const k of units) {
      if (k === ENDPOINTS) {
        endpoints = [...this.endpoints.values()];
        continue;
      }
      const h = this.objects.get(k);
      if (!h) continue;
      for (const v of valuesOf(h)) inputs.push(v);
      if (h.extra) {
        for (const b of h.extra.backends) backends.push(b);
        for (const c of h.extra.certManager) certManager.push(c);
        for (const f of h.extra.failures) failures.push(f);
      }
    }
    return scan(inputs, {
      now,
      policy: this.policy,
      failures,
      endpoints,
      backends,
      certManager,
      ...(this.o.password !== undefined && { password: this.o.password }),
    });
  }

  private unitKeys(): string[] {
    const keys = [...this.objects.keys()];
    if (this.endpoints.size) keys.push(ENDPOINTS);
    return keys;
  }

  /** Everything in one scan (canonical order): what incremental judging must equal. */
  judgeAll(now: Date = this.now()): ScanReport {
    return canonicalReport(this.scanOf(this.unitKeys(), now));
  }

  /** Judge again only the groups of objects a change can have touched; keep the others' last reports. */
  private judgeGroups(now: Date): ScanReport {
    const keys: string[] = [];
    const units: Unit[] = [];
    // forEach, not for…of over entries: no [key, value] pair and iterator result made per object each pass.
    this.objects.forEach((held, key) => {
      keys.push(key);
      units.push({ key, tokens: held.tokens, own: held.own, held });
    });
    if (this.endpoints.size) {
      // Only the tokens some object holds can link the endpoints to anything.
      const codes: number[] = [];
      for (const t of endpointTokens(this.endpoints.values())) {
        const code = this.ids.peek(t);
        if (code !== undefined) codes.push(code);
      }
      keys.push(ENDPOINTS);
      units.push({ key: ENDPOINTS, tokens: codes, own: undefined, held: undefined });
    }
    const limit = this.ownCodes(units);
    const maxAge = this.o.rejudgeMs ?? 300_000;
    const groups = new Map<string, { members: number[]; clean: boolean }>();
    for (const whole of groupUnits(units, limit))
      for (const g of this.splitAtHub(whole, units, limit))
        groups.set(groupId(g.map((i) => keys[i] as string)), {
          members: g,
          clean: !g.some((i) => {
            const h = (units[i] as Unit).held;
            return h ? h.gen > this.judgedGen : this.changed.has(ENDPOINTS);
          }),
        });
    // A batch stands while every group it judged is still there, unchanged, and the judgement is recent.
    const kept: Judged[] = [];
    const covered = new Set<string>();
    for (const b of this.judged) {
      const fresh =
        b.policy === this.policy &&
        now.getTime() >= b.at &&
        now.getTime() - b.at < maxAge &&
        b.groups.every((id) => groups.get(id)?.clean === true);
      if (!fresh) continue;
      kept.push(b);
      for (const id of b.groups) covered.add(id);
    }
    // A pass that keeps nothing (the first, a new policy, the periodic re-judging) batches by the square root;
    // one after a few changes batches small, so a change re-judges its own group and few others (a batch is
    // judged again whole when one of its groups changes, and small batches stay small pass after pass).
    const size = this.o.batchObjects ?? (kept.length ? 32 : Math.max(32, Math.ceil(Math.sqrt(keys.length))));
    const next = [...kept];
    let batch: string[] = [];
    let members: number[] = [];
    let judged = 0;
    const flush = (): void => {
      if (!batch.length) return;
      members.sort((a, b) => a - b); // scan order is the objects' order, as in a full scan
      next.push({
        // In canonical order once, when judged: merging kept parts then finds their lists in order.
        report: canonicalReport(
          this.scanOf(
            members.map((i) => keys[i] as string),
            now,
          ),
        ),
        at: now.getTime(),
        policy: this.policy,
        groups: batch,
      });
      judged += batch.length;
      batch = [];
      members = [];
    };
    for (const [id, g] of groups) {
      if (covered.has(id)) continue;
      batch.push(id);
      for (const i of g.members) members.push(i);
      if (members.length >= size) flush();
    }
    flush();
    this.judged = next;
    this.changed.clear();
    this.judgedGen = this.gen;
    this.lastJudged = { groups: groups.size, judged, objects: keys.length, scans: next.length - kept.length };
    return mergeReports(
      next.map((b) => b.report),
      now,
      this.mergeCache,
    );
  }

  /**
   * The units' own names' tokens (packed, as held) as codes for this pass's grouping, in place: a token some
   * object holds among its tokens takes that token's code; one that several units hold as their own takes a
   * code above the TokenIds' (one per such token); the others link nothing and are dropped. What grouping
   * saw when every own token had a code of its own. Returns the limit of the codes in use.
   */
  private ownCodes(units: Unit[]): number {
    let limit = this.ids.limit;
    // Per unit, its own token that no object holds among its tokens (NaN: none): one number a unit in the
    // usual case of one own token, no list a unit (this runs every pass, over every object). A unit with
    // several own tokens keeps those left in `several`.
    const pending = new Float64Array(units.length).fill(Number.NaN);
    const several = new Map<number, number[]>();
    let count = 0;
    for (let i = 0; i < units.length; i++) {
      const u = units[i] as Unit;
      const own = u.own;
      if (own === undefined) continue;
      if (typeof own === 'number') {
        const code = this.ids.peek(own);
        u.own = code;
        if (code === undefined) {
          pending[i] = own;
          count++;
        }
        continue;
      }
      const codes: number[] = [];
      const left: number[] = [];
      for (const t of own) {
        const code = this.ids.peek(t);
        if (code !== undefined) codes.push(code);
        else left.push(t);
      }
      u.own = codes.length === 0 ? undefined : codes.length === 1 ? codes[0] : codes;
      if (left.length) {
        several.set(i, left);
        count += left.length;
      }
    }
    // Tokens several units hold as their own (and no object among its tokens): found by sorting, no map of all.
    const all = new Float64Array(count);
    let n = 0;
    for (const t of pending) if (!Number.isNaN(t)) all[n++] = t;
    for (const left of several.values()) for (const t of left) all[n++] = t;
    all.sort();
    const shared = new Map<number, number>();
    for (let j = 1; j < all.length; j++) {
      const t = all[j] as number;
      if (t === all[j - 1] && !shared.has(t)) shared.set(t, 2 * limit++);
    }
    if (!shared.size) return limit;
    const add = (u: Unit, code: number): void => {
      u.own = u.own === undefined ? code : typeof u.own === 'number' ? [u.own, code] : [...u.own, code];
    };
    for (let i = 0; i < units.length; i++) {
      const u = units[i] as Unit;
      const code = shared.get(pending[i] as number);
      if (code !== undefined) add(u, code);
      for (const t of several.get(i) ?? []) {
        const c = shared.get(t);
        if (c !== undefined) add(u, c);
      }
    }
    return limit;
  }

  /**
   * A group split at the CA certificates every one of its objects holds (the hub: one CA in every Secret's
   * chain), when judging the parts apart and merging them (mergeReports) makes what a scan of the group
   * makes. Each part holds the hub, so a leaf's issuer lookups and chain see what they see in the whole
   * group; what is judged about a hub certificate (its lints, chain, bundle places) is the same in every part
   * but for its places, which the merge unions. That holds when: no object is judged across the inventory
   * (`global`), holds a caBundle backend or a cert-manager Certificate, or is the endpoints; no other
   * certificate of the group has a hub certificate's subject or issuer name, key id or key, or (a CA) its
   * name as scan compares CA names; the hub certificates have distinct names and keys; no private key of a
   * hub certificate is in the group; and each part finds every hub certificate issuing what it issues in the
   * whole group (by key id, as lint's issuer lookup takes it: lints on a CA depend on it). Otherwise the group
   * stays whole (a part that lacks an issuance joins the others that lack one, or the first complete part).
   */
  private splitAtHub(members: number[], units: readonly Unit[], limit: number): number[][] {
    if (members.length < 2 || this.o.full) return [members];
    const whole = [members];
    let held: string[] | undefined;
    const all = new Set<string>();
    const global = this.ids.peek(GLOBAL);
    // Indexed loops: this runs every pass over every object of the group (100,000 at a time), where for…of over
    // a set or an array made an iterator and a result object per step (~10 MB a pass at 100,000 Secrets).
    for (let m = 0; m < members.length; m++) {
      const h = (units[members[m] as number] as Unit).held;
      if (!h) return whole; // the endpoints
      if (h.extra?.backends.length || h.extra?.certManager.length || (global !== undefined && h.tokens.includes(global))) return whole;
      const certs = h.certs;
      for (let k = 0; k < certs.length; k++) all.add(certs[k] as string);
      // The CA certificates every member so far holds, in the first member's order: the first member's, then cut
      // to those each next one holds (one list for the group, not one a member).
      if (!held) {
        held = [];
        for (let k = 0; k < certs.length; k++)
          if (this.certs.get(certs[k] as string)?.isCA && !held.includes(certs[k] as string)) held.push(certs[k] as string);
      } else {
        let w = 0;
        for (let r = 0; r < held.length; r++) if (certs.includes(held[r] as string)) held[w++] = held[r] as string;
        held.length = w;
      }
      if (!held.length) return whole;
    }
    if (!held) return whole;
    const hub = new Set(held);
    try {
      const hubCerts = [...hub].map((s) => (this.certs.get(s) as { cert: Certificate }).cert);
      const subjects = new Set(hubCerts.map((c) => hexOf(c.subjectRaw)));
      const issuers = new Set(hubCerts.map((c) => hexOf(c.issuerRaw)));
      const spkis = new Set(hubCerts.map((c) => c.spkiSha256));
      const names = new Set(hubCerts.map((c) => normaliseName(c.subject)));
      const ids = new Set<string>();
      for (const c of hubCerts) {
        if (c.subjectKeyId) ids.add(c.subjectKeyId);
        if (c.authorityKeyId) ids.add(c.authorityKeyId);
      }
      if (subjects.size !== hub.size || spkis.size !== hub.size || names.size !== hub.size) return whole;
      // Which hub certificates issue others of the hub (the same in every part).
      const index = new LintIndex();
      for (const c of hubCerts) index.add(c);
      const issuesHub = new Set<string>();
      for (const c of hubCerts) {
        const i = index.issuerOf(c).issuer;
        if (i && i !== c) issuesHub.add(i.sha256);
      }
      const bySubject = new Map<string, Certificate>(hubCerts.map((c) => [hexOf(c.subjectRaw), c]));
      /** Per other certificate: the hub certificate it is issued by (by key id), if any. */
      const issuedBy = new Map<string, string>();
      for (const s of all) {
        if (hub.has(s)) continue;
        const c = (this.certs.get(s) as { cert: Certificate }).cert;
        if (subjects.has(hexOf(c.subjectRaw)) || issuers.has(hexOf(c.subjectRaw)) || spkis.has(c.spkiSha256)) return whole;
        const ski = c.subjectKeyId;
        if (ski && ids.has(ski)) return whole;
        if (c.isCA && names.has(normaliseName(c.subject))) return whole;
        const by = bySubject.get(hexOf(c.issuerRaw));
        if (by) {
          // Named as its issuer: the lint takes it as such without a signature only by a matching key id.
          const aki = c.authorityKeyId;
          if (aki === undefined || by.subjectKeyId === undefined || aki !== by.subjectKeyId) return whole;
          if (!issuesHub.has(by.sha256)) issuedBy.set(s, by.sha256);
        }
      }
      const hubTokens = new Set<number>();
      for (const c of hubCerts)
        for (const t of certLinkTokens(c)) {
          const code = this.ids.peek(t);
          if (code !== undefined) hubTokens.add(code);
        }
      const skip = [...hubTokens];
      for (let m = 0; m < members.length; m++) {
        const ks = ((units[members[m] as number] as Unit).held as Held).keys;
        if (ks) for (let k = 0; k < ks.length; k++) if (hubTokens.has(ks[k] as number)) return whole; // a hub certificate's key
      }
      const sub = groupUnits(
        members.map((i) => units[i] as Unit),
        limit,
        skip,
      );
      if (sub.length < 2) return whole;
      const parts = sub.map((g) => g.map((j) => members[j] as number));
      // Each part must find every hub certificate that issues something in the group issuing there too.
      const issuing = new Set(issuedBy.values());
      if (!issuing.size) return parts;
      const complete: number[][] = [];
      const rest: number[] = [];
      for (const part of parts) {
        const found = new Set<string>();
        for (let p = 0; p < part.length; p++) {
          const certs = ((units[part[p] as number] as Unit).held as Held).certs;
          for (let k = 0; k < certs.length; k++) {
            const by = issuedBy.get(certs[k] as string);
            if (by) found.add(by);
          }
          if (found.size === issuing.size) break; // complete: the rest of the part cannot change that
        }
        if (found.size === issuing.size) complete.push(part);
        else for (const i of part) rest.push(i);
      }
      if (!complete.length) return whole;
      if (rest.length) (complete[0] as number[]).push(...rest);
      for (const part of complete) part.sort((a, b) => a - b);
      return complete;
    } catch (e) {
      if (e instanceof DerError) return whole;
      throw e;
    }
  }

  stop(): void {
    if (this.rejudge) clearInterval(this.rejudge);
    this.rejudge = undefined;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Every object's values as they are held, for an agent's push. */
  snapshot(): { key: string; x: Extracted }[] {
    return [...this.objects].map(([key, h]) => ({
      key,
      x: extractedOf(h),
    }));
  }

  endpointInputs(): EndpointInput[] {
    return [...this.endpoints.values()];
  }
}

/** A held object's values as scan takes them (records made for the scan, not held). */
function valuesOf(h: Held): ScanInput[] {
  const out: ScanInput[] = [];
  for (let i = 0; i < h.values.length; i += 2) out.push({ source: h.values[i] as string, data: h.values[i + 1] as Uint8Array });
  return out;
}

const NONE: never[] = Object.freeze([]) as unknown as never[];

/** A held object as what was extracted from it. */
function extractedOf(h: Held): Extracted {
  return {
    values: valuesOf(h),
    backends: h.extra?.backends ?? NONE,
    certManager: h.extra?.certManager ?? NONE,
    failures: h.extra?.failures ?? NONE,
  };
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DerError) return fallback;
    throw e;
  }
}

function endpointText(e: EndpointInput): string {
  return JSON.stringify({ ...e, probe: { ...e.probe, chain: e.probe.chain.map((d) => Buffer.from(d).toString('base64')) } });
}

function sameValues(a: Extracted, b: Extracted): boolean {
  if (a.values.length !== b.values.length || a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i] as ScanInput;
    const y = b.values[i] as ScanInput;
    if (x.source !== y.source || !Buffer.from(x.data).equals(Buffer.from(y.data))) return false;
  }
  return JSON.stringify([a.backends, a.certManager, a.failures]) === JSON.stringify([b.backends, b.certManager, b.failures]);
}
