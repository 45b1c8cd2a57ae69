#!/usr/bin/env node
// A published package runs the compiled dist/ (Node refuses to strip types under node_modules);
// a checkout runs the TypeScript sources directly (Node >= 22.18 strips types).
import { existsSync } from 'node:fs';
import module from 'node:module';

// Node's on-disk compile cache (Node >= 22.1): later runs skip parsing and compiling the CLI's modules.
module.enableCompileCache?.();

// A reader that stops early (`anchorage inspect dir | head`) is not an error: stop quietly (as src/cli/main.ts does).
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { run } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await run(process.argv.slice(2));
