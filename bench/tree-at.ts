// Another revision's code beside this tree's, for interleaved before/after runs in one bench (BENCH_WEBHOOK_BEFORE):
// `git archive <rev>` of bin/, src/ and package.json into a temporary folder (read-only for the repository: no
// checkout, no worktree), with this tree's node_modules linked in. Extracted once per commit.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The folder holding `rev`'s bin/, src/ and package.json (node_modules linked from this tree). */
export function treeAt(rev: string): string {
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `anchorage-tree-${commit}`);
  if (existsSync(join(dir, 'src'))) {
    // Extracted earlier, maybe from another checkout whose node_modules is gone: link this tree's.
    const link = join(dir, 'node_modules');
    if (!existsSync(link) || realpathSync(link) !== realpathSync(join(ROOT, 'node_modules'))) {
      rmSync(link, { force: true });
      symlinkSync(join(ROOT, 'node_modules'), link);
    }
    return dir;
  }
  const part = `${dir}.${process.pid}`;
  rmSync(part, { recursive: true, force: true });
  mkdirSync(part, { recursive: true });
  const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', commit, 'bin', 'src', 'package.json'], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', part], { input: tar });
  symlinkSync(join(ROOT, 'node_modules'), join(part, 'node_modules'));
  try {
    renameSync(part, dir);
  } catch {
    rmSync(part, { recursive: true, force: true }); // another process extracted it meanwhile
  }
  return dir;
}
