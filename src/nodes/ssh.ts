// SSH connections to nodes (the `ssh2` library): host keys checked against known_hosts before anything
// is sent, `--accept-new` like OpenSSH's StrictHostKeyChecking=accept-new, a changed key always refused,
// an optional jump host, and every failure turned into one line that names no secret. A node set to
// `sudo` is logged into as its user and everything runs as root through sudo: the SFTP server itself
// (`sudo sftp-server` on an exec channel, the SFTP protocol then spoken over that channel) and the hook.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { type Channel, Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
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
  /** The sudo password of nodes set to `sudo` (when sudo asks for one). Never logged. */
  becomePassword?: string;
}

function hopConfig(h: SshHop, knownHosts: string, o: ConnectOptions, verdict: { v?: HostKeyVerdict }): ConnectConfig {
  const cfg: ConnectConfig = {
    host: h.address,
    port: h.port,
    username: h.user,
    readyTimeout: o.timeoutMs ?? 15_000,
    // A node that goes away mid-push (power, network) ends the connection within a minute, and every
    // request on it (SFTP, exec) fails with it instead of waiting forever.
    keepaliveInterval: 10_000,
    keepaliveCountMax: 6,
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
  if (/Connection lost before handshake/i.test(e.message)) return `unreachable: ${where}: connection closed before the SSH handshake`;
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

// ssh2's SFTP client is a channel of its own; it is handed the exec channel `sudo sftp-server` runs on.
const require = createRequire(import.meta.url);
const { SFTP } = require('ssh2/lib/protocol/SFTP.js') as {
  SFTP: new (client: Client, chanInfo: unknown, cfg: object) => SFTPWrapper & { _init(): void };
};
interface ClientInternals {
  _chanMgr: { update(id: number, channel: unknown): void };
}
interface ChannelInternals {
  incoming: { id: number };
  outgoing: { id: number };
  type: string;
}

/** The SFTP server's usual places (Debian/Ubuntu, RHEL/Fedora, BSDs, Arch). */
const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
];
/** Budget for what sudo says before the command starts. */
const MAX_SUDO_CHATTER = 16 * 1024;

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * An exec channel running `script` (sh) as root through sudo, returned once sudo has let it start: the
 * script first prints a random marker, so whatever came before it is sudo talking. sudo's password prompt
 * (a random marker too, on stderr: `sudo -S`) is answered once with the password; a second prompt means
 * the password was refused. Nothing sudo says is passed on beyond its first line.
 */
function sudoChannel(
  c: Client,
  node: string,
  script: string,
  password: string | undefined,
  timeoutMs: number,
  attach?: (stream: ClientChannel) => void,
): Promise<ClientChannel> {
  const id = randomBytes(8).toString('hex');
  const prompt = `anchorage-sudo-prompt-${id}:`;
  const ready = `anchorage-sudo-ready-${id}`;
  const command = `sudo -S -p ${shellQuote(prompt)} -- sh -c ${shellQuote(`echo ${ready}; ${script}`)}`;
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(new NodeError(`exec on ${node}: ${err.message}`));
      let out = '';
      let errText = '';
      let prompts = 0;
      let done = false;
      const finish = (e?: NodeError): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        stream.removeListener('data', onOut);
        stream.stderr.removeListener('data', onErr);
        stream.removeListener('close', onClose);
        if (e) {
          stream.close();
          reject(e);
        } else {
          // The caller's listeners go on now, in this same event: the command's output, end and close can
          // arrive in the very packet that carried the marker, before a promise continuation would run.
          attach?.(stream);
          resolve(stream);
        }
      };
      const said = (): string =>
        errText
          .split(prompt)
          .join('\n')
          .split('\n')
          .map((l) => l.trim())
          .find((l) => l && !/^\[sudo\]|^sudo: unable to resolve host/.test(l)) ?? '';
      const onOut = (d: Buffer): void => {
        out += d.toString('latin1');
        if (out.includes(`${ready}\n`)) {
          const extra = out.length > out.indexOf(ready) + ready.length + 1;
          finish(extra ? new NodeError(`sudo on ${node}: unexpected output before the command`) : undefined);
        } else if (out.length > MAX_SUDO_CHATTER) finish(new NodeError(`sudo on ${node}: unexpected output`));
      };
      const onErr = (d: Buffer): void => {
        if (errText.length < MAX_SUDO_CHATTER) errText += d.toString('utf8');
        const seen = errText.split(prompt).length - 1;
        if (seen <= prompts) return;
        prompts = seen;
        if (password === undefined)
          finish(new NodeError(`sudo on ${node} asks for a password: give --become-password (env:NAME, file:PATH or prompt)`));
        else if (prompts > 1) finish(new NodeError(`sudo on ${node} refused the password`));
        else stream.write(`${password}\n`);
      };
      const onClose = (code: number | null): void => {
        const why = said();
        let line = `sudo on ${node} failed (exit ${code ?? 'signal'})${why ? `: ${why}` : ''}`;
        if (/not in the sudoers|not allowed to (run|execute)|may not run sudo/i.test(why))
          line = `sudo on ${node}: the user may not run sudo (${why})`;
        else if (/incorrect password|no password was provided|password is required/i.test(why))
          line = `sudo on ${node} refused the password`;
        else if (/sudo: (command )?not found/i.test(why)) line = `sudo is not installed on ${node}`;
        finish(new NodeError(line));
      };
      const timer = setTimeout(
        () => finish(new NodeError(`sudo on ${node} did not start the command within ${timeoutMs / 1000}s`)),
        timeoutMs,
      );
      stream.on('data', onOut);
      stream.stderr.on('data', onErr);
      stream.on('close', onClose);
    });
  });
}

/** SFTP as root: `sudo sftp-server` on an exec channel, then ssh2's SFTP client over that same channel. */
async function sudoSftp(c: Client, node: string, password: string | undefined, timeoutMs: number): Promise<SFTPWrapper> {
  const script = `for p in ${SFTP_SERVERS.join(' ')}; do [ -x "$p" ] && exec "$p"; done; echo "no sftp-server found" >&2; exit 127`;
  const ch = (await sudoChannel(c, node, script, password, timeoutMs)) as ClientChannel & ChannelInternals;
  const sftp = new SFTP(c, { type: 'session', incoming: ch.incoming, outgoing: ch.outgoing }, {});
  (c as unknown as ClientInternals)._chanMgr.update(ch.incoming.id, sftp);
  ch.removeAllListeners();
  return new Promise((resolve, reject) => {
    const fail = (why: string) => (): void => {
      sftp.removeAllListeners('ready');
      reject(new NodeError(`sftp-server through sudo on ${node}: ${why}`));
    };
    sftp.once('ready', () => {
      sftp.removeAllListeners('error');
      sftp.removeAllListeners('close');
      resolve(sftp);
    });
    sftp.once('error', fail('protocol error'));
    sftp.once('close', fail('exited (is an SFTP server installed?)'));
    sftp._init();
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
    const timeoutMs = o.timeoutMs ?? 15_000;
    const sftp = t.sudo
      ? await sudoSftp(c, t.name, o.becomePassword, timeoutMs)
      : await new Promise<SFTPWrapper>((resolve, reject) =>
          c.sftp((err, s) => (err ? reject(new NodeError(`sftp on ${t.name}: ${err.message}`)) : resolve(s))),
        );
    // `attach` puts the caller's listeners on the channel in the event that hands it over (see sudoChannel).
    const run = (command: string, attach: (stream: Channel) => void): Promise<unknown> =>
      t.sudo
        ? sudoChannel(c, t.name, command, o.becomePassword, timeoutMs, attach)
        : new Promise((resolve, reject) =>
            c.exec(command, (err, stream) => {
              if (err) return reject(new NodeError(`exec on ${t.name}: ${err.message}`));
              attach(stream);
              resolve(stream);
            }),
          );
    return {
      target: t,
      sftp,
      exec: (command, timeoutMs = 300_000) =>
        new Promise((resolve, reject) => {
          run(command, (stream) => {
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
          }).catch(reject);
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
