// What makes `.ci/run` pass on a fresh machine the first time: scripts without pipe races, the Go build only
// where a test needs it, and no documented knob that nothing reads.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };

/** Repository files under `folders` (node_modules, .git and test fixtures left out) whose name passes `keep`. */
function files(folders: string[], keep: (name: string) => boolean): string[] {
  return folders.flatMap((folder) =>
    readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && keep(e.name))
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
      .filter((p) => !/(^|\/)(node_modules|\.git|fixtures)\//.test(p)),
  );
}

const shellScripts = ['.ci/run', ...files(['test', 'bench', 'scripts'], (n) => n.endsWith('.sh'))];
const codeLines = (text: string): string[] => text.split('\n').filter((l) => !/^\s*#/.test(l));

describe('scripts', () => {
  it('every shell script stops at the first failure, pipes included', () => {
    expect(shellScripts.length).toBeGreaterThan(2);
    for (const s of shellScripts) expect(read(s), s).toMatch(/^set -euo pipefail$/m);
  });

  // Under pipefail, `producer | grep -q …` fails when grep exits at its first match and the producer's next
  // write gets SIGPIPE: it depends on timing. Capture the output, then match.
  it('no pipe into a reader that may stop early (grep -q/-m, head, sed q) in scripts or npm scripts', () => {
    const early = /\|\s*(grep\b[^|]*\s-[a-zA-Z]*[qm]|head\b|sed\b[^|]*[;'{]\s*q\b)/;
    for (const s of shellScripts) {
      for (const line of codeLines(read(s))) expect(line, `${s}: ${line}`).not.toMatch(early);
    }
    for (const [name, script] of Object.entries(pkg.scripts)) expect(script, `npm script ${name}`).not.toMatch(early);
  });

  it('apt-get installs only after apt-get update, in the same script', () => {
    for (const s of shellScripts) {
      const text = codeLines(read(s)).join('\n');
      const install = text.search(/apt-get\s+(-\S+\s+)*install/);
      if (install >= 0) expect(text.slice(0, install), s).toMatch(/apt-get\s+(-\S+\s+)*update/);
    }
  });
});

describe('the Kubernetes build runs only for the tests that use it', () => {
  it('npm test does not build it first: pretest only installs the oracles', () => {
    expect(pkg.scripts.pretest).toBe('bash test/deps.sh');
    expect(pkg.scripts.test).not.toContain('build.sh');
  });

  it('test/support/k8s.ts is the one place that runs test/k8s/build.sh', () => {
    const callers = files(['src', 'test', 'bench'], (n) => n.endsWith('.ts'))
      .filter((f) => f !== 'test/ci.test.ts')
      .filter((f) => /k8s\/build\.sh|'k8s', 'build\.sh'/.test(read(f).replace(/^\s*(\/\/|\/?\*).*$/gm, '')));
    expect(callers).toEqual(['test/support/k8s.ts']);
  });
});

describe('environment variables', () => {
  it('every ANCHORAGE_* variable the docs, tests or scripts name is read by something', () => {
    const texts = ['README.md', ...files(['docs', 'test', 'bench', 'src'], (n) => /\.(md|ts|sh)$/.test(n)), ...shellScripts].map((f) => ({
      f,
      text: read(f),
    }));
    const named = new Set(texts.flatMap(({ text }) => text.match(/\bANCHORAGE_[A-Z0-9_]+/g) ?? []));
    const readers = (v: string): string[] =>
      texts
        .filter(({ f, text }) =>
          f.endsWith('.sh') || f === '.ci/run'
            ? codeLines(text).some((l) => new RegExp(`\\$\\{?${v}\\b`).test(l))
            : f.endsWith('.ts') && new RegExp(`process\\.env\\.${v}\\b|process\\.env\\[['"]${v}['"]\\]`).test(text),
        )
        .map(({ f }) => f);
    expect(named.size).toBeGreaterThan(0);
    for (const v of named) expect(readers(v), `${v} is named but never read`).not.toEqual([]);
  });
});
