// `npm start`: the demo PKI (`anchorage demo --dir`, planted faults included) in a temp folder, served by
// `anchorage serve --dir` with the dashboard on a free loopback port; prints the URL and runs until Ctrl-C,
// then removes the folder. Loopback callers may write (--allow-writes-on-loopback), so the dashboard's
// operations work on the demo once writes are switched on. Without `anchorage serve` (or without the built
// dashboard) it runs `anchorage demo` alone: the scan printed in the terminal.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/anchorage.js');
const hasServe = existsSync(join(root, 'src/cli/commands/serve.ts')) || existsSync(join(root, 'dist/cli/commands/serve.js'));
const hasWeb = existsSync(join(root, 'web/dist/index.html'));

if (!hasServe || !hasWeb) {
  if (!hasWeb) process.stderr.write('web/dist is missing (npm run build:web): showing the demo in the terminal\n');
  const r = spawnSync(process.execPath, [bin, 'demo'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const dir = mkdtempSync(join(tmpdir(), 'anchorage-demo-'));
const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
const made = spawnSync(process.execPath, [bin, 'demo', '--dir', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
if (made.status !== 0) {
  cleanup();
  process.exit(made.status ?? 1);
}
const server = spawn(
  process.execPath,
  [
    bin,
    'serve',
    '--dir',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--allow-writes-on-loopback',
    '--no-history',
    '--interval',
    '5',
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let out = '';
server.stdout?.setEncoding('utf8').on('data', (d: string) => {
  out += d;
  const m = /listening on (\S+)/.exec(out);
  if (m?.[1]) {
    process.stdout.write(
      [
        '',
        `Dashboard: ${m[1]}/`,
        `Terminal UI: npx anchorage tui --server ${m[1]}`,
        `The demo PKI is in ${dir} (removed when this stops). Ctrl-C stops.`,
        '',
      ].join('\n'),
    );
    out = '';
  }
});
const stop = (): void => {
  server.kill('SIGTERM');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
server.on('exit', (code) => {
  cleanup();
  process.exit(code ?? 0);
});
