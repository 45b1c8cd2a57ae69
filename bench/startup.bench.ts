// CLI start-up: `anchorage --version` and a one-file `inspect`, from the TypeScript sources (a checkout)
// and from compiled JS (what the package runs), each beside `kubectl version --client` in the same run.
// Wall clock and CPU time of whole processes, interleaved, median of repeated runs with its spread (bench/harness.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import { kubeBinDir } from '../test/support/k8s.ts';
import { type BenchResult, type Process, spreadText, timeProcesses } from './harness.ts';

const root = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 21);

export async function run(): Promise<BenchResult[]> {
  const kubectl = join(await kubeBinDir(), 'kubectl');
  const tmp = mkdtempSync(join(tmpdir(), 'anchorage-bench-startup-'));
  // Compiled JS inside the checkout, so that it resolves node_modules as dist/ would.
  const compiled = mkdtempSync(join(root, '.bench-dist-'));
  try {
    const kp = generateKey('ecdsa-p256');
    const c = issueCertificate({
      profile: {
        subject: 'CN=kube-apiserver',
        sans: { dns: ['kubernetes', 'kubernetes.default'], ip: ['10.96.0.1'] },
        validity: { days: 365 },
      },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    const pem = join(tmp, 'apiserver.crt');
    writeFileSync(pem, c.toPem());
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json'), '--outDir', compiled]);
    const node = process.execPath;
    // bin/anchorage.js turns the compile cache on itself; the compiled main.js, run directly, gets it from the environment.
    const env = { ...process.env, NODE_COMPILE_CACHE: join(tmp, 'compile-cache') };
    const bin = join(root, 'bin', 'anchorage.js');
    const js = join(compiled, 'cli', 'main.js');
    const procs: Process[] = [
      { label: 'kubectl', cmd: kubectl, args: ['version', '--client'] },
      { label: 'ts-version', cmd: node, args: [bin, '--version'] },
      { label: 'ts-inspect', cmd: node, args: [bin, 'inspect', pem] },
      { label: 'js-version', cmd: node, args: [js, '--version'], env },
      { label: 'js-inspect', cmd: node, args: [js, 'inspect', pem], env },
    ];
    // Wall time, and CPU time (user + system) of the same runs: on a shared, loaded machine the wall time
    // says as much about the scheduler as about the program.
    const st = timeProcesses(procs, RUNS, { cpu: true });
    const rows: BenchResult[] = [];
    for (const [suffix, what] of [
      ['', 'wall'],
      [' cpu', 'CPU time'],
    ] as const) {
      const k = st.get(`kubectl${suffix}`);
      // No GNU time (/usr/bin/time) on this machine: wall time only.
      if (!k && suffix) continue;
      if (!k) throw new Error('no kubectl figures');
      const baseline = { name: `kubectl version --client (${what})`, value: k.median, spread: spreadText(k, 'ms') };
      const row = (label: string, name: string): BenchResult => {
        const s = st.get(`${label}${suffix}`);
        if (!s) throw new Error(`no figures for ${label}${suffix}`);
        return { name: `${name}, ${what}`, unit: 'ms', value: s.median, spread: spreadText(s, 'ms'), baseline, lowerIsBetter: true };
      };
      rows.push(
        row('ts-version', 'start-up: anchorage --version, TypeScript sources (checkout), compile cache warm'),
        row('ts-inspect', 'start-up: anchorage inspect one PEM certificate, TypeScript sources (checkout)'),
        row('js-version', 'start-up: anchorage --version, compiled JS (package)'),
        row('js-inspect', 'start-up: anchorage inspect one PEM certificate, compiled JS (package)'),
      );
    }
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(compiled, { recursive: true, force: true });
  }
}
