#!/usr/bin/env node
// A published package runs the compiled dist/ (Node refuses to strip types under node_modules);
// a checkout runs the TypeScript sources directly (Node >= 22.18 strips types).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const { run } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await run(process.argv.slice(2));
