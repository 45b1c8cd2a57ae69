// The web dashboard in Debian's Chromium (playwright-core) against a real `anchorage serve --dir` on the demo
// PKI (`anchorage demo`): every page loads without a console error, the table filters, the graph shows the
// planted broken edge with its reason, an operation's plan is shown before anything runs and the renewed
// certificate appears afterwards (live, over server-sent events). Oracles: openssl reads the files on disk.
// Screenshots go to test/.artifacts/ui (gitignored).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { opensslFingerprint } from './support/openssl.ts';
import { artifactsDir, ensureWebBuilt, launchChromium, makeDemo, type Served, serve } from './support/ui.ts';

const openssl = (args: string[], input?: string): string =>
  execFileSync('openssl', args, { encoding: 'utf8', ...(input !== undefined && { input }) });
/** The lowercase hex SHA-256 of a PEM certificate's DER, as openssl computes it. */
const fingerprint = (pemFile: string): string => opensslFingerprint(pemFile, { file: true });
const serialOf = (pemFile: string): string =>
  (/serial=([0-9A-F]+)/i.exec(openssl(['x509', '-in', pemFile, '-noout', '-serial']))?.[1] ?? '').toLowerCase();

let dir: string;
let demo: string;
let server: Served;
let browser: Browser;
let shots: string;
const opened: BrowserContext[] = [];

/** A page that records console errors and uncaught exceptions. */
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  // A context of its own: each open dashboard holds one server-sent events connection, and a browser keeps at
  // most six connections per server and profile.
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  opened.push(context);
  const page = await context.newPage();
  // Playwright's own 30 s per wait ran out for the graph's layout on a loaded CI machine; the test's bound (300 s) stays.
  page.setDefaultTimeout(120_000);
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return { page, errors };
}

beforeAll(async () => {
  ensureWebBuilt();
  dir = mkdtempSync(join(tmpdir(), 'ui-test-'));
  demo = join(dir, 'demo');
  makeDemo(demo);
  server = await serve(['--dir', demo, '--allow-writes-on-loopback', '--no-history', '--interval', '1']);
  browser = await launchChromium();
  shots = artifactsDir('dashboard');
});

afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard on the demo PKI', () => {
  it('loads every page without a console error, in light and dark', async () => {
    const { page, errors } = await openPage();
    const pages: [string, string, () => Promise<unknown>][] = [
      ['overview', '#/', () => page.getByTestId('count-certificates').first().waitFor()],
      ['certificates', '#/certificates', () => page.locator('.vbody a.vrow').first().waitFor()],
      ['graph', '#/graph', () => page.locator('.gnode').first().waitFor()],
      ['timeline', '#/timeline', () => page.getByTestId('timeline-chart').locator('rect').first().waitFor()],
      ['nodes', '#/nodes', () => page.locator('.matrix td.s-ok').first().waitFor()],
      ['findings', '#/findings', () => page.locator('article.finding').first().waitFor()],
      ['operations', '#/operations', () => page.getByTestId('read-only').waitFor()],
    ];
    // Every page in the light theme; the dark theme on three (a page load takes seconds on a loaded CI machine).
    for (const theme of ['light', 'dark']) {
      await page.goto(`${server.url}/`);
      await page.evaluate((t) => localStorage.setItem('anchorage.theme', t), theme);
      for (const [name, hash, ready] of theme === 'light'
        ? pages
        : pages.filter(([n]) => ['overview', 'certificates', 'graph'].includes(n))) {
        // A query of its own makes each a new document load, not a hash change.
        await page.goto(`${server.url}/?page=${name}${hash}`);
        await ready();
        expect(await page.locator('html').getAttribute('data-theme')).toBe(theme);
        await page.screenshot({ path: join(shots, `${name}-${theme}.png`) });
      }
    }
    // A certificate's page, reached from the table with the keyboard alone.
    await page.goto(`${server.url}/#/certificates?q=kube-apiserver`);
    const row = page.locator('.vbody a.vrow').first();
    await row.waitFor();
    await row.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Who trusts it' }).waitFor();
    await page.screenshot({ path: join(shots, 'certificate.png'), fullPage: true });
    await page.getByRole('heading', { name: 'Findings (' }).first().waitFor();
    await page.getByText('live').first().waitFor();
    expect(await page.getByTestId('live').textContent()).toContain('live');
    expect(errors).toEqual([]);
  });

  it('filters the certificate table by health and finds a certificate by the serial openssl prints', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/#/certificates`);
    await page.locator('.vbody a.vrow').first().waitFor();
    const all = Number((await page.getByTestId('cert-total').textContent())?.split(' ')[0]);
    // Virtualised for real: the scrolling body is no taller than the window whatever the row count (it once grew
    // to every row's height, and at 100k rows the page drew them all), and only the rows it shows are drawn. A
    // window lower than the demo's rows (24 x 32 px) makes the difference visible.
    await page.setViewportSize({ width: 1400, height: 500 });
    type Box = { clientHeight: number; scrollHeight: number };
    const body = await page.getByTestId('cert-rows').evaluate((e) => ({
      client: (e as unknown as Box).clientHeight,
      scroll: (e as unknown as Box).scrollHeight,
      window: (globalThis as unknown as { innerHeight: number }).innerHeight,
    }));
    expect(body.client).toBeLessThan(body.window);
    expect(body.scroll).toBe(Math.max(all * 32, body.client));
    expect(body.scroll).toBeGreaterThan(body.client);
    expect(await page.locator('.vbody .vrow').count()).toBeLessThanOrEqual(Math.min(all, Math.ceil(body.client / 32) + 1 + 2 * 20));
    await page.setViewportSize({ width: 1400, height: 900 });
    // The demo reissued worker-1's kubelet serving certificate with a validity that ended 3 days ago.
    const expired = fingerprint(join(demo, 'cluster/nodes/worker-1/var/lib/kubelet/pki/kubelet.crt'));
    await page.locator('select[name=health]').selectOption('expired');
    // The expired row is in the unfiltered table too: wait for the filtered answer's total, then its rows.
    const total = async (): Promise<number> => Number((await page.getByTestId('cert-total').textContent())?.split(' ')[0]);
    await expect.poll(total).toBeLessThan(all);
    const rows = page.locator('.vbody a.vrow');
    const shown = await total();
    await expect.poll(async () => rows.count()).toBe(shown);
    await page.locator(`.vbody a.vrow[data-sha256="${expired}"]`).waitFor();
    for (const text of await rows.allTextContents()) expect(text).toContain('expired');
    await page.locator('select[name=health]').selectOption('');
    await expect.poll(async () => page.getByTestId('cert-total').textContent()).toBe(`${all} certificates`);
    // Search: the serial of cp-1's apiserver.crt as openssl prints it.
    const apiserver = join(demo, 'cluster/nodes/cp-1/etc/kubernetes/pki/apiserver.crt');
    await page.getByTestId('cert-search').fill(serialOf(apiserver));
    await expect.poll(async () => page.getByTestId('cert-total').textContent()).toBe('1 certificate');
    expect(await rows.first().getAttribute('data-sha256')).toBe(fingerprint(apiserver));
    await page.screenshot({ path: join(shots, 'certificates-search.png') });
    expect(errors).toEqual([]);
  });

  it('draws the planted broken edge in red with its reason', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/#/graph`);
    await page.locator('.gnode').first().waitFor();
    // worker-1's kubelet serving certificate, reissued by the demo with a validity that ended 3 days ago.
    const expired = fingerprint(join(demo, 'cluster/nodes/worker-1/var/lib/kubelet/pki/kubelet.crt'));
    const edge = page.locator(`path.gedge.broken[data-to$="${expired}"]`);
    // Attached, not "visible": a straight vertical or horizontal edge has an empty bounding box, which
    // Playwright counts as hidden (the layout, and so the edge's shape, follows the demo's random keys).
    await edge.waitFor({ state: 'attached' });
    expect(await edge.getAttribute('data-ok')).toBe('false');
    expect(await edge.locator('title').textContent()).toMatch(/broken, .*expired/);
    // Red, in both the stroke the page computes and the list beside the graph.
    const style = (e: unknown): string =>
      (globalThis as unknown as { getComputedStyle(x: unknown): { stroke: string } }).getComputedStyle(e).stroke;
    expect(await edge.evaluate(style)).toBe('rgb(209, 36, 47)');
    expect(await page.getByTestId('broken-edges').textContent()).toContain('expired');
    // Zoom with the keyboard changes the drawing's scale.
    const g = page.locator('svg[data-testid=graph] > g');
    const before = await g.getAttribute('transform');
    await page.getByTestId('graph').focus();
    await page.keyboard.press('+');
    expect(await g.getAttribute('transform')).not.toBe(before);
    await page.screenshot({ path: join(shots, 'graph-broken-edge.png') });
    expect(errors).toEqual([]);
  });

  it("draws admin.conf's trust in the rogue CA as a broken edge with the API's reason", async () => {
    // The demo put a rogue CA carrying the cluster CA's name into cp-1's admin.conf: openssl gives its fingerprint.
    const admin = join(demo, 'cluster/nodes/cp-1/etc/kubernetes/admin.conf');
    const caData = /certificate-authority-data:\s*(\S+)/.exec(readFileSync(admin, 'utf8'))?.[1] ?? '';
    const rogue = opensslFingerprint(Buffer.from(caData, 'base64').toString());
    expect(rogue).toMatch(/^[0-9a-f]{64}$/);
    // The API's graph: the edge from admin.conf to the rogue CA is not ok and says why.
    const g = (await (await fetch(`${server.url}/api/v1/graph`)).json()) as {
      edges: { from: string; to: string; kind: string; ok: boolean; reason?: string }[];
    };
    const api = g.edges.find(
      (e) => e.kind === 'trusts' && e.to.endsWith(`/cert/${rogue}`) && e.from.includes('cp-1/etc/kubernetes/admin.conf'),
    );
    expect(api).toMatchObject({ ok: false, reason: expect.stringMatching(/did not sign the API server certificate/) });
    const reason = api?.reason as string;
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/#/graph`);
    const edge = page.locator(`path.gedge.k-trusts.broken[data-to$="/cert/${rogue}"]`);
    // Attached, not visible: a straight horizontal path has a box of height 0, which Playwright calls hidden.
    await edge.waitFor({ state: 'attached' });
    expect(await edge.getAttribute('data-from')).toBe(api?.from);
    expect(await edge.locator('title').textContent()).toContain(`: broken, ${reason}`);
    // The reason is drawn on the edge (cut at 60 characters) and listed beside the graph in full.
    const drawn = page.locator('text.gedge-label').filter({ hasText: reason.slice(0, 40) });
    expect(await drawn.count()).toBeGreaterThan(0);
    expect(await page.getByTestId('broken-edges').textContent()).toContain(reason);
    await page.screenshot({ path: join(shots, 'graph-rogue-ca.png') });
    expect(errors).toEqual([]);
  });

  it('acknowledges a finding through the page, and the API has the acknowledgement; then removes it', async () => {
    type F = { key: string; id: string; ack?: { reason: string; until: string; by: string } };
    const list = async (state: string): Promise<F[]> =>
      ((await (await fetch(`${server.url}/api/v1/findings?state=${state}&limit=1000`)).json()) as { items: F[] }).items;
    const open = await list('open');
    const f = open[0] as F;
    expect(f).toBeDefined();
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/#/findings?id=${encodeURIComponent(f.id)}`);
    const card = page.locator(`article.finding[data-key="${f.key}"]`);
    await card.waitFor();
    // Read-only until writes are switched on: no button to acknowledge.
    expect(await card.getByRole('button', { name: 'Acknowledge…' }).count()).toBe(0);
    await page.getByTestId('writes').check();
    await card.getByRole('button', { name: 'Acknowledge…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const until = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    await dialog.getByLabel('Reason').fill('hookui: replaced in the next maintenance window');
    await dialog.getByLabel(/^Until/).fill(until);
    await dialog.getByRole('button', { name: 'Acknowledge', exact: true }).click();
    await card.getByText(`acknowledged until ${until}`).waitFor();
    await page.screenshot({ path: join(shots, 'finding-acknowledged.png') });
    // The API: the finding is acknowledged with that reason and end, and no longer open.
    const acked = (await list('acknowledged')).find((x) => x.key === f.key);
    expect(acked?.ack).toMatchObject({ reason: 'hookui: replaced in the next maintenance window', until: `${until}T23:59:59.000Z` });
    expect((await list('open')).some((x) => x.key === f.key)).toBe(false);
    // Removed again through the page.
    await card.getByRole('button', { name: 'Remove acknowledgement' }).click();
    await card.getByRole('button', { name: 'Acknowledge…' }).waitFor();
    expect((await list('open')).find((x) => x.key === f.key)?.ack).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('shows the plan of a renewal before it runs, runs it on confirmation, and the renewed certificate appears', async () => {
    const { page, errors } = await openPage();
    const file = join(demo, 'cluster/nodes/cp-1/etc/kubernetes/pki/apiserver.crt');
    const old = fingerprint(file);
    // A second tab keeps the table open: it must show the renewed certificate by itself (server-sent events).
    const watch = await openPage();
    await watch.page.goto(`${server.url}/#/certificates?q=kube-apiserver`);
    await watch.page.locator(`.vbody a.vrow[data-sha256="${old}"]`).waitFor();
    // Read-only by default: no plan without turning writes on.
    await page.goto(`${server.url}/#/operations?kind=pki.renew&certs=apiserver`);
    expect(await page.getByTestId('plan').isDisabled()).toBe(true);
    await page.getByTestId('writes').check();
    await page.getByTestId('plan').click();
    const plan = page.getByTestId('plan-box');
    await plan.waitFor();
    expect(await page.getByTestId('plan-summary').textContent()).toContain('apiserver');
    expect(await page.getByTestId('plan-steps').textContent()).toContain('apiserver@cp-1');
    await page.screenshot({ path: join(shots, 'operation-plan.png') });
    // The plan is shown and nothing ran: the file on disk is the same certificate.
    expect(fingerprint(file)).toBe(old);
    await page.getByTestId('run').click();
    await expect.poll(async () => page.getByTestId('op-state').textContent(), { timeout: 120_000, interval: 250 }).toMatch(/: done/);
    const renewed = fingerprint(file);
    expect(renewed).not.toBe(old);
    await page.screenshot({ path: join(shots, 'operation-done.png') });
    // The table left open shows the renewed certificate without a reload.
    await watch.page.locator(`.vbody a.vrow[data-sha256="${renewed}"]`).waitFor({ timeout: 120_000 });
    await watch.page.screenshot({ path: join(shots, 'certificates-renewed.png') });
    expect(watch.errors).toEqual([]);
    await page.goto(`${server.url}/#/certificates?q=kube-apiserver`);
    await page.locator(`.vbody a.vrow[data-sha256="${renewed}"]`).click();
    await page.getByRole('heading', { name: 'Summary' }).waitFor();
    // The PEM it offers is the file on disk.
    const download = page.waitForEvent('download');
    await page.getByTestId('pem-download').click();
    const pem = readFileSync((await (await download).path()) as string, 'utf8');
    expect(openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem)).toBe(
      openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256']),
    );
    expect(errors).toEqual([]);
  });
});
