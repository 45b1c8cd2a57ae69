// The dashboard with 100k certificates: `anchorage serve --dir` over a folder of 100,000 leaves (10 PEM files),
// Debian's Chromium (playwright-core). First load: from navigation to the certificate table's first row;
// filter latency: from typing a search to the table showing its new total (150 ms of it is the search box's
// pause); the trust graph: from navigation to the page saying the graph is too large to lay out (the server sends
// its first 5,000 nodes), then from "Hide leaves" to the CAs and consumers drawn. Baseline in the same run: the
// API's own answer to the same first page (and to the graph), fetched from Node.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../src/x509/build.ts';
import { generateKey } from '../src/x509/keys.ts';
import { ensureWebBuilt, launchChromium, serve } from '../test/support/ui.ts';
import type { BenchResult } from './harness.ts';

const COUNT = Number(process.env.BENCH_UI_CERTS ?? 100_000);
const RUNS = Number(process.env.BENCH_UI_RUNS ?? 7);

function median(xs: number[]): { value: number; spread: string } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return { value: q(0.5), spread: `p25-p75 ${Math.round(q(0.25))}-${Math.round(q(0.75))} ms, ${s.length} runs` };
}

export async function run(): Promise<BenchResult[]> {
  ensureWebBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'ui-bench-'));
  try {
    // One CA and COUNT leaves sharing one key (issuing, not key generation, is what this needs).
    const caKp = generateKey('ecdsa-p256');
    const ca = issueCertificate({
      profile: { subject: 'CN=bench-ca', ca: true, keyUsage: ['keyCertSign', 'digitalSignature'], validity: { days: 3650 } },
      publicKey: caKp.publicKey,
      signingKey: caKp.privateKey,
    });
    const kp = generateKey('ecdsa-p256');
    const per = 10_000;
    for (let f = 0; f * per < COUNT; f++) {
      const pems: string[] = f === 0 ? [ca.toPem()] : [];
      for (let i = f * per; i < Math.min(COUNT, (f + 1) * per); i++)
        pems.push(
          issueCertificate({
            profile: {
              subject: `CN=leaf-${String(i).padStart(6, '0')}`,
              sans: { dns: [`leaf-${i}.bench.example`] },
              extKeyUsage: ['serverAuth'],
              validity: { days: 30 + (i % 700) },
            },
            publicKey: kp.publicKey,
            issuer: { cert: ca, key: caKp.privateKey },
          }).toPem(),
        );
      writeFileSync(join(dir, `leaves-${f}.pem`), pems.join(''));
    }
    const server = await serve(['--dir', dir, '--no-history', '--interval', '86400'], 1_800_000);
    const browser = await launchChromium();
    try {
      const loads: number[] = [];
      const filters: number[] = [];
      const api: number[] = [];
      const graphApi: number[] = [];
      const graphNotice: number[] = [];
      const graphDrawn: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const t0 = performance.now();
        await (await fetch(`${server.url}/api/v1/certificates?sort=notAfter&limit=500`)).json();
        api.push(performance.now() - t0);
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
        const page = await context.newPage();
        const t1 = performance.now();
        await page.goto(`${server.url}/?run=${r}#/certificates`);
        await page.locator('.vbody a.vrow').first().waitFor({ timeout: 300_000 });
        loads.push(performance.now() - t1);
        const before = await page.getByTestId('cert-total').textContent();
        const t2 = performance.now();
        await page.getByTestId('cert-search').fill(`leaf-0${r}1`);
        await page.waitForFunction(
          (b) => {
            const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } })
              .document;
            return doc.querySelector('[data-testid=cert-total]')?.textContent !== b && doc.querySelector('.vbody a.vrow') !== null;
          },
          before,
          { timeout: 300_000, polling: 'raf' },
        );
        filters.push(performance.now() - t2);
        const t3 = performance.now();
        await (await fetch(`${server.url}/api/v1/graph`)).json();
        graphApi.push(performance.now() - t3);
        const t4 = performance.now();
        await page.goto(`${server.url}/?graph=${r}#/graph`);
        await page.getByTestId('graph-too-many').waitFor({ timeout: 300_000 });
        graphNotice.push(performance.now() - t4);
        const t5 = performance.now();
        await page.getByRole('button', { name: 'Hide leaves' }).click();
        await page.locator('.gnode').first().waitFor({ timeout: 300_000 });
        graphDrawn.push(performance.now() - t5);
        await context.close();
      }
      const load = median(loads);
      const filter = median(filters);
      const base = median(api);
      const gApi = median(graphApi);
      const gNotice = median(graphNotice);
      const gDrawn = median(graphDrawn);
      return [
        {
          name: `dashboard first load, ${COUNT.toLocaleString('en-US')} certificates (navigation to the table's first row)`,
          unit: 'ms',
          value: load.value,
          spread: load.spread,
          baseline: { name: 'the API alone, first page of 500', value: base.value, spread: base.spread },
          lowerIsBetter: true,
        },
        {
          name: `table filter latency, ${COUNT.toLocaleString('en-US')} certificates (typing to the new total, incl. 150 ms pause)`,
          unit: 'ms',
          value: filter.value,
          spread: filter.spread,
          lowerIsBetter: true,
        },
        {
          name: `trust graph, ${COUNT.toLocaleString('en-US')} certificates: navigation to "too many nodes to lay out" (5,000 sent)`,
          unit: 'ms',
          value: gNotice.value,
          spread: gNotice.spread,
          baseline: { name: 'the API alone, GET /api/v1/graph', value: gApi.value, spread: gApi.spread },
          lowerIsBetter: true,
        },
        {
          name: `trust graph, ${COUNT.toLocaleString('en-US')} certificates: "Hide leaves" to the CAs and consumers drawn (ELK)`,
          unit: 'ms',
          value: gDrawn.value,
          spread: gDrawn.spread,
          lowerIsBetter: true,
        },
      ];
    } finally {
      await browser.close();
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
