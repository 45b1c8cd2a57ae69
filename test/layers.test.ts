// The layer rule (.dependency-cruiser.ts, run by `npm run lint`): the real tree passes, and each kind of
// forbidden import fails, shown on a copy of the real tree and on a small tree with one case per rule.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../.dependency-cruiser.ts';

const root = join(import.meta.dirname, '..');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');
const config = join(root, '.dependency-cruiser.ts');
const tmp = mkdtempSync(join(tmpdir(), 'anchorage-layers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cruise(cwd: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(node, [depcruise, '--config', config, 'src', ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}
const violations = (jsonOut: string): Violation[] => JSON.parse(jsonOut.slice(jsonOut.indexOf('{'))).summary.violations;

/** A folder with `files` written under it, the real package.json and a link to the real node_modules (for npm imports). */
function tree(name: string, files: Record<string, string>, pkg = readFileSync(join(root, 'package.json'), 'utf8')): string {
  const dir = join(tmp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(join(dir, 'package.json'), pkg);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

describe('the layer rule on the real tree', () => {
  it('npm run lint runs it, and npm test runs lint', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.lint).toMatch(/(^|&& )depcruise src( |$)/);
    expect(scripts.test).toContain('npm run lint');
  });

  it('every src/ folder has a layer, and docs/architecture.md names each', () => {
    const listed = LAYERS.flatMap((l) => l.folders);
    const present = readdirSync(join(root, 'src'), { withFileTypes: true });
    expect(present.filter((e) => !e.isDirectory()).map((e) => e.name)).toEqual([]);
    expect(present.map((e) => e.name).filter((f) => !listed.includes(f))).toEqual([]);
    const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    for (const f of listed) expect(doc, f).toContain(`src/${f}`);
  });

  it('passes: exit 0, no violation', () => {
    const r = cruise(root);
    expect(r.out).toContain('no dependency violations found');
    expect(r.code, r.out).toBe(0);
  });

  it('fails on one upward import added to a copy of the real tree, naming the rule and the import', () => {
    const dir = tree('copy', { 'src/x509/upward.ts': "export { buildPlan } from '../pki/plan.ts';\n" });
    for (const d of ['src', 'test', 'bench']) cpSync(join(root, d), join(dir, d), { recursive: true, force: false, errorOnExist: false });
    const r = cruise(dir);
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain('error layer-x509: src/x509/upward.ts → src/pki/plan.ts');
    expect(r.out.match(/error layer-/g)).toHaveLength(1);
  });
});

describe('the layer rule, one case per rule', () => {
  // Allowed: each layer importing lower ones, a type-only cycle, live parts importing each other, tests
  // importing anything, a command importing shared CLI code and its own sub-modules.
  const allowed: Record<string, string> = {
    'src/common/errors.ts': 'export const E = 1;\n',
    'src/x509/der.ts': "import { E } from '../common/errors.ts';\nexport const D = E;\n",
    'src/trust/verify.ts': "import { E } from '../common/errors.ts';\nimport { D } from '../x509/der.ts';\nexport const V = D + E;\n",
    'src/k8s/roles.ts': "import { D } from '../x509/der.ts';\nexport const R = D;\n",
    'src/pki/plan.ts':
      "import { parse } from 'yaml';\nimport { R } from '../k8s/roles.ts';\nimport { V } from '../trust/verify.ts';\nexport const P = R + V + Number(parse('1'));\n",
    'src/lint/types.ts': "import type { Policy } from './policy.ts';\nexport type T = Policy;\nexport const S = 1;\n",
    'src/lint/policy.ts': "import { S } from './types.ts';\nexport type Policy = { s: number };\nexport const Q = S;\n",
    'src/lint/engine.test.ts':
      "import { expect } from 'vitest';\nimport { K } from '../../test/support/kit.ts';\nimport { M } from '../cli/main.ts';\nexpect(K + M).toBe(2);\n",
    'src/inventory/read.ts': "import { R } from '../k8s/roles.ts';\nexport const I = R;\n",
    'src/store/db.ts': "import { P } from '../pki/plan.ts';\nexport const DB = P;\n",
    'src/server/http.ts': "import { DB } from '../store/db.ts';\nexport const H = DB;\n",
    'src/cli/output.ts': 'export const O = 1;\n',
    'src/cli/commands/a.ts': "import { O } from '../output.ts';\nexport const A = O;\n",
    'src/cli/commands/b/index.ts': "import { O } from '../../output.ts';\nimport { B2 } from './part.ts';\nexport const B = O + B2;\n",
    'src/cli/commands/b/part.ts': 'export const B2 = 1;\n',
    'src/cli/main.ts':
      "import { H } from '../server/http.ts';\nimport { I } from '../inventory/read.ts';\nimport { Q } from '../lint/policy.ts';\nimport { A } from './commands/a.ts';\nimport { B } from './commands/b/index.ts';\nexport const M = A + B + H + I + Q;\n",
    'src/tui/main.ts': "import { H } from '../server/http.ts';\nexport const U = H;\n",
    'test/support/kit.ts': 'export const K = 1;\n',
    'bench/x.bench.ts': 'export const X = 1;\n',
  };
  const pkg = JSON.stringify({ name: 'fixture', type: 'module', dependencies: { yaml: '*' }, devDependencies: { vitest: '*' } });

  it('a tree of allowed imports passes', () => {
    const r = cruise(tree('allowed', allowed, pkg));
    expect(r.out).toContain('no dependency violations found');
    expect(r.code, r.out).toBe(0);
  });

  it('each forbidden import is reported under its rule, and nothing else', () => {
    const forbidden: Record<string, string> = {
      // upward, in every form an import takes
      'src/x509/up.ts': "import '../pki/plan.ts';\n",
      'src/common/up-type.ts': "import type { M } from '../cli/main.ts';\nexport type X = typeof M;\n",
      'src/k8s/up-export.ts': "export { I } from '../inventory/read.ts';\n",
      'src/store/up-dynamic.ts': "export const m = await import('../cli/output.ts');\n",
      // sideways on one layer
      'src/trust/peer.ts': "import { R } from '../k8s/roles.ts';\nexport const x = R;\n",
      'src/pki/peer.ts': "import { Q } from '../lint/policy.ts';\nexport const x = Q;\n",
      'src/cli/peer.ts': "import { U } from '../tui/main.ts';\nexport const x = U;\n",
      // a folder without a layer, a file directly in src/, and an import of them
      'src/newfolder/x.ts': "import { E } from '../common/errors.ts';\nexport const N = E;\n",
      'src/top.ts': "import { E } from './common/errors.ts';\nexport const T = E;\n",
      'src/cli/uses-new.ts': "import { N } from '../newfolder/x.ts';\nexport const x = N;\n",
      // product code using test code or benchmarks
      'src/k8s/kit.ts': "import { K } from '../../test/support/kit.ts';\nexport const x = K;\n",
      'src/x509/bench.ts': "import { X } from '../../bench/x.bench.ts';\nexport const x = X;\n",
      'src/lint/uses-test.ts': "import './engine.test.ts';\n",
      // one CLI command importing another (a file, and another command's sub-module)
      'src/cli/commands/c.ts': "import { A } from './a.ts';\nexport const C = A;\n",
      'src/cli/commands/d.ts': "import { B2 } from './b/part.ts';\nexport const D = B2;\n",
      // a run-time cycle
      'src/inventory/one.ts': "import { TWO } from './two.ts';\nexport const ONE = () => TWO;\n",
      'src/inventory/two.ts': "import { ONE } from './one.ts';\nexport const TWO = () => ONE;\n",
      // a devDependency (not installed with the package), an import naming no file
      'src/monitor/dev.ts': "import { expect } from 'vitest';\nexport const x = expect;\n",
      'src/ca/missing.ts': "import './nope.ts';\n",
      // product code no program uses (only a test does)
      'src/trust/test-only.ts': 'export const T = 1;\n',
      'src/trust/test-only.test.ts': "import { T } from './test-only.ts';\nexport const x = T;\n",
    };
    // The program uses every other new file, so that each is reported for its own fault only.
    const unused = ['src/newfolder/x.ts', 'src/top.ts', 'src/trust/test-only.ts', 'src/trust/test-only.test.ts'];
    forbidden['src/cli/main.ts'] = `${allowed['src/cli/main.ts']}${Object.keys(forbidden)
      .filter((f) => !unused.includes(f))
      .map((f) => `import './${relative('src/cli', f)}';\n`)
      .join('')}`;
    const r = cruise(tree('forbidden', { ...allowed, ...forbidden }, pkg), '--output-type', 'json');
    const found = violations(r.out).map((v) => `${v.rule.name}: ${v.from} -> ${v.to.replace(/^node_modules\/([^/]+)\/.*/, '$1')}`);
    expect(found.sort()).toEqual(
      [
        'layer-x509: src/x509/up.ts -> src/pki/plan.ts',
        'layer-common: src/common/up-type.ts -> src/cli/main.ts',
        'layer-k8s: src/k8s/up-export.ts -> src/inventory/read.ts',
        'layer-store: src/store/up-dynamic.ts -> src/cli/output.ts',
        'layer-trust: src/trust/peer.ts -> src/k8s/roles.ts',
        'layer-pki: src/pki/peer.ts -> src/lint/policy.ts',
        'layer-cli: src/cli/peer.ts -> src/tui/main.ts',
        'layer-unlisted: src/newfolder/x.ts -> src/common/errors.ts',
        'layer-unlisted: src/top.ts -> src/common/errors.ts',
        'layer-cli: src/cli/uses-new.ts -> src/newfolder/x.ts',
        'product-imports-test-or-bench: src/k8s/kit.ts -> test/support/kit.ts',
        'product-imports-test-or-bench: src/x509/bench.ts -> bench/x.bench.ts',
        'product-imports-test-or-bench: src/lint/uses-test.ts -> src/lint/engine.test.ts',
        'cli-command-imports-command: src/cli/commands/c.ts -> src/cli/commands/a.ts',
        'cli-command-imports-command: src/cli/commands/d.ts -> src/cli/commands/b/part.ts',
        'product-cycle: src/inventory/one.ts -> src/inventory/two.ts',
        'product-imports-dev-dependency: src/monitor/dev.ts -> vitest',
        'unresolvable: src/ca/missing.ts -> ./nope.ts',
        'product-unreachable: src/trust/test-only.ts -> src/trust/test-only.ts',
        'product-unreachable: src/top.ts -> src/top.ts',
      ].sort(),
    );
  });
});
