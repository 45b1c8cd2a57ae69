// The webhook's admission, `review()`, in process, per admission: CPU time, bytes allocated on V8's heap and the
// young-generation collections it causes (bench/gc-meter.ts), on the bench's AdmissionReview bodies (trust, and
// trust + identity). With BENCH_WEBHOOK_BEFORE=<git rev>, that revision's review() runs in the same process, its
// rounds interleaved with this tree's, so both see the same machine load:
//   node bench/webhook-alloc.ts                     [BENCH_WEBHOOK_ALLOC_ROUNDS=9 BENCH_WEBHOOK_ALLOC_N=5000]
//   BENCH_WEBHOOK_BEFORE=main node bench/webhook-alloc.ts
// Prints one line per figure: median with p25-p75 over the rounds.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startMeter } from './gc-meter.ts';
import { treeAt } from './tree-at.ts';
import { benchPod, reviewBodies } from './webhook-bodies.ts';

const ROUNDS = Number(process.env.BENCH_WEBHOOK_ALLOC_ROUNDS ?? 9);
const N = Number(process.env.BENCH_WEBHOOK_ALLOC_N ?? 5000);
const ROOT = join(import.meta.dirname, '..');

type Review = (body: Buffer, ctx: unknown) => { status: number; body: string };
interface Side {
  name: string;
  review: Review;
  config: unknown;
}
async function side(name: string, root: string): Promise<Side> {
  const { review } = (await import(join(root, 'src', 'webhook', 'review.ts'))) as { review: Review };
  const { parseConfig } = (await import(join(root, 'src', 'webhook', 'config.ts'))) as { parseConfig: (x: unknown) => unknown };
  return { name, review, config: parseConfig({ identity: { issuer: { secret: { namespace: 'anchorage', name: 'identity-ca' } } } }) };
}

const sides = [await side('this tree', ROOT)];
const before = process.env.BENCH_WEBHOOK_BEFORE;
if (before) sides.push(await side(`before (${before})`, treeAt(before)));
// As the server hands them over: a Buffer per request.
const kinds = [
  ['trust', reviewBodies(benchPod({})).map((b) => Buffer.from(b))],
  ['trust + identity', reviewBodies(benchPod({ 'identity.anchorage.dev/enabled': 'true' })).map((b) => Buffer.from(b))],
] as const;
const excluded = new Set(['kube-system', 'anchorage']);
const labelsOf = () => ({});

// The same answers from every side (the identity Secret's random suffix aside).
for (const [, bodies] of kinds) {
  const answers = sides.map((s) => {
    const a = JSON.parse(s.review(bodies[0] as Buffer, { config: s.config, excluded, issuerReady: true, labelsOf }).body);
    a.response.patch = Buffer.from(a.response.patch, 'base64')
      .toString()
      .replace(/identity-[0-9a-f]{12}/g, '');
    return JSON.stringify(a);
  });
  if (new Set(answers).size !== 1) throw new Error('the sides answer differently');
}

function round(s: Side, bodies: readonly Buffer[]) {
  const ctx = { config: s.config, excluded, issuerReady: true, labelsOf };
  let sink = 0;
  for (let i = 0; i < N; i++) sink += s.review(bodies[i % bodies.length] as Buffer, ctx).body.length;
  return sink;
}

// Warm-up (the JIT), then the metered rounds, interleaved.
for (const s of sides) for (const [, b] of kinds) round(s, b);
const meter = startMeter();
const rows = new Map<string, { cpu: number[]; bytes: number[]; young: number[]; youngMs: number[]; youngMax: number[] }>();
for (let r = 0; r < ROUNDS; r++)
  for (const [kind, bodies] of kinds)
    for (const s of sides) {
      await new Promise((ok) => setImmediate(ok));
      meter.read();
      round(s, bodies);
      await new Promise((ok) => setImmediate(ok));
      const m = meter.read();
      const k = `${kind} | ${s.name}`;
      const row = rows.get(k) ?? { cpu: [], bytes: [], young: [], youngMs: [], youngMax: [] };
      row.cpu.push(m.cpuUs / N);
      row.bytes.push(m.allocated / N);
      row.young.push((m.young * 1000) / N);
      row.youngMs.push((m.youngMs * 1000) / N);
      row.youngMax.push(m.youngMaxMs);
      rows.set(k, row);
    }
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;
const f = (xs: number[], d = 1) => `${q(xs, 0.5).toFixed(d)} (${q(xs, 0.25).toFixed(d)}-${q(xs, 0.75).toFixed(d)})`;
console.log(`review() in process, ${ROUNDS} rounds x ${N} admissions per side and kind, load average ${loadavg()[0]?.toFixed(1)}`);
console.log(
  '| kind | side | CPU µs / admission | bytes allocated / admission | scavenges / 1000 | scavenge ms / 1000 | largest scavenge ms |',
);
for (const [k, r] of rows)
  console.log(`| ${k} | ${f(r.cpu)} | ${f(r.bytes, 0)} | ${f(r.young, 2)} | ${f(r.youngMs, 2)} | ${f(r.youngMax, 2)} |`);
