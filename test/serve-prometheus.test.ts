// The shipped alerts (deploy/monitoring) under Debian's Prometheus: `promtool test rules` on their unit
// tests, the PrometheusRule carrying the same groups, and a live Prometheus scraping `anchorage serve`
// (--dir with a certificate openssl made to expire in 3 days) until the expiry alerts fire for it and its
// x509_cert_not_after is what openssl says.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, waitFor } from './cluster/harness.ts';
import { opensslCa, opensslIssue } from './support/openssl.ts';
import { api, type Proc, startCli } from './support/serve.ts';

const MON = join(import.meta.dirname, '..', 'deploy', 'monitoring');
const dir = mkdtempSync(join(tmpdir(), 'serve-prom-'));
let srv: Proc | undefined;
let prom: ChildProcess | undefined;
let promLog = '';

afterAll(async () => {
  prom?.kill('SIGTERM');
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy/monitoring', () => {
  it('passes promtool test rules, and the PrometheusRule carries the same groups', () => {
    const r = spawnSync('promtool', ['test', 'rules', 'rules_test.yaml'], { cwd: MON, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
    const c = spawnSync('promtool', ['check', 'rules', 'rules.yaml'], { cwd: MON, encoding: 'utf8' });
    expect(c.status, c.stdout + c.stderr).toBe(0);
    const rules = parse(readFileSync(join(MON, 'rules.yaml'), 'utf8'));
    const pr = parse(readFileSync(join(MON, 'prometheusrule.yaml'), 'utf8'));
    expect(pr.kind).toBe('PrometheusRule');
    expect(pr.spec.groups).toEqual(rules.groups);
    // Every alert the issue asks for is there.
    const names = rules.groups.flatMap((g: { rules: { alert: string }[] }) => g.rules.map((x) => x.alert));
    for (const a of [
      'AnchorageCertificateExpiring',
      'AnchorageCertificateExpired',
      'AnchorageUntrustedChain',
      'AnchorageCAKeyExposed',
      'AnchorageSourceFailing',
    ])
      expect(names).toContain(a);
  });
});

describe('a live Prometheus scraping anchorage serve', () => {
  let promUrl: string;
  let notAfter: number;

  beforeAll(async () => {
    const pki = join(dir, 'pki');
    mkdirSync(pki);
    opensslCa(pki, 'ca', '/CN=prom test CA', 30);
    opensslIssue(pki, 'ca', 'planted', '/CN=planted-expiring', 'subjectAltName=DNS:planted.example\n', 3);
    const out = execFileSync('openssl', ['x509', '-in', join(pki, 'planted.crt'), '-noout', '-enddate'], { encoding: 'utf8' });
    notAfter = Date.parse(out.split('=')[1]?.trim() ?? '') / 1000;
    const watched = join(dir, 'watched');
    mkdirSync(watched);
    copyFileSync(join(pki, 'planted.crt'), join(watched, 'planted.crt'));
    copyFileSync(join(pki, 'ca.crt'), join(watched, 'ca.crt'));
    srv = await startCli(['serve', '--dir', watched, '--listen', '127.0.0.1:0', '--no-history']);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(srv.url).host;
    copyFileSync(join(MON, 'rules.yaml'), join(dir, 'rules.yaml'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\nscrape_configs:\n  - job_name: anchorage\n    static_configs: [{ targets: ['${target}'] }]\n`,
    );
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    prom.stderr?.on('data', (d: Buffer) => {
      promLog = (promLog + d.toString()).slice(-20_000);
    });
    await waitFor('prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).status === 200, 120_000);
  });

  it('scrapes the x509_cert_not_after openssl reads, and fires the expiry alerts for the planted certificate', async () => {
    const q = async (expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> =>
      ((await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: [] } }).data.result;
    await waitFor('scraped', async () => (await q('x509_cert_not_after{subject_CN="planted-expiring"}')).length === 1, 120_000, 500);
    const [s] = await q('x509_cert_not_after{subject_CN="planted-expiring"}');
    expect(Number(s?.value[1])).toBe(notAfter);
    expect(s?.metric.issuer_CN).toBe('prom test CA');
    expect(s?.metric.filename).toBe('planted.crt');
    const firing = async (): Promise<{ labels: Record<string, string>; state: string }[]> =>
      (
        (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string }[] };
        }
      ).data.alerts.filter((a) => a.state === 'firing' && a.labels.subject_CN === 'planted-expiring');
    await waitFor('alerts firing', async () => (await firing()).length >= 2, 120_000, 500).catch((e) => {
      throw new Error(`${(e as Error).message}\n${promLog}`);
    });
    expect((await firing()).map((a) => a.labels.alertname).sort()).toEqual([
      'AnchorageCertificateExpiring',
      'AnchorageCertificateExpiringSoon',
    ]);
    // The CA (30 days) is fine: no alert for it.
    expect((await q('ALERTS{subject_CN="prom test CA"}')).length).toBe(0);
    expect((await api(srv?.url ?? '', '/api/v1/clusters')).status).toBe(200);
  });
});
