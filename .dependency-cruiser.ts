// The layer rule, checked by `npm run lint` (part of `npm test`): `depcruise src`.
// A module imports only its own folder and the layers below it; an import of a higher layer, of a
// folder on the same layer (except among the live parts), of an unlisted folder, of test/ or bench/,
// or of one CLI command from another fails, and so do a run-time import cycle, a devDependency in
// product code and a product module no program uses. Tests (*.test.ts) are exempt: they may test any layer.
// The table is documented in docs/architecture.md; test/layers.test.ts proves each rule fires.
import type { IConfiguration, IForbiddenRuleType } from 'dependency-cruiser';

/** src/ folders, lowest layer first. Folders on one layer are independent, except where `peers` says otherwise. */
export const LAYERS: { folders: string[]; peers: boolean }[] = [
  { folders: ['common'], peers: false }, // errors, atomic file writes
  { folders: ['x509'], peers: false }, // the X.509 toolkit
  { folders: ['trust', 'k8s'], peers: false }, // path validation; Kubernetes domain knowledge
  { folders: ['pki', 'lint', 'inventory'], peers: false }, // cluster PKI; lint catalog; reading inputs
  { folders: ['nodes', 'bundles', 'webhook', 'monitor', 'ca', 'store', 'server', 'scan', 'kube'], peers: true }, // the live parts; scan: inventory + lint + trust; kube: the controller runtime they share
  { folders: ['cli', 'tui'], peers: false }, // user interfaces
];

const TEST = '\\.test\\.ts$';
/** The programs: the user interfaces' entry points. */
const PROGRAMS = `^src/(${LAYERS.at(-1)?.folders.join('|')})/main[.]ts$`;
const alt = (folders: string[]): string => `^src/(${folders.join('|')})/`;

const layerRules: IForbiddenRuleType[] = LAYERS.flatMap((layer, i) =>
  layer.folders.map((folder) => {
    const below = LAYERS.slice(0, i).flatMap((l) => l.folders);
    const allowed = [...below, ...(layer.peers ? layer.folders : [folder])];
    return {
      name: `layer-${folder}`,
      comment: `src/${folder} may import only ${allowed.map((f) => `src/${f}`).join(', ')}`,
      severity: 'error',
      from: { path: `^src/${folder}/`, pathNot: TEST },
      to: { path: '^src/', pathNot: alt(allowed) },
    } satisfies IForbiddenRuleType;
  }),
);

const config: IConfiguration = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unlisted',
      comment: 'every product module lives in a src/ folder listed in LAYERS (.dependency-cruiser.ts)',
      severity: 'error',
      from: { path: '^src/', pathNot: [alt(LAYERS.flatMap((l) => l.folders)), TEST] },
      to: {},
    },
    {
      name: 'product-imports-test-or-bench',
      comment: 'src/ is product code: test-only code lives in test/support/, benchmarks in bench/',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST },
      to: { path: ['^test/', '^bench/', TEST] },
    },
    {
      name: 'cli-command-imports-command',
      comment: 'each src/cli/commands/* is independent: shared CLI code lives in src/cli/ beside them',
      severity: 'error',
      from: { path: '^src/cli/commands/([^/.]+)', pathNot: TEST },
      to: { path: '^src/cli/commands/', pathNot: '^src/cli/commands/$1([.]ts$|/)' },
    },
    {
      name: 'product-cycle',
      comment: 'product modules form no import cycle at run time (type-only imports erase, so they may close one)',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST },
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { pathNot: TEST, dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'product-imports-dev-dependency',
      comment: 'the published package installs only `dependencies`',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST },
      to: { dependencyTypes: ['npm-dev', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'product-unreachable',
      comment: 'every product module serves a program (src/cli/main.ts, src/tui/main.ts): test-only code lives in test/support/',
      severity: 'error',
      from: { path: PROGRAMS },
      to: { path: '^src/', pathNot: [TEST, PROGRAMS], reachable: false },
    },
    {
      name: 'unresolvable',
      comment: 'an import that names no file',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript 7 has no JavaScript API for dependency-cruiser to parse with; swc parses the sources as
    // written, type-only imports included.
    parser: 'swc',
    doNotFollow: { path: ['node_modules', '^test/', '^bench/'] },
    moduleSystems: ['es6'],
    // A worktree may link node_modules from elsewhere: name packages by where they are found.
    preserveSymlinks: true,
    // Packages whose `exports` offer only `default` (ink) resolve too.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'] },
  },
};

export default config;
