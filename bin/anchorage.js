#!/usr/bin/env node
// A published package runs the compiled dist/ (Node refuses to strip types under node_modules);
// a checkout runs the TypeScript sources directly (Node >= 22.18 strips types).
// Built-in modules come from process.getBuiltinModule, not `import`: an ESM import of node:fs builds a facade
// that loads fs streams and promises, start-up time the CLI does not need (src/cli/main.ts).
const { existsSync } = process.getBuiltinModule('node:fs');

// Node's on-disk compile cache (Node >= 22.1): later runs skip parsing and compiling the CLI's modules.
process.getBuiltinModule('node:module').enableCompileCache?.();

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { run, quietOnEpipe } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
// A reader that stops early (`anchorage inspect dir | head`) is not an error: stop quietly (src/cli/main.ts).
quietOnEpipe();
process.exitCode = await run(process.argv.slice(2));
