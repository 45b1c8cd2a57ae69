// `nodes verify`: cross-node trust. From each node, with that node's own client credentials (read from
// the node, held in memory only), a real TLS handshake to every other node's serving endpoints: the TCP
// connection is opened by the source node itself (SSH direct-tcpip), so it is that machine talking.
// Where nothing listens, the verdict is predicted by the trust engine (src/trust) from the files both
// nodes hold. The handshake is TLS 1.2 or 1.3, whichever the endpoint speaks (see handshake()).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { InputError } from '../common/errors.ts';
import { readKubeconfig } from '../k8s/kubeconfig.ts';
import { verifyChain } from '../trust/verify.ts';
import { Certificate } from '../x509/certificate.ts';
import { scanPem } from '../x509/pem.ts';
import type { Desired } from './desired.ts';
import { type FleetOptions, forEachNode, limit, type NodeOutcome } from './fleet.ts';
import { MAX_REMOTE_FILE } from './remote.ts';
import { NodeError, type Session } from './ssh.ts';
import type { NodeTarget } from './targets.ts';

export type Service = 'apiserver' | 'kubelet' | 'etcd-client' | 'etcd-peer';
export const SERVICES: readonly Service[] = ['apiserver', 'kubelet', 'etcd-client', 'etcd-peer'];

/** Which manifest roles hold each side of a service (kubeadm's trust relations). */
const SIDES: Record<Service, { server: string; client: string; clientKubeconfig?: boolean; serverCa: string; clientCa: string }> = {
  // A node's kubelet talks to the apiservers with its kubelet.conf; the apiserver checks it against ca.
  apiserver: { server: 'apiserver', client: 'kubelet.conf', clientKubeconfig: true, serverCa: 'ca', clientCa: 'ca' },
  // The apiserver talks to every kubelet with apiserver-kubelet-client and checks kubelet serving certs against ca.
  kubelet: { server: 'kubelet-serving', client: 'apiserver-kubelet-client', serverCa: 'ca', clientCa: 'ca' },
  'etcd-client': { server: 'etcd-server', client: 'apiserver-etcd-client', serverCa: 'etcd-ca', clientCa: 'etcd-ca' },
  'etcd-peer': { server: 'etcd-peer', client: 'etcd-peer', serverCa: 'etcd-ca', clientCa: 'etcd-ca' },
};

interface ClientCreds {
  cert: string;
  key: string;
  ca: string;
}
interface ServerFacts {
  /** The serving chain as the node holds it. */
  cert: string;
  /** Client CAs the server trusts. */
  clientCa: string;
}
interface NodeFacts {
  client: Partial<Record<Service, ClientCreds>>;
  server: Partial<Record<Service, ServerFacts>>;
}

export interface Cell {
  service: Service;
  port: number;
  /** ok / fail: a real handshake; predicted-*: nothing listened, the trust engine's verdict. */
  result: 'ok' | 'fail' | 'predicted-ok' | 'predicted-fail';
  reason?: string;
  /** The TLS version of a real handshake. */
  tls?: string;
}

export interface MatrixRow {
  from: string;
  ok: boolean;
  error?: string;
  to: { node: string; cells: Cell[] }[];
}

const portOf = (t: NodeTarget, s: Service): number =>
  s === 'apiserver' ? t.ports.apiserver : s === 'kubelet' ? t.ports.kubelet : s === 'etcd-client' ? t.ports.etcdClient : t.ports.etcdPeer;

function fileOf(desired: Desired, node: string, role: string, kind: string): string | undefined {
  return desired.byNode.get(node)?.find((f) => f.kind === kind && (f.role === role || f.role === `${role}@${node}`))?.path;
}

/** Read from a node the files each side of each service needs. */
async function readFacts(read: (path: string) => Promise<Buffer | null>, desired: Desired, node: string): Promise<NodeFacts> {
  const text = async (p: string | undefined): Promise<string | undefined> => (p ? (await read(p))?.toString('utf8') : undefined);
  const facts: NodeFacts = { client: {}, server: {} };
  await limit(SERVICES, 4, async (svc) => {
    const side = SIDES[svc];
    const [serverCert, clientCa, serverCa] = await Promise.all([
      text(fileOf(desired, node, side.server, 'certificate')),
      text(fileOf(desired, node, side.clientCa, 'ca-bundle')),
      text(fileOf(desired, node, side.serverCa, 'ca-bundle')),
    ]);
    if (serverCert && clientCa) facts.server[svc] = { cert: serverCert, clientCa };
    if (side.clientKubeconfig) {
      const kc = await text(fileOf(desired, node, side.client, 'kubeconfig'));
      if (kc) {
        const emb = readKubeconfig(kc).embedded;
        const get = (f: string) => Buffer.from(emb.find((e) => e.field === f)?.data ?? []).toString('utf8');
        const creds = { cert: get('client-certificate-data'), key: get('client-key-data'), ca: get('certificate-authority-data') };
        if (creds.cert && creds.key && creds.ca) facts.client[svc] = creds;
      }
    } else {
      const [cert, key] = await Promise.all([
        text(fileOf(desired, node, side.client, 'certificate')),
        text(fileOf(desired, node, side.client, 'private-key')),
      ]);
      if (cert && key && serverCa) facts.client[svc] = { cert, key, ca: serverCa };
    }
  });
  return facts;
}

const certs = (pem: string): Certificate[] =>
  scanPem(pem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new Certificate(b.der));

/** The trust engine's verdict for a handshake that could not be made. */
function predict(c: ClientCreds, s: ServerFacts, host: string, at: Date): { ok: boolean; reason?: string } {
  const [leaf, ...rest] = certs(s.cert);
  if (!leaf) return { ok: false, reason: 'server certificate unreadable' };
  const server = verifyChain({ leaf, intermediates: rest, anchors: certs(c.ca), purpose: 'server', host, at });
  if (!server.trusted) return { ok: false, reason: `server certificate not trusted: ${server.reasons[0] ?? server.code}` };
  const [cleaf, ...crest] = certs(c.cert);
  if (!cleaf) return { ok: false, reason: 'client certificate unreadable' };
  const client = verifyChain({ leaf: cleaf, intermediates: crest, anchors: certs(s.clientCa), purpose: 'client', at });
  if (!client.trusted)
    return { ok: false, reason: `the server would reject this node's client certificate: ${client.reasons[0] ?? client.code}` };
  return { ok: true };
}

/** How long a TLS 1.3 server has, after the handshake, to accept (a session ticket or an answer) or reject the client certificate. */
const TLS13_VERDICT_MS = 5_000;

/** One real handshake from the source node; null when nothing listens (connection refused). */
async function handshake(
  s: Session,
  host: string,
  port: number,
  c: ClientCreds,
  timeoutMs: number,
): Promise<{ ok: boolean; reason?: string; tls?: string } | null> {
  let sock: Awaited<ReturnType<Session['dial']>>;
  try {
    sock = await s.dial(host, port);
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    // TLS 1.2 or 1.3, whichever the endpoint speaks. In TLS 1.2 the server accepts or rejects the client
    // certificate inside the handshake; in TLS 1.3 the client finishes first and the server's verdict
    // follows: a rejection is an alert, an acceptance a session ticket or the answer to a request.
    // Every certificate of the node's CA file is a trust anchor, as in Go's crypto/x509 (kubelet, apiserver,
    // etcd): under an offline root the cluster CA is an intermediate, and it is all a node holds.
    const t = tlsConnect({
      socket: sock,
      host,
      cert: c.cert,
      key: c.key,
      ca: c.ca,
      allowPartialTrustChain: true,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
    });
    let version: string | undefined;
    let settled = false;
    const done = (v: { ok: boolean; reason?: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      t.destroy();
      sock.end();
      resolve({ ...v, ...(version && { tls: version }) });
    };
    let timer = setTimeout(() => done({ ok: false, reason: `no handshake within ${timeoutMs / 1000}s` }), timeoutMs);
    t.once('secureConnect', () => {
      version = t.getProtocol() ?? undefined;
      if (version !== 'TLSv1.3') return done({ ok: true });
      clearTimeout(timer);
      timer = setTimeout(
        () => done({ ok: true, reason: `TLS 1.3: the server sent no rejection within ${TLS13_VERDICT_MS / 1000}s` }),
        TLS13_VERDICT_MS,
      );
      t.once('session', () => done({ ok: true }));
      t.once('data', () => done({ ok: true }));
      t.once('end', () =>
        done({ ok: false, reason: 'TLS 1.3: the server closed the connection after the handshake (client certificate refused?)' }),
      );
      // Every endpoint verified here speaks HTTP over TLS: a request the server reads only once it accepted us.
      t.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    t.once('error', (e: Error & { code?: string }) => {
      // In TLS 1.2 a refusal comes inside the handshake: the version is already agreed by then.
      const v = t.getProtocol();
      if (!version && v && v !== 'unknown') version = v;
      const msg = e.message.split('\n')[0] ?? '';
      const alert = /alert ([a-z ]+)/i.exec(msg)?.[1]?.trim();
      if (alert) done({ ok: false, reason: `the server rejected this node's client certificate (TLS alert: ${alert})` });
      else if (e.code?.startsWith('ERR_TLS_CERT_ALTNAME')) done({ ok: false, reason: `server certificate does not name ${host}` });
      else if (e.code && /CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(e.code))
        done({ ok: false, reason: `server certificate not trusted: ${e.code}` });
      else if (e.code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || /protocol version|wrong version/i.test(msg))
        done({ ok: false, reason: `no TLS version in common (this side speaks TLS 1.2 and 1.3): ${msg}` });
      else done({ ok: false, reason: msg || (e.code ?? 'handshake failed') });
    });
  });
}

/** The services `t` serves that a node with `mine` holds a client credential for. */
function servicesBetween(desired: Desired, mine: NodeFacts, t: NodeTarget, theirs: NodeFacts | undefined): Service[] {
  return SERVICES.filter(
    (svc) =>
      mine.client[svc] &&
      (theirs ? theirs.server[svc] : desired.byNode.get(t.name)?.some((f) => f.role === `${SIDES[svc].server}@${t.name}`)),
  );
}

/** The trust engine's cell, from the files both nodes hold. */
function predicted(svc: Service, t: NodeTarget, creds: ClientCreds, theirs: NodeFacts | undefined, now: Date): Cell {
  const port = portOf(t, svc);
  const server = theirs?.server[svc];
  if (!server) return { service: svc, port, result: 'predicted-fail', reason: `nothing listens and ${t.name}'s files could not be read` };
  const p = predict(creds, server, t.ips[0] as string, now);
  return { service: svc, port, result: p.ok ? 'predicted-ok' : 'predicted-fail', ...(p.reason && { reason: p.reason }) };
}

/**
 * The matrix predicted from what `nodes pull --out DIR` copied (DIR/nodes/<node>/<path>): no connection at all,
 * every cell the trust engine's verdict. A node not pulled is one line.
 */
export async function predictFromPulled(
  targets: readonly NodeTarget[],
  desired: Desired,
  pulled: string,
  now: Date = new Date(),
): Promise<MatrixRow[]> {
  const facts = new Map<string, NodeFacts>();
  const missing = new Map<string, string>();
  for (const t of targets) {
    const base = join(pulled, 'nodes', t.name);
    if (!existsSync(base)) {
      missing.set(t.name, `${base}: not pulled (run 'anchorage nodes pull --out ${pulled}')`);
      continue;
    }
    const read = async (p: string): Promise<Buffer | null> => {
      const f = join(base, ...p.split('/').filter(Boolean));
      if (!existsSync(f)) return null;
      const st = statSync(f);
      if (!st.isFile()) return null;
      if (st.size > MAX_REMOTE_FILE) throw new InputError(`too large: ${f} is ${st.size} bytes (budget ${MAX_REMOTE_FILE})`);
      return readFileSync(f);
    };
    facts.set(t.name, await readFacts(read, desired, t.name));
  }
  return targets.map((s): MatrixRow => {
    const mine = facts.get(s.name);
    if (!mine) return { from: s.name, ok: false, error: missing.get(s.name) ?? 'not pulled', to: [] };
    const to = targets
      .filter((t) => t.name !== s.name)
      .map((t) => {
        const theirs = facts.get(t.name);
        return {
          node: t.name,
          cells: servicesBetween(desired, mine, t, theirs).map((svc) => predicted(svc, t, mine.client[svc] as ClientCreds, theirs, now)),
        };
      });
    return { from: s.name, ok: true, to };
  });
}

/** The node×node matrix: every (from, to, service) the from-node holds a client credential for. */
export async function verifyMatrix(
  targets: readonly NodeTarget[],
  desired: Desired,
  o: FleetOptions & { handshakeTimeoutMs?: number; predictOnly?: boolean; now?: Date },
): Promise<MatrixRow[]> {
  const now = o.now ?? new Date();
  const factsRes = await forEachNode(targets, o, (s, r) => readFacts((p) => r.read(p), desired, s.target.name));
  const facts = new Map(factsRes.filter((f) => f.ok && f.result).map((f) => [f.node, f.result as NodeFacts]));
  const jobs = await forEachNode(targets, o, async (s) => {
    const mine = facts.get(s.target.name);
    if (!mine) throw new NodeError(factsRes.find((f) => f.node === s.target.name)?.error ?? 'files could not be read');
    const to: MatrixRow['to'] = [];
    for (const t of targets) {
      if (t.name === s.target.name) continue;
      const theirs = facts.get(t.name);
      const host = t.ips[0] as string;
      const cells = await limit(servicesBetween(desired, mine, t, theirs), 4, async (svc): Promise<Cell> => {
        const port = portOf(t, svc);
        const creds = mine.client[svc] as ClientCreds;
        const real = o.predictOnly ? null : await handshake(s, host, port, creds, o.handshakeTimeoutMs ?? 10_000);
        if (real)
          return {
            service: svc,
            port,
            result: real.ok ? 'ok' : 'fail',
            ...(real.reason && { reason: real.reason }),
            ...(real.tls && { tls: real.tls }),
          };
        return predicted(svc, t, creds, theirs, now);
      });
      to.push({ node: t.name, cells });
    }
    return to;
  });
  return jobs.map((j: NodeOutcome<MatrixRow['to']>) =>
    j.ok ? { from: j.node, ok: true, to: j.result ?? [] } : { from: j.node, ok: false, error: j.error ?? 'failed', to: [] },
  );
}
