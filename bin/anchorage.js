#!/usr/bin/env node
// A published package runs the compiled dist/ (Node refuses to strip types under node_modules);
// a checkout runs the TypeScript sources directly (Node >= 22.18 strips types), or, for `anchorage pki …`,
// the bundle `npm run build:cli` made (.bundle/cli/main.js) while every file it was built from is unchanged.
// Built-in modules come from process.getBuiltinModule, not `import`: an ESM import of node:fs builds a facade
// that loads fs streams and promises, start-up time the CLI does not need (src/cli/main.ts).
const { existsSync, readFileSync, statSync } = process.getBuiltinModule('node:fs');

// Node's on-disk compile cache (Node >= 22.1): later runs skip parsing and compiling the CLI's modules.
process.getBuiltinModule('node:module').enableCompileCache?.();

const argv = process.argv.slice(2);
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const bundle = new URL('../.bundle/', import.meta.url);

/** The bundle, if it was built from exactly the files there now (size and mtime of each); ANCHORAGE_NO_BUNDLE=1 turns it off (the tests run the sources). */
function freshBundle() {
  if (process.env.ANCHORAGE_NO_BUNDLE) return undefined;
  try {
    const dir = process.getBuiltinModule('node:url').fileURLToPath(bundle);
    const { resolve } = process.getBuiltinModule('node:path');
    const { files } = JSON.parse(readFileSync(resolve(dir, 'inputs.json'), 'utf8'));
    for (const [path, size, mtimeMs] of files) {
      const st = statSync(resolve(dir, path), { throwIfNoEntry: false });
      if (!st || st.size !== size || st.mtimeMs !== mtimeMs) return undefined;
    }
    return new URL('cli/main.js', bundle);
  } catch {
    return undefined;
  }
}

const entry = existsSync(compiled) ? compiled : (argv[0] === 'pki' && freshBundle()) || new URL('../src/cli/main.ts', import.meta.url);
const { run, quietOnEpipe } = await import(entry.href);
// A reader that stops early (`anchorage inspect dir | head`) is not an error: stop quietly (src/cli/main.ts).
quietOnEpipe();
process.exitCode = await run(argv);
