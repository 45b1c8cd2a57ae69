// A throw-away PostgreSQL server for tests: Debian's postgresql (installed by test/deps.sh), a cluster
// initialised in a temp folder as the `postgres` user (the server refuses to run as root), listening on
// loopback only, on a free port, trust authentication. stop() ends it (fast shutdown by default; immediate:
// no checkpoint, crash recovery at the next start), freeze() stops every process of it (SIGSTOP: sockets
// stay open, nothing answers, as a hung host), remove() ends it and removes the folder.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fatal, freePort, waitFor } from '../cluster/harness.ts';

export interface Postgres {
  url: string;
  port: number;
  /**
   * Stop the server; the data folder stays until remove(). `fast` (SIGINT): backends are told to end
   * and say so to their clients; `immediate` (SIGQUIT): every process quits at once.
   */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** SIGSTOP the postmaster and every backend: connections stay open and nothing answers. */
  freeze(): void;
  /** SIGCONT what freeze() stopped. */
  thaw(): void;
  /** Start it again on the same port and data. */
  start(): Promise<void>;
  /** Stop, and remove the data folder. */
  remove(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  throw new Error('PostgreSQL is not installed: run bash test/deps.sh');
}

/** `prefix` names the temp folder (use the helper or test name). */
export async function startPostgres(prefix = 'anchorage-pg'): Promise<Postgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  // As root, run as the `postgres` user the Debian package creates (spawn's uid/gid: no wrapper
  // process between us and the server, so signals reach it).
  let ids: { uid: number; gid: number } | Record<string, never> = {};
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    ids = { uid, gid };
  }
  const data = join(dir, 'data');
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'anchorage', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    cwd: dir,
    ...ids,
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  let child: ReturnType<typeof spawn> | undefined;
  let log = '';
  const start = async () => {
    const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=100'];
    const p = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...ids });
    child = p;
    p.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    await waitFor(
      `postgres on ${port}`,
      () => {
        if (p.exitCode !== null) throw new Fatal(`postgres exited: ${log}`);
        return spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0;
      },
      60_000,
      100,
    );
  };
  // The postmaster and its children (backends, checkpointer, …), from /proc.
  const tree = (): number[] => {
    const root = child?.pid;
    if (root === undefined || child?.exitCode !== null) return [];
    const out = [root];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === root) out.push(Number(e));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  };
  let frozen: number[] = [];
  const signal = (pids: number[], sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  };
  const thaw = (): void => {
    signal(frozen, 'SIGCONT');
    frozen = [];
  };
  const freeze = (): void => {
    // The postmaster first: it forks no new backend after that.
    const root = tree().slice(0, 1);
    signal(root, 'SIGSTOP');
    const rest = tree().slice(1);
    signal(rest, 'SIGSTOP');
    frozen = [...frozen, ...root, ...rest];
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    thaw();
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
    await done;
  };
  await start();
  const url = `postgres://anchorage@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    stop,
    freeze,
    thaw,
    start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
