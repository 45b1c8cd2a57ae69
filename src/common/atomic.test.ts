import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../../test/support/temp.ts';
import { lockDir, removeStaleTemps, writeFileAtomic, writeFilesAtomic } from './atomic.ts';
import { InputError } from './errors.ts';

const tempDir = tempDirs();

const tmp = () => tempDir('atomic-');

describe('writeFilesAtomic', () => {
  it('writes with the exact mode whatever the umask, and leaves no temp', () => {
    const d = tmp();
    const old = process.umask(0o077);
    try {
      writeFilesAtomic([
        { path: join(d, 'a.crt'), data: 'cert', mode: 0o644 },
        { path: join(d, 'a.key'), data: 'key', mode: 0o600 },
      ]);
    } finally {
      process.umask(old);
    }
    expect(statSync(join(d, 'a.crt')).mode & 0o777).toBe(0o644);
    expect(statSync(join(d, 'a.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d).sort()).toEqual(['a.crt', 'a.key']);
  });

  it('refuses an existing file without overwrite and changes nothing', () => {
    const d = tmp();
    writeFileSync(join(d, 'b'), 'old');
    expect(() =>
      writeFilesAtomic([
        { path: join(d, 'a'), data: 'new' },
        { path: join(d, 'b'), data: 'new' },
      ]),
    ).toThrow(/already exists/);
    expect(readdirSync(d)).toEqual(['b']);
    expect(readFileSync(join(d, 'b'), 'utf8')).toBe('old');
  });

  it('refuses a directory target and a missing folder with one line, writing nothing', () => {
    const d = tmp();
    mkdirSync(join(d, 'dir'));
    expect(() =>
      writeFilesAtomic(
        [
          { path: join(d, 'x'), data: '1' },
          { path: join(d, 'dir'), data: '2' },
        ],
        { overwrite: true },
      ),
    ).toThrow(/is a directory/);
    expect(() =>
      writeFilesAtomic([
        { path: join(d, 'x'), data: '1' },
        { path: join(d, 'nope', 'y'), data: '2' },
      ]),
    ).toThrow(/cannot write .*nope\/y: directory does not exist/);
    expect(readdirSync(d)).toEqual(['dir']);
  });

  it('does not follow a planted symlink: the link is replaced, its target untouched', () => {
    const d = tmp();
    writeFileSync(join(d, 'victim'), 'precious');
    symlinkSync(join(d, 'victim'), join(d, 'out.key'));
    writeFileAtomic(join(d, 'out.key'), 'secret', 0o600);
    expect(readFileSync(join(d, 'victim'), 'utf8')).toBe('precious');
    expect(readFileSync(join(d, 'out.key'), 'utf8')).toBe('secret');
  });

  it('removeStaleTemps removes only our temp names', () => {
    const d = tmp();
    writeFileSync(join(d, '.ca.key.0123456789abcdef.tmp'), '');
    writeFileSync(join(d, '.keep.tmp'), '');
    expect(removeStaleTemps(d)).toEqual(['.ca.key.0123456789abcdef.tmp']);
    expect(readdirSync(d)).toEqual(['.keep.tmp']);
  });
});

describe('lockDir', () => {
  it('refuses a second holder while the first is alive and takes over a dead owner', () => {
    const d = tmp();
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(child.stdout.toString());
    writeFileSync(join(d, '.anchorage.lock'), `${deadPid}\n`);
    const l = lockDir(d);
    expect(readFileSync(join(d, '.anchorage.lock'), 'utf8').trim()).toBe(String(process.pid));
    // A live other owner: the parent of this process (vitest's main process) is alive.
    l.release();
    writeFileSync(join(d, '.anchorage.lock'), `${process.ppid}\n`);
    expect(() => lockDir(d)).toThrow(InputError);
    expect(() => lockDir(d)).toThrow(/in use by .*pid/);
  });
});
