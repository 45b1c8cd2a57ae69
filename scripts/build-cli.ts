// `npm run build:cli`: the CLI bundled with rolldown into .bundle/cli/ (a few files instead of ~215 modules),
// which bin/anchorage.js runs for `anchorage pki …` in a checkout while every file it was built from is
// unchanged (.bundle/inputs.json: path, size and mtime of each), and the TypeScript sources otherwise.
// Start-up of a one-node `pki init` is mostly loading modules (docs/benchmarks.md, issue #12): zod, yaml
// and commander come in as ~160 files, resolved and linked one by one.
// Usage: node scripts/build-cli.ts [OUT_DIR] (default: .bundle in the checkout; the bundle must sit two folders
// below the folder that holds package.json, as src/cli/main.ts does, since it reads ../../package.json).
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { rolldown } from 'rolldown';

const root = join(import.meta.dirname, '..');
/** Packages inlined into the bundle: those on `pki`'s path. The others stay imports of node_modules. */
const INLINE = new Set(['zod', 'yaml', 'commander']);

/**
 * An ESM import of a built-in module, as rolldown writes it at the top of a chunk: such an import builds a
 * facade that reads every export (node:fs then loads its streams and promises, node:crypto webcrypto, ~40 of
 * Node's own modules that `pki init` never uses), where process.getBuiltinModule returns the module itself.
 */
const BUILTIN_IMPORT_RE = /^import (?:([\w$]+)|\* as ([\w$]+)|(?:([\w$]+), )?\{([^}]*)\}) from "(node:[\w/]+)";$/gm;

/** The same bindings from process.getBuiltinModule (a default or namespace import is the module itself). */
export function builtinsWithoutFacades(code: string): string {
  return code.replace(BUILTIN_IMPORT_RE, (all, def?: string, ns?: string, def2?: string, named?: string, mod?: string) => {
    const get = `process.getBuiltinModule(${JSON.stringify(mod)})`;
    const out: string[] = [];
    const whole = def ?? ns ?? def2;
    if (whole) out.push(`const ${whole} = ${get};`);
    if (named !== undefined) {
      const parts = named
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => x.split(/\s+as\s+/));
      if (parts.some(([name]) => name === 'default' || !/^[\w$]+$/.test(name as string))) return all;
      out.push(`const { ${parts.map(([name, local]) => (local ? `${name}: ${local}` : name)).join(', ')} } = ${get};`);
    }
    return out.join('\n');
  });
}

/** The module `src/common/lazy.ts` loads with require() relative to its caller: in a bundle, a static import. */
const LAZY_RE = /lazy<typeof import\('([^']+)'\)>\(import\.meta\.url, '[^']+'\)/g;

export async function buildCli(outDir = join(root, '.bundle')): Promise<{ dir: string; inputs: number }> {
  const bundle = await rolldown({
    input: join(root, 'src', 'cli', 'main.ts'),
    platform: 'node',
    logLevel: 'warn',
    external: (id) => {
      if (id.startsWith('node:')) return true;
      if (id.startsWith('.') || isAbsolute(id)) return false;
      const pkg = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : (id.split('/')[0] as string);
      return !INLINE.has(pkg);
    },
    plugins: [
      {
        name: 'anchorage-static-lazy',
        transform(code, id) {
          // commander loads node:child_process (and with it dgram, net's socket list…) for executable
          // subcommands, which Anchorage has none of: loaded when spawn is first called.
          if (/[\\/]commander[\\/]lib[\\/]command\.js$/.test(id)) {
            const eager = "const childProcess = require('node:child_process');";
            if (!code.includes(eager)) this.error(`${id}: commander no longer loads child_process as expected`);
            return code.replace(eager, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };");
          }
          // src/common/yaml.ts requires 'yaml' on first use: in the bundle, the bundled copy.
          if (id === join(root, 'src', 'common', 'yaml.ts'))
            return "import { parse, stringify } from 'yaml';\nexport const parseYaml = parse;\nexport const stringifyYaml = stringify;\n";
          if (!id.startsWith(join(root, 'src')) || !code.includes('lazy<')) return null;
          const imports: string[] = [];
          const out = code.replace(LAZY_RE, (_, path: string) => {
            const name = `__lazy${imports.length}`;
            imports.push(`import * as ${name} from '${path}';`);
            return `(() => ${name})`;
          });
          return imports.length ? `${imports.join('\n')}\n${out}` : null;
        },
        renderChunk(code) {
          return builtinsWithoutFacades(code);
        },
      },
    ],
  });
  const dir = resolve(outDir);
  // The record goes first and comes back last: bin/anchorage.js never takes a bundle half written.
  rmSync(join(dir, 'inputs.json'), { force: true });
  rmSync(join(dir, 'cli'), { recursive: true, force: true });
  const { output } = await bundle.write({
    dir: join(dir, 'cli'),
    format: 'esm',
    entryFileNames: 'main.js',
    chunkFileNames: '[name]-[hash].js',
    // ASCII only: V8 keeps a source with one other character as a two-byte string (yaml's and zod's
    // chunks: twice the memory to read, scan and collect). JSDoc goes too (the rest of those characters,
    // and a fifth of the bytes); licence and annotation comments stay.
    charset: 'ascii',
    comments: { legal: true, annotation: true, jsdoc: false },
  });
  await bundle.close();
  const ids = new Set<string>();
  for (const o of output) if (o.type === 'chunk') for (const m of o.moduleIds) if (isAbsolute(m)) ids.add(m);
  const files = [...ids].sort().map((p) => {
    const st = statSync(p);
    return [relative(dir, p), st.size, st.mtimeMs] as const;
  });
  writeFileSync(join(dir, 'inputs.json.tmp'), `${JSON.stringify({ files })}\n`);
  renameSync(join(dir, 'inputs.json.tmp'), join(dir, 'inputs.json'));
  return { dir, inputs: files.length };
}

if (import.meta.main) {
  const r = await buildCli(process.argv[2]);
  process.stdout.write(`bundled the CLI from ${r.inputs} files into ${join(r.dir, 'cli')}\n`);
}
