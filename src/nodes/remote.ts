// File operations on a node over SFTP. Every write is atomic on the node: an exclusive temp file in the
// target's own directory (0600 from its creation), written, fsynced (fsync@openssh.com), given its owner
// and mode, then renamed over the target (posix-rename@openssh.com). A killed push leaves the old file or
// the new one, never a mix; leftover temps carry TEMP_MARK and the next run removes them.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper, Stats } from 'ssh2';
import { NodeError } from './ssh.ts';

/** Every temp file a push creates on a node: `.<name>.anchorage-<16 hex>.tmp`. */
export const TEMP_RE = /^\..+\.anchorage-[0-9a-f]{16}\.tmp$/;
/** Budget for one file read from a node (certificates, keys, kubeconfigs are far smaller). */
export const MAX_REMOTE_FILE = 4 * 1024 * 1024;
/** Budget for one directory listing on a node. */
export const MAX_DIR_ENTRIES = 100_000;

const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
const SFTP_FAILURE = 4;

export interface RemoteStat {
  size: number;
  mode: number;
  uid: number;
  gid: number;
  isFile: boolean;
  isDir: boolean;
  isLink: boolean;
}

function toStat(s: Stats): RemoteStat {
  return {
    size: s.size,
    mode: s.mode & 0o7777,
    uid: s.uid,
    gid: s.gid,
    isFile: s.isFile(),
    isDir: s.isDirectory(),
    isLink: s.isSymbolicLink(),
  };
}

/** One line for an SFTP failure on a path. */
function fail(op: string, path: string, e: unknown): NodeError {
  if (e instanceof NodeError) return e;
  const err = e as Error & { code?: number };
  if (err.code === PERMISSION_DENIED) return new NodeError(`permission denied: ${op} ${path}`);
  if (err.code === NO_SUCH_FILE) return new NodeError(`no such file: ${op} ${path}`);
  return new NodeError(`${op} ${path}: ${err.message}`);
}

/** How long one SFTP request may go unanswered: a node whose sftp-server hangs (a stuck disk) fails, not the run. */
export const SFTP_OP_MS = 120_000;

export class Remote {
  readonly sftp: SFTPWrapper;
  private readonly opMs: number;
  constructor(sftp: SFTPWrapper, o: { opMs?: number } = {}) {
    this.sftp = sftp;
    this.opMs = o.opMs ?? SFTP_OP_MS;
  }

  /** One SFTP request as a promise, bounded by opMs (the request is abandoned; the caller fails that node). */
  private p<T>(f: (cb: (err: Error | undefined | null, v: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      // Not unref'd: a request whose connection died without a word must end in this error, not in a
      // process that exits with the promise unsettled (exit 13).
      const timer = setTimeout(() => reject(new Error(`no answer from the node within ${this.opMs / 1000} s`)), this.opMs);
      f((err, v) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(v);
      });
    });
  }

  async lstat(path: string): Promise<RemoteStat | null> {
    try {
      return toStat(await this.p<Stats>((cb) => this.sftp.lstat(path, cb)));
    } catch (e) {
      if ((e as { code?: number }).code === NO_SUCH_FILE) return null;
      throw fail('lstat', path, e);
    }
  }

  async stat(path: string): Promise<RemoteStat | null> {
    try {
      return toStat(await this.p<Stats>((cb) => this.sftp.stat(path, cb)));
    } catch (e) {
      if ((e as { code?: number }).code === NO_SUCH_FILE) return null;
      throw fail('stat', path, e);
    }
  }

  /** A regular file's bytes, or null when absent; symlinks are followed (kubelet's *-current.pem). */
  async read(path: string, max = MAX_REMOTE_FILE): Promise<Buffer | null> {
    const st = await this.stat(path);
    if (!st) return null;
    if (!st.isFile) throw new NodeError(`${path} is not a regular file`);
    if (st.size > max) throw new NodeError(`too large: ${path} is ${st.size} bytes (budget ${max})`);
    try {
      return await this.p<Buffer>((cb) => this.sftp.readFile(path, cb as never));
    } catch (e) {
      throw fail('read', path, e);
    }
  }

  /** Regular files and symlinks directly in `dir` (not recursive); [] when the folder is absent. */
  async list(dir: string): Promise<{ name: string; path: string; stat: RemoteStat }[]> {
    let names: { filename: string; attrs: Stats }[];
    try {
      names = await this.p((cb) => this.sftp.readdir(dir, cb as never));
    } catch (e) {
      if ((e as { code?: number }).code === NO_SUCH_FILE) return [];
      throw fail('list', dir, e);
    }
    if (names.length > MAX_DIR_ENTRIES) throw new NodeError(`too large: ${dir} has over ${MAX_DIR_ENTRIES} entries`);
    return names
      .filter((n) => n.filename !== '.' && n.filename !== '..')
      .map((n) => ({ name: n.filename, path: posix.join(dir, n.filename), stat: toStat(n.attrs) }))
      .filter((n) => n.stat.isFile || n.stat.isLink);
  }

  /** Create `dir` and its missing parents (root-owned, `mode`). */
  async mkdirp(dir: string, mode = 0o755): Promise<void> {
    const st = await this.stat(dir);
    if (st?.isDir) return;
    if (st) throw new NodeError(`${dir} exists and is not a folder`);
    const parent = posix.dirname(dir);
    if (parent !== dir) await this.mkdirp(parent, mode);
    try {
      await this.p<void>((cb) => this.sftp.mkdir(dir, { mode }, cb as never));
    } catch (e) {
      const again = await this.stat(dir).catch(() => null);
      if (again?.isDir) return; // made by a parallel write in the same folder
      throw await this.failure('mkdir', dir, e);
    }
  }

  async remove(path: string): Promise<void> {
    try {
      await this.p<void>((cb) => this.sftp.unlink(path, cb as never));
    } catch (e) {
      if ((e as { code?: number }).code === NO_SUCH_FILE) return;
      throw fail('remove', path, e);
    }
  }

  async freeBytes(path: string): Promise<number | null> {
    try {
      const v = await this.p<{ f_bavail: number; f_frsize: number; f_bsize: number }>((cb) =>
        this.sftp.ext_openssh_statvfs(path, cb as never),
      );
      return v.f_bavail * (v.f_frsize || v.f_bsize);
    } catch {
      return null;
    }
  }

  /** The error for a failed write-like operation: SFTP says only "Failure" for ENOSPC, so ask the file system. */
  private async failure(op: string, path: string, e: unknown, need = 0): Promise<NodeError> {
    if (!(e instanceof NodeError) && (e as { code?: number }).code === SFTP_FAILURE) {
      const free = await this.freeBytes(posix.dirname(path));
      if (free !== null && free < need + 64 * 1024) return new NodeError(`no space left on device: ${op} ${path} (${free} bytes free)`);
    }
    return fail(op, path, e);
  }

  /** Write `data` to `path` atomically with `mode` (and owner uid:gid when given). */
  async writeAtomic(path: string, data: Uint8Array, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
    const dir = posix.dirname(path);
    const tmp = posix.join(dir, `.${posix.basename(path)}.anchorage-${randomBytes(8).toString('hex')}.tmp`);
    let handle: Buffer | undefined;
    try {
      // 'wx': O_CREAT|O_EXCL, so a planted file or symlink at the temp name is never written through.
      handle = await this.p<Buffer>((cb) => this.sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
      let off = 0;
      while (off < data.length) {
        const n = Math.min(32 * 1024, data.length - off);
        const at = off;
        await this.p<void>((cb) =>
          this.sftp.write(handle as Buffer, Buffer.from(data.buffer, data.byteOffset + at, n), 0, n, at, cb as never),
        );
        off += n;
      }
      await this.p<void>((cb) => this.sftp.ext_openssh_fsync(handle as Buffer, cb as never));
      if (owner) await this.p<void>((cb) => this.sftp.fchown(handle as Buffer, owner.uid, owner.gid, cb as never));
      await this.p<void>((cb) => this.sftp.fchmod(handle as Buffer, mode, cb as never));
      const h = handle;
      handle = undefined;
      await this.p<void>((cb) => this.sftp.close(h, cb as never));
      await this.p<void>((cb) => this.sftp.ext_openssh_rename(tmp, path, cb as never));
    } catch (e) {
      if (handle) await this.p<void>((cb) => this.sftp.close(handle as Buffer, cb as never)).catch(() => undefined);
      await this.remove(tmp).catch(() => undefined);
      throw await this.failure('write', path, e, data.length);
    }
  }

  /** Remove leftover push temps in `dir`; returns their paths. */
  async removeTemps(dir: string): Promise<string[]> {
    const gone: string[] = [];
    for (const f of await this.list(dir))
      if (TEMP_RE.test(f.name)) {
        await this.remove(f.path);
        gone.push(f.path);
      }
    return gone;
  }
}
