// `anchorage scan DIR` over 100,000 certificate files on disk, beside the Go peer doing the same work in the
// same run (`bench/go` `peer scan`: walk, read, parse every PEM certificate with crypto/x509, keep each once
// by SHA-256 with its places, verify every chain against the roots and intermediates found). The x509
// exporter the issue names as the tool people run is not in the Go module proxy this machine reaches
// (403), so the peer is the same standard library it is built on (docs/benchmarks.md).
// Whole processes, interleaved, a warm-up run of each discarded; median with p25-p75 and min-max, and peak
// RSS. The corpus (one root, 10 intermediates, N leaves each with its own ECDSA P-256 key, 1,000 files per
// folder) is made once into ~/.cache/anchorage. BENCH_SCAN_FILES=20000 and BENCH_SCAN_FILES_RUNS=5 change
// the size and the number of runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import { type BenchResult, spreadText, timeProcesses } from './harness.ts';

const root = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_SCAN_FILES ?? 100_000);
const RUNS = Number(process.env.BENCH_SCAN_FILES_RUNS ?? 3);
const INTERMEDIATES = 10;
const PER_DIR = 1000;

/** The corpus, made once a month (leaves live 397 days: lint-clean for a year): `<cache>/bench-scan-files-v2-<month>-<N>/`. */
function corpus(): string {
  const month = new Date().toISOString().slice(0, 7);
  const dir = join(process.env.ANCHORAGE_CACHE ?? join(homedir(), '.cache', 'anchorage'), `bench-scan-files-v2-${month}-${N}`);
  if (existsSync(`${dir}.done`)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const days = 3650;
  // A leaf must neither outlive its issuer nor exceed 398 days (x509.validity.*): the tree is lint-clean.
  const leafDays = 397;
  const rootKp = generateKey('ecdsa-p256');
  const rootCa = issueCertificate({
    profile: { subject: 'CN=bench scan root', ca: true, keyUsage: ['keyCertSign', 'cRLSign'], validity: { days } },
    publicKey: rootKp.publicKey,
    signingKey: rootKp.privateKey,
  });
  writeFileSync(join(tmp, 'root.pem'), rootCa.toPem());
  const ints = Array.from({ length: INTERMEDIATES }, (_, i) => {
    const kp = generateKey('ecdsa-p256');
    const cert = issueCertificate({
      profile: {
        subject: `CN=bench scan intermediate ${i}`,
        ca: true,
        pathLen: 0,
        keyUsage: ['keyCertSign', 'cRLSign'],
        validity: { days: days - 30 },
      },
      publicKey: kp.publicKey,
      issuer: { cert: rootCa, key: rootKp.privateKey },
    });
    writeFileSync(join(tmp, `intermediate-${i}.pem`), cert.toPem());
    return { cert, key: kp.privateKey };
  });
  for (let i = 0; i < N; i++) {
    const sub = join(tmp, `d${String(Math.floor(i / PER_DIR)).padStart(3, '0')}`);
    if (i % PER_DIR === 0) mkdirSync(sub);
    const kp = generateKey('ecdsa-p256');
    const issuer = ints[i % INTERMEDIATES] as (typeof ints)[number];
    const name = `svc-${i}.bench.svc`;
    const leaf = issueCertificate({
      profile: {
        subject: `CN=${name}`,
        sans: { dns: [name] },
        keyUsage: ['digitalSignature'],
        extKeyUsage: ['serverAuth'],
        validity: { days: leafDays },
      },
      publicKey: kp.publicKey,
      issuer,
    });
    writeFileSync(join(sub, `leaf-${i}.pem`), leaf.toPem());
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(`${dir}.done`, '');
  return dir;
}

export async function run(): Promise<BenchResult[]> {
  const dir = corpus();
  const peer = execFileSync('bash', [join(root, 'bench', 'go', 'build.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  const node = join(root, 'node_modules', '.bin', 'node');
  const t = timeProcesses(
    [
      {
        label: 'anchorage',
        cmd: existsSync(node) ? node : process.execPath,
        args: [join(root, 'bin', 'anchorage.js'), 'scan', dir, '-o', 'json'],
      },
      { label: 'go', cmd: peer, args: ['scan', dir] },
    ],
    RUNS,
    { rss: true },
  );
  const get = (k: string) => t.get(k) as NonNullable<ReturnType<typeof t.get>>;
  const ours = get('anchorage');
  const theirs = get('go');
  const files = `${(N + INTERMEDIATES + 1).toLocaleString('en-US')} certificate files`;
  process.stderr.write(
    `scan files ${N}: anchorage ${(ours.median / 1000).toFixed(1)} s (${spreadText(ours, 'ms')}), ${get('anchorage rss').median.toFixed(0)} MiB; go ${(theirs.median / 1000).toFixed(1)} s (${spreadText(theirs, 'ms')}), ${get('go rss').median.toFixed(0)} MiB\n`,
  );
  return [
    {
      name: `scan ${files} (whole process, -o json)`,
      unit: 'ms',
      value: ours.median,
      spread: spreadText(ours, 'ms'),
      baseline: {
        name: 'Go crypto/x509 walk + parse + verify every chain (peer scan)',
        value: theirs.median,
        spread: spreadText(theirs, 'ms'),
      },
      lowerIsBetter: true,
    },
    {
      name: `scan ${files}: peak RSS`,
      unit: 'MiB',
      value: get('anchorage rss').median,
      spread: spreadText(get('anchorage rss'), 'MiB'),
      baseline: { name: 'Go peer scan', value: get('go rss').median },
      lowerIsBetter: true,
    },
  ];
}
