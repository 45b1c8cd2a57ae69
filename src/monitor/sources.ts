// Where a cluster's objects come from. Folders and node trees are read again on an interval and only
// what changed is handed on; TLS endpoints are probed on an interval (a Kubernetes cluster: kube-source.ts).
// A source that fails is marked stale with the reason and retried with backoff; what it delivered before stays.
import { sleep } from '../kube/informer.ts';
import { type EndpointTarget, probeEndpoint } from '../scan/endpoint.ts';
import type { ScanInput } from '../scan/scan.ts';
import type { ClusterState } from './cluster.ts';
import type { Extracted } from './extract.ts';
import type { Monitor } from './monitor.ts';

export interface Stoppable {
  stop(): Promise<void>;
  /** Resolves after the first complete read (or first failure). */
  first: Promise<void>;
}

/** Reads files: the CLI hands its bounded reader in (monitor does not read the disk on its own). */
export type FileReader = (paths: string[]) => { inputs: ScanInput[]; failures: { source: string; reason: string }[] };

/** A folder (files, kubeconfigs, `pki init` node trees) read again every `intervalMs`. */
export function watchFiles(m: Monitor, c: ClusterState, name: string, paths: string[], read: FileReader, intervalMs: number): Stoppable {
  const abort = new AbortController();
  let firstDone!: () => void;
  const first = new Promise<void>((r) => {
    firstDone = r;
  });
  let backoff = intervalMs;
  const once = (): boolean => {
    try {
      const { inputs, failures } = read(paths);
      const next = new Map<string, Extracted>();
      for (const v of inputs) next.set(`${name}|${v.source}`, { values: [v], backends: [], certManager: [], failures: [] });
      for (const f of failures) next.set(`${name}|${f.source}`, { values: [], backends: [], certManager: [], failures: [f] });
      c.replaceAll(`${name}|`, next);
      m.sourceState(c, name, 'ok', { objects: inputs.length });
      return true;
    } catch (e) {
      m.sourceState(c, name, c.sources.get(name)?.lastSuccess ? 'stale' : 'error', {
        reason: (e as Error).message.split('\n')[0] as string,
      });
      return false;
    }
  };
  const loop = async (): Promise<void> => {
    once();
    c.rescan();
    firstDone();
    while (!abort.signal.aborted) {
      await sleep(backoff, abort.signal);
      if (abort.signal.aborted) break;
      backoff = once() ? intervalMs : Math.min(backoff * 2, Math.max(intervalMs, 300_000));
    }
  };
  const running = loop();
  return {
    first,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

/** TLS endpoints probed every `intervalMs`. */
export function watchEndpoints(
  m: Monitor,
  c: ClusterState,
  targets: { name: string; target: EndpointTarget; for: string; caSource?: string }[],
  intervalMs: number,
): Stoppable {
  const abort = new AbortController();
  let firstDone!: () => void;
  const first = new Promise<void>((r) => {
    firstDone = r;
  });
  const seen = new Map<string, string>();
  const once = async (): Promise<void> => {
    await Promise.all(
      targets.map(async (t) => {
        const probe = await probeEndpoint(t.target);
        const input = { probe, for: t.for, ...(t.caSource !== undefined && { caSource: t.caSource }) };
        if (probe.reached) {
          // Only a change of what the endpoint presents (or says) is a change worth a scan.
          const key = JSON.stringify([
            probe.chain.map((d) => Buffer.from(d).toString('base64')),
            probe.verified,
            probe.verifyError,
            probe.clientCert,
            probe.error,
          ]);
          if (seen.get(t.name) !== key) {
            seen.set(t.name, key);
            c.setEndpoint(t.name, input);
          }
          m.sourceState(c, t.name, 'ok', { objects: probe.chain.length });
        } else if (seen.has(t.name)) {
          // Unreachable now: what it presented last stays, marked stale.
          m.sourceState(c, t.name, 'stale', { reason: probe.error ?? 'not reached' });
        } else {
          c.setEndpoint(t.name, input);
          m.sourceState(c, t.name, 'error', { reason: probe.error ?? 'not reached' });
        }
      }),
    );
  };
  const loop = async (): Promise<void> => {
    await once();
    firstDone();
    while (!abort.signal.aborted) {
      await sleep(intervalMs, abort.signal);
      if (abort.signal.aborted) break;
      await once();
    }
  };
  const running = loop();
  return {
    first,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}
