import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from './cluster/harness.ts';
import { opensslCa, opensslFingerprint, opensslIssue } from './support/openssl.ts';
import { artifactsDir, ensureWebBuilt, launchChromium, type Served, serve } from './support/ui.ts';

const NS = 'ui-live';
let dir: string;
let c: Cluster;
let server: Served;
let browser: Browser;

function kubectl(...args: string[]): string {
  const r = c.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The lowercase hex SHA-256 of a PEM certificate's DER, as openssl computes it. */
const fingerprint = (file: string): string => opensslFingerprint(file, { file: true });

beforeAll(async () => {
  ensureWebBuilt();
  dir = mkdtempSync(join(tmpdir(), 'ui-cluster-'));
  c = await startCluster();
  opensslCa(dir, 'ca', '/CN=ui live CA');
  opensslIssue(dir, 'ca', 'shop', '/CN=shop.ui-live.svc', 'subjectAltName=DNS:shop.ui-live.svc\n');
  opensslIssue(dir, 'ca', 'cart', '/CN=cart.ui-live.svc', 'subjectAltName=DNS:cart.ui-live.svc\n');
  kubectl('create', 'namespace', NS);
  kubectl('-n', NS, 'create', 'secret', 'tls', 'shop-tls', `--cert=${join(dir, 'shop.crt')}`, `--key=${join(dir, 'shop.key')}`);
  server = await serve(['--kubeconfig', c.admin, '--no-history']);
  browser = await launchChromium();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await c?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  return { page, errors };
}

describe('the dashboard on a live cluster', () => {
  it('shows the live cluster: every page loads, a Secret is found by its name and names where it lives, a new one appears live', async () => {
    const shots = artifactsDir('dashboard-cluster');
    const { page, errors } = await openPage();
    for (const [name, hash, ready] of [
      ['overview', '#/', () => page.getByTestId('count-certificates').first().waitFor()],
      ['certificates', '#/certificates', () => page.locator('.vbody a.vrow').first().waitFor()],
      ['graph', '#/graph', () => page.locator('.gnode').first().waitFor()],
      ['findings', '#/findings', () => page.getByRole('heading').first().waitFor()],
    ] as const) {
      await page.goto(`${server.url}/?page=${name}${hash}`);
      await ready();
      await page.screenshot({ path: join(shots, `${name}.png`) });
    }

    // The Secret kubectl created, found by the name openssl put in it; its page says where it lives.
    const shop = fingerprint(join(dir, 'shop.crt'));
    await page.goto(`${server.url}/?page=search#/certificates?q=shop.ui-live.svc`);
    const row = page.locator('.vbody a.vrow').first();
    await row.waitFor({ timeout: 120_000 });
    await row.click();
    await page.getByRole('heading', { name: 'Who trusts it' }).waitFor();
    expect(page.url()).toContain(shop);
    await page.getByText(`${NS}/Secret/shop-tls`).first().waitFor();
    await page.screenshot({ path: join(shots, 'certificate.png'), fullPage: true });

    // A Secret created while the table is open appears without a reload.
    await page.goto(`${server.url}/?page=live#/certificates?q=cart.ui-live.svc`);
    await page.getByTestId('cert-total').waitFor();
    expect(await page.locator('.vbody a.vrow').count()).toBe(0);
    kubectl('-n', NS, 'create', 'secret', 'tls', 'cart-tls', `--cert=${join(dir, 'cart.crt')}`, `--key=${join(dir, 'cart.key')}`);
    await page.locator('.vbody a.vrow').first().waitFor({ timeout: 120_000 });
    expect(await page.locator('.vbody a.vrow').first().getAttribute('data-sha256')).toBe(fingerprint(join(dir, 'cart.crt')));
    expect(errors).toEqual([]);
  }, 600_000);
});
