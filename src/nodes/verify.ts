// `nodes verify`: cross-node trust. From each node, with that node's own client credentials (read from
// the node, held in memory only), a real TLS handshake to every other node's serving endpoints: the TCP
// connection is opened by the source node itself (SSH direct-tcpip), so it is that machine talking.
// Where nothing listens, the verdict is predicted by the trust engine (src/trust) from the files both
// nodes hold. The handshake is TLS 1.2, where the server accepts or rejects the client certificate
// inside the handshake, so the verdict needs no waiting.
import { connect as tlsConnect } from 'node:tls';
import { readKubeconfig } from '../k8s/kubeconfig.ts';
import { verifyChain } from '../trust/verify.ts';
import { Certificate } from '../x509/certificate.ts';
import { scanPem } from '../x509/pem.ts';
import type { Desired } from './desired.ts';
import { type FleetOptions, forEachNode, limit, type NodeOutcome } from './fleet.ts';
import type { Remote } from './remote.ts';
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
async function readFacts(r: Remote, desired: Desired, node: string): Promise<NodeFacts> {
  const text = async (p: string | undefined): Promise<string | undefined> => (p ? (await r.read(p))?.toString('utf8') : undefined);
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

/** One real handshake from the source node; null when nothing listens (connection refused). */
async function handshake(
  s: Session,
  host: string,
  port: number,
  c: ClientCreds,
  timeoutMs: number,
): Promise<{ ok: boolean; reason?: string } | null> {
  let sock: Awaited<ReturnType<Session['dial']>>;
  try {
    sock = await s.dial(host, port);
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    const t = tlsConnect({
      socket: sock,
      host,
      cert: c.cert,
      key: c.key,
      ca: c.ca,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => {
      t.destroy();
      resolve({ ok: false, reason: `no handshake within ${timeoutMs / 1000}s` });
    }, timeoutMs);
    t.once('secureConnect', () => {
      clearTimeout(timer);
      t.end();
      sock.end();
      resolve({ ok: true });
    });
    t.once('error', (e: Error & { code?: string }) => {
      clearTimeout(timer);
      t.destroy();
      sock.end();
      const msg = e.message.split('\n')[0] ?? '';
      const alert = /alert ([a-z ]+)/i.exec(msg)?.[1]?.trim();
      if (alert) resolve({ ok: false, reason: `the server rejected this node's client certificate (TLS alert: ${alert})` });
      else if (e.code?.startsWith('ERR_TLS_CERT_ALTNAME')) resolve({ ok: false, reason: `server certificate does not name ${host}` });
      else if (e.code && /CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(e.code))
        resolve({ ok: false, reason: `server certificate not trusted: ${e.code}` });
      else resolve({ ok: false, reason: msg || (e.code ?? 'handshake failed') });
    });
  });
}

/** The node×node matrix: every (from, to, service) the from-node holds a client credential for. */
export async function verifyMatrix(
  targets: readonly NodeTarget[],
  desired: Desired,
  o: FleetOptions & { handshakeTimeoutMs?: number; predictOnly?: boolean; now?: Date },
): Promise<MatrixRow[]> {
  const now = o.now ?? new Date();
  const factsRes = await forEachNode(targets, o, (s, r) => readFacts(r, desired, s.target.name));
  const facts = new Map(factsRes.filter((f) => f.ok && f.result).map((f) => [f.node, f.result as NodeFacts]));
  const jobs = await forEachNode(targets, o, async (s) => {
    const mine = facts.get(s.target.name);
    if (!mine) throw new NodeError(factsRes.find((f) => f.node === s.target.name)?.error ?? 'files could not be read');
    const to: MatrixRow['to'] = [];
    for (const t of targets) {
      if (t.name === s.target.name) continue;
      const theirs = facts.get(t.name);
      const host = t.ips[0] as string;
      const cells = await limit(
        SERVICES.filter(
          (svc) =>
            mine.client[svc] &&
            (theirs ? theirs.server[svc] : desired.byNode.get(t.name)?.some((f) => f.role === `${SIDES[svc].server}@${t.name}`)),
        ),
        4,
        async (svc): Promise<Cell> => {
          const port = portOf(t, svc);
          const creds = mine.client[svc] as ClientCreds;
          const real = o.predictOnly ? null : await handshake(s, host, port, creds, o.handshakeTimeoutMs ?? 10_000);
          if (real) return { service: svc, port, result: real.ok ? 'ok' : 'fail', ...(real.reason && { reason: real.reason }) };
          const server = theirs?.server[svc];
          if (!server)
            return { service: svc, port, result: 'predicted-fail', reason: `nothing listens and ${t.name}'s files could not be read` };
          const p = predict(creds, server, host, now);
          return { service: svc, port, result: p.ok ? 'predicted-ok' : 'predicted-fail', ...(p.reason && { reason: p.reason }) };
        },
      );
      to.push({ node: t.name, cells });
    }
    return to;
  });
  return jobs.map((j: NodeOutcome<MatrixRow['to']>) =>
    j.ok ? { from: j.node, ok: true, to: j.result ?? [] } : { from: j.node, ok: false, error: j.error ?? 'failed', to: [] },
  );
}
