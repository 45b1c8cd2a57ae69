// Real machines on this machine: Debian's OpenSSH server in network namespaces, one per node.
//
// Each lab (one per test file) has a bridge `anc-<id>-br` in the root namespace holding 10.251.<subnet>.1/24
// (the test process reaches the nodes through it), and per node a namespace `anc-<id>-<i>` whose end of a
// veth pair (eth0) holds 10.251.<subnet>.<10+i>/24, so nodes also reach each other. Each sshd runs in
// its own mount namespace (unshare --mount --propagation private) where a tmpfs of its own (small for a
// "full disk" node) carries overlays of /etc and /var/lib: every node sees its own /etc/kubernetes,
// /var/lib/kubelet, /var/lib/anchorage, and nothing lands on the host. The test reads a node's files
// through /proc/<sshd pid>/root. Host keys, the client key and sshd_config are made by the lab.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LabNode {
  index: number;
  ns: string;
  ip: string;
  /** The port its sshd listens on (LabOptions.sshPort, default 22). */
  port: number;
  dir: string;
  /** sshd's log file (sshd -E). */
  log: string;
  /** The node it can only be reached from (LabOptions.behind). */
  via?: LabNode;
  hostKey: string;
  proc?: ChildProcess;
  pid?: number;
}

export interface Lab {
  id: string;
  dir: string;
  subnet: number;
  bridgeIp: string;
  clientKey: string;
  knownHosts: string;
  /** Password of the accounts anc, ops, opsp on every node (sudo asks opsp for it; ops needs none; anc may not sudo). */
  sudoPassword: string;
  nodes: LabNode[];
  /** A node's view of a path (through its sshd's mount namespace). */
  path(n: LabNode, p: string): string;
  /** known_hosts lines for every node (as ssh-keyscan would give). */
  knownHostsText(): string;
  start(n: LabNode): Promise<void>;
  stop(n: LabNode): Promise<void>;
  /** New host key for a node (sshd reloads it, files stay): what a reinstalled or impersonated machine shows. */
  rekey(n: LabNode): Promise<void>;
  /** Run a command inside a node's network and mount namespaces. */
  exec(n: LabNode, cmd: string[], opts?: { input?: string }): string;
  /** Start a long-running process inside a node's namespaces; killed by close(). */
  spawnIn(n: LabNode, cmd: string[]): ChildProcess;
  close(): Promise<void>;
}

const sh = (args: string[], input?: string): string =>
  execFileSync(args[0] as string, args.slice(1), {
    encoding: 'utf8',
    ...(input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input, stdio: ['pipe', 'pipe', 'pipe'] }),
  });
const trySh = (args: string[]): void => {
  try {
    sh(args);
  } catch {
    // cleanup of something already gone
  }
};

/** Remove what an earlier run of the same lab id left (a killed test process). Only names with our prefix. */
function cleanupPrefix(id: string): void {
  const prefix = `anc-${id}-`;
  let list = '';
  try {
    list = sh(['ip', 'netns', 'list']);
  } catch {}
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    if (!ns?.startsWith(prefix)) continue;
    let pids = '';
    try {
      pids = sh(['ip', 'netns', 'pids', ns]);
    } catch {}
    for (const pid of pids.split('\n').filter(Boolean)) trySh(['kill', '-9', pid]);
    trySh(['ip', 'netns', 'del', ns]);
  }
  const links = sh(['ip', '-o', 'link', 'show']);
  for (const m of links.matchAll(/^\d+: ([^:@\s]+)/gm)) if (m[1]?.startsWith(prefix)) trySh(['ip', 'link', 'del', m[1]]);
}

function waitPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${host}:${port} did not open within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** waitPort from inside a namespace (a hidden node, seen from its jump host). */
async function waitPortIn(ns: string, host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      sh(['ip', 'netns', 'exec', ns, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${host}:${port} did not open within ${timeoutMs} ms (from ${ns})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface LabOptions {
  /** Unique per test file, ≤ 5 characters: names are anc-<id>-…, interface names ≤ 15 characters. */
  id: string;
  /** Third octet of 10.251.<subnet>.0/24, unique per test file. */
  subnet: number;
  count: number;
  /** Bytes of each node's tmpfs (its /etc and /var/lib overlays); per node index. */
  diskBytes?: (i: number) => number;
  /** Nodes whose authorized_keys does not hold the client key. */
  denyAuth?: number[];
  /**
   * Hidden nodes: node index → the index of the node it sits behind. A hidden node is not on the bridge:
   * its only link is a veth pair to that node's namespace (10.252.<subnet>.<4k+1> there, <4k+2> on the
   * hidden node), so it can be reached only from that node (a jump host), never from the test process.
   */
  behind?: Record<number, number>;
  /** sshd's LogLevel per node index (default ERROR); the log is LabNode.log. */
  logLevel?: (i: number) => string;
  /** sshd's port per node index (default 22). */
  sshPort?: (i: number) => number;
}

export async function startLab(o: LabOptions): Promise<Lab> {
  if (!/^[a-z0-9]{1,5}$/.test(o.id)) throw new Error('lab id: 1-5 lowercase letters/digits');
  if (o.count > 240) throw new Error('at most 240 nodes per /24');
  cleanupPrefix(o.id);
  const dir = mkdtempSync(join(tmpdir(), `anc-${o.id}-`));
  chmodSync(dir, 0o755);
  const clientKey = join(dir, 'client_key');
  const sudoPassword = `pw-${randomBytes(9).toString('base64url')}`;
  const passwordHash = sh(['openssl', 'passwd', '-6', '-stdin'], sudoPassword).trim();
  sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'anchorage-test', '-f', clientKey]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const br = `anc-${o.id}-br`;
  const bridgeIp = `10.251.${o.subnet}.1`;
  sh(['ip', 'link', 'add', br, 'type', 'bridge']);
  sh(['ip', 'addr', 'add', `${bridgeIp}/24`, 'dev', br]);
  sh(['ip', 'link', 'set', br, 'up']);
  const nodes: LabNode[] = [];
  for (let i = 0; i < o.count; i++) {
    const ns = `anc-${o.id}-${i}`;
    const hidden = o.behind?.[i] !== undefined;
    const link = Object.keys(o.behind ?? {}).indexOf(String(i));
    const ip = hidden ? `10.252.${o.subnet}.${4 * link + 2}` : `10.251.${o.subnet}.${10 + i}`;
    const port = o.sshPort?.(i) ?? 22;
    const nd = join(dir, `n${i}`);
    mkdirSync(join(nd, 'fs'), { recursive: true });
    const hostKey = join(nd, 'host_key');
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    writeFileSync(join(nd, 'authorized_keys'), o.denyAuth?.includes(i) ? '' : readFileSync(`${clientKey}.pub`));
    writeFileSync(
      join(nd, 'sshd_config'),
      [
        `ListenAddress ${ip}:${port}`,
        `HostKey ${hostKey}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        `AuthorizedKeysFile ${join(nd, 'authorized_keys')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'AllowTcpForwarding yes',
        'MaxSessions 64',
        'MaxStartups 200:30:400',
        'Subsystem sftp internal-sftp',
        `LogLevel ${o.logLevel?.(i) ?? 'ERROR'}`,
        '',
      ].join('\n'),
    );
    const size = o.diskBytes?.(i) ?? 32 * 1024 * 1024;
    // The node's own file system view: a tmpfs with overlays of /etc and /var/lib (upper layers on it).
    writeFileSync(
      join(nd, 'start.sh'),
      [
        'set -e',
        `mount -t tmpfs -o size=${size},mode=0755 anc-${o.id}-${i} ${nd}/fs`,
        `mkdir -p ${nd}/fs/etc ${nd}/fs/etc.work ${nd}/fs/lib ${nd}/fs/lib.work`,
        `mount -t overlay overlay -o lowerdir=/etc,upperdir=${nd}/fs/etc,workdir=${nd}/fs/etc.work /etc`,
        `mount -t overlay overlay -o lowerdir=/var/lib,upperdir=${nd}/fs/lib,workdir=${nd}/fs/lib.work /var/lib`,
        // Non-root accounts on this node only (its own /etc/passwd, /etc/shadow, /etc/sudoers.d), all with
        // the password lab.sudoPassword: anc may not use sudo, ops may without a password, opsp with it.
        `grep -q '^anc:' /etc/passwd || { echo 'anc:x:4242:4242::/tmp:/bin/sh' >> /etc/passwd; echo 'anc:${passwordHash}:19000:0:99999:7:::' >> /etc/shadow; }`,
        "grep -q '^ops:' /etc/passwd || { echo 'ops:x:4243:4243::/tmp:/bin/sh' >> /etc/passwd; echo 'ops:*:19000:0:99999:7:::' >> /etc/shadow; }",
        `grep -q '^opsp:' /etc/passwd || { echo 'opsp:x:4244:4244::/tmp:/bin/sh' >> /etc/passwd; echo 'opsp:${passwordHash}:19000:0:99999:7:::' >> /etc/shadow; }`,
        "mkdir -p /etc/sudoers.d && printf 'ops ALL=(ALL:ALL) NOPASSWD: ALL\\nopsp ALL=(ALL:ALL) ALL\\n' > /etc/sudoers.d/anchorage-lab && chmod 0440 /etc/sudoers.d/anchorage-lab",
        // sudo's time stamps (/run/sudo) stay inside the node.
        `mkdir -p /run/sudo && mount -t tmpfs -o size=1m,mode=0711 anc-${o.id}-${i}-sudo /run/sudo`,
        `exec /usr/sbin/sshd -D -E ${nd}/sshd.log -f ${nd}/sshd_config`,
        '',
      ].join('\n'),
    );
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', 'link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    if (hidden) {
      // The root-namespace end moves into the jump node's namespace (created earlier: a lower index).
      const via = nodes[o.behind?.[i] as number];
      if (!via) throw new Error(`behind: node ${i} must sit behind a node with a lower index`);
      const end = `h${i}`;
      sh(['ip', 'link', 'set', ns, 'netns', via.ns]);
      sh(['ip', '-n', via.ns, 'link', 'set', ns, 'name', end]);
      sh(['ip', '-n', via.ns, 'addr', 'add', `10.252.${o.subnet}.${4 * link + 1}/30`, 'dev', end]);
      sh(['ip', '-n', via.ns, 'link', 'set', end, 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/30`, 'dev', 'eth0']);
    } else {
      sh(['ip', 'link', 'set', ns, 'master', br, 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    }
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const node: LabNode = { index: i, ns, ip, port, dir: nd, hostKey, log: join(nd, 'sshd.log') };
    if (hidden) node.via = nodes[o.behind?.[i] as number] as LabNode;
    nodes.push(node);
  }
  const others: ChildProcess[] = [];
  const lab: Lab = {
    id: o.id,
    dir,
    subnet: o.subnet,
    bridgeIp,
    clientKey,
    knownHosts: join(dir, 'known_hosts'),
    sudoPassword,
    nodes,
    path: (n, p) => `/proc/${n.pid}/root${p}`,
    knownHostsText: () =>
      nodes
        .map((n) => {
          const [type, key] = readFileSync(`${n.hostKey}.pub`, 'utf8').split(' ');
          return `${n.port === 22 ? n.ip : `[${n.ip}]:${n.port}`} ${type} ${key}\n`;
        })
        .join(''),
    async start(n) {
      const proc = spawn('ip', ['netns', 'exec', n.ns, 'unshare', '--mount', '--propagation', 'private', 'bash', join(n.dir, 'start.sh')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      proc.stderr?.on('data', (d: Buffer) => {
        if (err.length < 8192) err += d.toString();
      });
      n.proc = proc;
      // ip netns exec and unshare exec: the child's pid is sshd's (after start.sh's exec).
      n.pid = proc.pid as number;
      await Promise.race([
        n.via ? waitPortIn(n.via.ns, n.ip, n.port, 90_000) : waitPort(n.ip, n.port, 90_000),
        new Promise((_, reject) =>
          proc.once('exit', (c) => {
            let log = '';
            try {
              log = readFileSync(n.log, 'utf8').slice(-4096);
            } catch {}
            reject(new Error(`sshd on ${n.ns} exited (${c}): ${err}${log}`));
          }),
        ),
      ]);
    },
    async stop(n) {
      const p = n.proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((resolve) => p.once('exit', resolve));
      p.kill('SIGKILL');
      await gone;
      n.proc = undefined;
    },
    async rekey(n) {
      // sshd re-executes itself on SIGHUP (same pid, same mount namespace: the node keeps its files).
      rmSync(n.hostKey, { force: true });
      rmSync(`${n.hostKey}.pub`, { force: true });
      sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', n.hostKey]);
      const want = readFileSync(`${n.hostKey}.pub`, 'utf8').split(' ')[1] as string;
      process.kill(n.pid as number, 'SIGHUP');
      const deadline = Date.now() + 20_000;
      for (;;) {
        let seen = '';
        try {
          seen = execFileSync('ssh-keyscan', ['-T', '2', '-t', 'ed25519', '-p', String(n.port), n.ip], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          });
        } catch {}
        if (seen.includes(want)) return;
        if (Date.now() > deadline) throw new Error(`${n.ns}: sshd did not take its new host key`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exec(n, cmd, opts = {}) {
      return execFileSync('nsenter', ['-t', String(n.pid), '-n', '-m', '--', ...cmd], {
        encoding: 'utf8',
        input: opts.input ?? '',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    },
    spawnIn(n, cmd) {
      const p = spawn('nsenter', ['-t', String(n.pid), '-n', '-m', '--', ...cmd], { stdio: ['pipe', 'ignore', 'ignore'] });
      others.push(p);
      return p;
    },
    async close() {
      for (const p of others) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await Promise.all(nodes.map((n) => lab.stop(n)));
      cleanupPrefix(o.id);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Started a few at a time: sshd start-up is cheap, key exchange is not.
    for (let i = 0; i < nodes.length; i += 16) await Promise.all(nodes.slice(i, i + 16).map((n) => lab.start(n)));
    writeFileSync(lab.knownHosts, lab.knownHostsText(), { mode: 0o600 });
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}
