// What every page shares: the API client, the writer switch, the live event stream, routing by the URL hash,
// small components (badges, errors) and formatting.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ApiClient, type EventKind, type Health, type ServerEvent, type Severity } from '../../src/tui/api.ts';

export * from '../../src/tui/api.ts';

type Listener = (e: ServerEvent) => void;

export interface Session {
  api: ApiClient;
  /** Writes (operations, acknowledgements) are off until the person turns them on: read-only by default. */
  writes: boolean;
  setWrites(on: boolean): void;
  setToken(token: string): void;
  live: 'connecting' | 'open' | 'closed';
  subscribe(kinds: EventKind[], fn: Listener): () => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [api] = useState(() => new ApiClient('', sessionStorage.getItem('anchorage.token') ?? undefined));
  const [writes, setWrites] = useState(false);
  const [, setTokenVersion] = useState(0);
  const [live, setLive] = useState<Session['live']>('connecting');
  const listeners = useRef(new Set<{ kinds: EventKind[]; fn: Listener }>());
  const [streamKey, setStreamKey] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    void streamKey;
    api.events(
      (e) => {
        // `reset`: the server dropped events for this client (too slow); every view reloads.
        const reset = (e.event as string) === 'reset';
        for (const l of listeners.current) if (reset || l.kinds.includes(e.event)) l.fn(e);
      },
      ctl.signal,
      (state) => setLive(state),
    );
    return () => ctl.abort();
  }, [api, streamKey]);

  const subscribe = useCallback((kinds: EventKind[], fn: Listener) => {
    const entry = { kinds, fn };
    listeners.current.add(entry);
    return () => {
      listeners.current.delete(entry);
    };
  }, []);

  const setToken = useCallback(
    (token: string) => {
      api.token = token || undefined;
      if (token) sessionStorage.setItem('anchorage.token', token);
      else sessionStorage.removeItem('anchorage.token');
      setTokenVersion((v) => v + 1);
      setStreamKey((k) => k + 1);
    },
    [api],
  );

  return <SessionContext.Provider value={{ api, writes, setWrites, setToken, live, subscribe }}>{children}</SessionContext.Provider>;
}

/** Re-run `fn` when a server event of one of `kinds` arrives, at most once per `waitMs`. */
export function useLive(kinds: EventKind[], fn: () => void, waitMs = 400): void {
  const { subscribe } = useSession();
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const key = kinds.join(',');
  useEffect(() => {
    if (!key) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = subscribe(key.split(',') as EventKind[], () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        fnRef.current();
      }, waitMs);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [subscribe, key, waitMs]);
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): void;
}

/** Load `fn()` when `deps` change, and again on `reload()` or a live event of `liveKinds`. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], liveKinds: EventKind[] = []): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useLive(liveKinds, reload);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names what fn depends on
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fn(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (ctl.signal.aborted) return;
        setError(e.message);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return { data, error, loading, reload };
}

/** The route: the URL hash `#/path?query`. */
function readRoute(): { path: string[]; query: URLSearchParams } {
  const h = window.location.hash.replace(/^#/, '') || '/';
  const [p = '/', q = ''] = h.split('?');
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function useRoute(): { path: string[]; query: URLSearchParams } {
  const read = readRoute;
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(path: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

/** Replace the query of the current route without adding a history entry. */
export function setQuery(values: Record<string, string | undefined>): void {
  const h = window.location.hash.replace(/^#/, '') || '/';
  const [p = '/', q = ''] = h.split('?');
  const params = new URLSearchParams(q);
  for (const [k, v] of Object.entries(values)) {
    if (v) params.set(k, v);
    else params.delete(k);
  }
  const s = params.toString();
  window.history.replaceState(null, '', `#${p}${s ? `?${s}` : ''}`);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function certHref(sha256: string, cluster?: string): string {
  return href(`/certificates/${sha256}`, { cluster });
}

const DAY = 86_400_000;

export function days(iso: string, now = Date.now()): number {
  return Math.floor((Date.parse(iso) - now) / DAY);
}

export function relDays(iso: string): string {
  const d = days(iso);
  if (d < 0) return `${-d} d ago`;
  if (d === 0) return 'today';
  return `in ${d} d`;
}

export function date(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—';
}

export function HealthBadge({ health }: { health: Health | undefined }) {
  if (!health) return null;
  return <span className={`badge health-${health}`}>{health}</span>;
}

/** The cluster filter of the list pages: "all" or one of the server's clusters, kept in the URL's `cluster`. */
export function ClusterFilter({ value }: { value: string | undefined }) {
  const { api } = useSession();
  const clusters = useLoad(() => api.clusters(), []);
  return (
    <label>
      Cluster
      <select value={value ?? ''} onChange={(e) => setQuery({ cluster: e.target.value })}>
        <option value="">all</option>
        {(clusters.data?.items ?? []).map((c) => (
          <option key={c.name}>{c.name}</option>
        ))}
      </select>
    </label>
  );
}

/** Table rows of certificates by expiry (the overview's soonest and the timeline's window). */
export function ExpiryRows({
  items,
}: {
  items: readonly { cluster: string; sha256: string; subject: string; notAfter: string; health?: Health }[];
}) {
  return (
    <>
      {items.map((i) => (
        <tr key={`${i.cluster}/${i.sha256}`}>
          <td>
            <a href={certHref(i.sha256, i.cluster)}>{cn(i.subject)}</a>
          </td>
          <td>{i.cluster}</td>
          <td title={i.notAfter}>{relDays(i.notAfter)}</td>
          <td>
            <HealthBadge health={i.health} />
          </td>
        </tr>
      ))}
    </>
  );
}

export function SeverityBadge({ severity }: { severity: Severity | null | undefined }) {
  if (!severity) return <span className="muted">—</span>;
  return <span className={`badge sev-${severity}`}>{severity}</span>;
}

export function ErrorLine({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

export function Loading({ loading }: { loading: boolean }) {
  return loading ? (
    <p className="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

export function shortSha(sha: string): string {
  return `${sha.slice(0, 12)}…`;
}

/** The subject's CN when it has one, else the whole subject. */
export function cn(subject: string): string {
  const m = /(?:^|,)\s*CN=((?:\\.|[^,])*)/.exec(subject);
  return m?.[1] ?? subject;
}
