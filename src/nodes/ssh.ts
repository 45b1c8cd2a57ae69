// SSH connections to nodes (the `ssh2` library): host keys checked against known_hosts before anything
// is sent, `--accept-new` like OpenSSH's StrictHostKeyChecking=accept-new, a changed key always refused,
// an optional jump host, and every failure turned into one line that names no secret.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { lockDir, pathExists, writeFileAtomic } from '../common/atomic.ts';
import { checkHostKey, type HostKeyVerdict, hostName, type KnownHostEntry, knownHostsLine, parseKnownHosts } from './known-hosts.ts';
import type { NodeTarget, SshHop } from './targets.ts';

/** A node-level failure: its message is the one line printed for that node. */
export class NodeError extends Error {}

/** Budget for one identity file. */
const MAX_IDENTITY_BYTES = 64 * 1024;

/** known_hosts files, read once; host keys accepted with --accept-new are appended by `flush`. */
export class HostKeyBook {
  private readonly files = new Map<string, KnownHostEntry[]>();
  private readonly added = new Map<string, string[]>();
  readonly acceptNew: boolean;
  constructor(acceptNew: boolean) {
    this.acceptNew = acceptNew;
  }

  entries(path: string): KnownHostEntry[] {
    let e = this.files.get(path);
    if (!e) {
      e = pathExists(path) ? parseKnownHosts(readFileSync(path, 'utf8')) : [];
      this.files.set(path, e);
    }
    return e;
  }

  /** Verdict for a key; an unknown key is remembered (and later written) when accept-new is on. */
  check(path: string, host: string, port: number, key: Buffer): HostKeyVerdict {
    const entries = this.entries(path);
    const v = checkHostKey(entries, host, port, key);
    if (v.kind === 'unknown' && this.acceptNew) {
      const line = knownHostsLine(host, port, key);
      entries.push({ line: 0, patterns: hostName(host, port), keyType: line.split(' ')[1] as string, key });
      this.added.set(path, [...(this.added.get(path) ?? []), line]);
    }
    return v;
  }

  /** Append the accepted keys to their known_hosts files (atomically, under the folder's lock). */
  flush(): string[] {
    const written: string[] = [];
    for (const [path, lines] of this.added) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const lock = lockDir(dirname(path), 'another anchorage command writing known_hosts');
      try {
        const old = pathExists(path) ? readFileSync(path, 'utf8') : '';
        const sep = old && !old.endsWith('\n') ? '\n' : '';
        writeFileAtomic(path, `${old}${sep}${lines.join('\n')}\n`, 0o600, { overwrite: true });
        written.push(path);
      } finally {
        lock.release();
      }
    }
    this.added.clear();
    return written;
  }
}

export interface ConnectOptions {
  hostKeys: HostKeyBook;
  /** Bound on TCP connect + handshake + authentication, per hop. */
  timeoutMs?: number;
}

function hopConfig(h: SshHop, knownHosts: string, o: ConnectOptions, verdict: { v?: HostKeyVerdict }): ConnectConfig {
  const cfg: ConnectConfig = {
    host: h.address,
    port: h.port,
    username: h.user,
    readyTimeout: o.timeoutMs ?? 15_000,
    hostVerifier: (key: Buffer) => {
      verdict.v = o.hostKeys.check(knownHosts, h.address, h.port, key);
      return verdict.v.kind === 'known' || (verdict.v.kind === 'unknown' && o.hostKeys.acceptNew);
    },
  };
  if (h.agent) cfg.agent = h.agent;
  if (h.identityFile) {
    try {
      const data = readFileSync(h.identityFile);
      if (data.length > MAX_IDENTITY_BYTES) throw new NodeError(`identity file ${h.identityFile}: too large`);
      cfg.privateKey = data;
    } catch (e) {
      if (e instanceof NodeError) throw e;
      if (!h.agent) throw new NodeError(`cannot read identity file ${h.identityFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return cfg;
}

/** One line for a failed connection; never includes key material or passwords. */
function explain(e: Error & { code?: string; level?: string }, h: SshHop, knownHosts: string, verdict: HostKeyVerdict | undefined): string {
  const where = `${h.user}@${hostName(h.address, h.port)}`;
  if (verdict?.kind === 'changed')
    return `host key changed for ${hostName(h.address, h.port)}: REFUSED (${knownHosts}:${verdict.line} has a different ${verdict.knownType} key; if the machine was really reinstalled, remove that line)`;
  if (verdict?.kind === 'revoked')
    return `host key of ${hostName(h.address, h.port)} is @revoked in ${knownHosts}:${verdict.line}: REFUSED`;
  if (verdict?.kind === 'unknown')
    return `host key of ${hostName(h.address, h.port)} is not in ${knownHosts}: REFUSED (check it, then rerun with --accept-new to trust it on first use)`;
  if (e.level === 'client-authentication') return `authentication failed for ${where} (publickey)`;
  if (e.level === 'client-timeout' || /Timed out/i.test(e.message)) return `unreachable: ${where}: timed out`;
  if (e.code && /^E[A-Z]+$/.test(e.code)) return `unreachable: ${where}: ${e.code}`;
  if (e.level === 'client-socket') return `unreachable: ${where}: ${e.message.split('\n')[0]}`;
  return `ssh ${where}: ${e.message.split('\n')[0]}`;
}

function open(
  cfg: ConnectConfig,
  sock: Duplex | undefined,
  h: SshHop,
  knownHosts: string,
  verdict: { v?: HostKeyVerdict },
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let settled = false;
    c.once('ready', () => {
      settled = true;
      resolve(c);
    });
    c.on('error', (e) => {
      if (settled) return;
      settled = true;
      c.end();
      reject(new NodeError(explain(e, h, knownHosts, verdict.v)));
    });
    c.once('close', () => {
      if (settled) return;
      settled = true;
      reject(new NodeError(explain(new Error('connection closed during handshake'), h, knownHosts, verdict.v)));
    });
    c.connect(sock ? { ...cfg, sock } : cfg);
  });
}

export interface Session {
  target: NodeTarget;
  sftp: SFTPWrapper;
  /** Run a command on the node; stdout/stderr are returned, never printed. */
  exec(command: string, timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** A TCP connection opened by the node (direct-tcpip): the handshake comes from that machine. */
  dial(host: string, port: number): Promise<Duplex>;
  close(): void;
}

function forward(c: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    c.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/** Connect (through the jump host when set), check the host key, authenticate, open SFTP. */
export async function connectNode(t: NodeTarget, o: ConnectOptions): Promise<Session> {
  const clients: Client[] = [];
  try {
    let sock: Duplex | undefined;
    if (t.jump) {
      const jv: { v?: HostKeyVerdict } = {};
      const j = await open(hopConfig(t.jump, t.knownHosts, o, jv), undefined, t.jump, t.knownHosts, jv);
      clients.push(j);
      try {
        sock = await forward(j, t.address, t.port);
      } catch (e) {
        throw new NodeError(`unreachable: ${t.address}:${t.port} through jump host ${t.jump.address}: ${(e as Error).message}`);
      }
    }
    const v: { v?: HostKeyVerdict } = {};
    const c = await open(hopConfig(t, t.knownHosts, o, v), sock, t, t.knownHosts, v);
    clients.push(c);
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      c.sftp((err, s) => (err ? reject(new NodeError(`sftp on ${t.name}: ${err.message}`)) : resolve(s))),
    );
    return {
      target: t,
      sftp,
      exec: (command, timeoutMs = 300_000) =>
        new Promise((resolve, reject) => {
          c.exec(command, (err, stream) => {
            if (err) return reject(new NodeError(`exec on ${t.name}: ${err.message}`));
            let stdout = '';
            let stderr = '';
            const timer = setTimeout(() => {
              stream.close();
              reject(new NodeError(`command on ${t.name} did not finish within ${timeoutMs / 1000}s`));
            }, timeoutMs);
            stream.on('data', (d: Buffer) => {
              if (stdout.length < 1 << 20) stdout += d.toString('utf8');
            });
            stream.stderr.on('data', (d: Buffer) => {
              if (stderr.length < 1 << 20) stderr += d.toString('utf8');
            });
            stream.on('close', (code: number | null) => {
              clearTimeout(timer);
              resolve({ code, stdout, stderr });
            });
          });
        }),
      dial: (host, port) => forward(c, host, port),
      close: () => {
        for (const x of clients.reverse()) x.end();
      },
    };
  } catch (e) {
    for (const x of clients.reverse()) x.end();
    throw e;
  }
}
