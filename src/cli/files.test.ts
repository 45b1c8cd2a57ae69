// walkInputs reads each file once, in the walk's order (names sorted, symbolic links followed, dot names
// skipped), whether the file has one name, several (hard links), or is reached through symbolic links met
// before or after its own name. The expected lists are written out by hand from those rules.
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkInputs, walkInputs } from './files.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-walk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const walk = (paths: string[]): string[] => [...walkInputs(paths)].map((f) => f.path.slice(dir.length + 1));

describe('walkInputs: each file once', () => {
  it('symbolic links to files met before and after the file, hard links, links out of the tree and to dot names', () => {
    const t = join(dir, 't');
    mkdirSync(join(t, 'b'), { recursive: true });
    mkdirSync(join(t, 'd'));
    mkdirSync(join(dir, 'outside'));
    for (const f of ['b/late.pem', 'b/early.pem', 'b/.hidden.pem', 'd/hard.pem', 'z.pem']) writeFileSync(join(t, f), f);
    writeFileSync(join(dir, 'outside', 'far.pem'), 'far');
    linkSync(join(t, 'd', 'hard.pem'), join(t, 'd', 'hard-2.pem'));
    // a/ is listed before b/: its links reach b's files before b's own listing does.
    mkdirSync(join(t, 'a'));
    symlinkSync(join(t, 'b', 'late.pem'), join(t, 'a', 'to-late.pem'));
    symlinkSync(join(t, 'b', '.hidden.pem'), join(t, 'a', 'to-hidden.pem'));
    symlinkSync(join(dir, 'outside', 'far.pem'), join(t, 'a', 'to-far.pem'));
    symlinkSync(join(dir, 'outside', 'far.pem'), join(t, 'a', 'to-far-2.pem'));
    // c/ is listed after b/: its link reaches a file b's listing read already.
    mkdirSync(join(t, 'c'));
    symlinkSync(join(t, 'b', 'early.pem'), join(t, 'c', 'to-early.pem'));
    // b/ itself links to a file it lists later, and to one it listed earlier.
    symlinkSync(join(t, 'z.pem'), join(t, 'b', 'm-to-z.pem'));
    symlinkSync(join(t, 'b', 'early.pem'), join(t, 'b', 'n-to-early.pem'));
    // z.pem's directory (t) is being listed when b/m-to-z.pem is met, and z.pem comes later in it.
    // In a/, 'to-far-2.pem' sorts before 'to-far.pem' ('-' < '.'): the second link to far.pem is not read.
    expect(walk([t])).toEqual([
      't/a/to-far-2.pem',
      't/a/to-hidden.pem',
      't/a/to-late.pem',
      't/b/early.pem',
      't/b/m-to-z.pem',
      't/d/hard-2.pem',
    ]);
  });

  it('a file named on the command line is read, and not again in its directory', () => {
    const u = join(dir, 'u');
    mkdirSync(u);
    writeFileSync(join(u, 'one.pem'), 'one');
    writeFileSync(join(u, 'two.pem'), 'two');
    expect(walk([join(u, 'two.pem'), u])).toEqual(['u/two.pem', 'u/one.pem']);
    symlinkSync(join(u, 'one.pem'), join(dir, 'to-one.pem'));
    expect(walk([join(dir, 'to-one.pem'), u])).toEqual(['to-one.pem', 'u/two.pem']);
  });
});

describe('walkInputs: reused buffers and the dry walk', () => {
  it('with reuse, each file read is its own bytes while the caller looks one file ahead', () => {
    const r = join(dir, 'reuse');
    mkdirSync(join(r, 'sub'), { recursive: true });
    const names = ['a.pem', 'b.pem', 'c.pem', 'sub/d.pem', 'sub/e.pem'];
    for (const [i, f] of names.entries()) writeFileSync(join(r, f), `file ${f} `.repeat(i * 50 + 1));
    const walk = walkInputs([r], { reuse: true });
    let cur = walk.next();
    const seen: string[] = [];
    while (!cur.done) {
      const next = walk.next();
      const f = cur.value;
      expect(f.data).toBeDefined();
      seen.push(`${f.path.slice(r.length + 1)}=${Buffer.from(f.data as Uint8Array).toString()}`);
      cur = next;
    }
    expect(seen).toEqual(names.map((f, i) => `${f}=${`file ${f} `.repeat(i * 50 + 1)}`));
  });

  it('checkInputs throws what the walk throws, without reading files met in a directory', () => {
    const c = join(dir, 'check');
    mkdirSync(c);
    for (let i = 0; i < 5; i++) writeFileSync(join(c, `${i}.pem`), 'x');
    const none = join(dir, 'no-such-file.pem');
    const stdin = (): Uint8Array => new Uint8Array(0);
    expect(() => [...walkInputs([c, none])]).toThrow(/no-such-file\.pem: no such file or directory/);
    expect(() => checkInputs([c, none], stdin)).toThrow(/no-such-file\.pem: no such file or directory/);
    expect(() => [...walkInputs([c], { maxEntries: 4 })]).toThrow(/too large: more than 4 directory entries/);
    expect(() => checkInputs([c], stdin, 4)).toThrow(/too large: more than 4 directory entries/);
    expect(() => checkInputs([c], stdin, 5)).not.toThrow();
  });
});
