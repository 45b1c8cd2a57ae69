// A cluster's `proxy-url` and HTTPS_PROXY/NO_PROXY, as kubectl honours them, through a real HTTP CONNECT proxy
// (Debian's tinyproxy, test/deps.sh) on a free loopback port, against the real control plane harness. kubectl
// (the harness's pinned build) is the oracle: it and `anchorage scan --kubeconfig` reach the API server through
// the proxy (the proxy's log shows their CONNECTs), a dead proxy costs one line, and for each environment case
// kubectl's choice (proxy or not: did the proxy see a CONNECT?) is LiteKubeConfig.proxyUrl()'s. And a user with
// an exec credential plugin, which src/kube hands to @kubernetes/client-node (loaded only then): `serve` and
// `scan` read the cluster with it as kubectl does.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { LiteKubeConfig } from '../src/kube/kubeconfig.ts';
import type { ScanReport } from '../src/scan/scan.ts';
import { anchorage, type Cluster, Fatal, freePort, startCluster, waitFor } from './cluster/harness.ts';
import { api, startCli } from './support/serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-kube13-proxy-'));
let c: Cluster;
let proxy: ChildProcess;
let proxyPort: number;
let deadPort: number;
const proxyLog = join(dir, 'tinyproxy.log');

/** The CONNECT requests the proxy logged for `target` (host:port). */
const connects = (target: string): number =>
  readFileSync(proxyLog, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`: CONNECT ${target} HTTP/1.1`)).length;

/** admin.conf with the cluster's server and proxy-url changed. */
function kubeconfigWith(name: string, change: { server?: string; proxyUrl?: string }): string {
  const doc = parse(readFileSync(c.admin, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  for (const cl of doc.clusters) {
    if (change.server) cl.cluster.server = change.server;
    if (change.proxyUrl) cl.cluster['proxy-url'] = change.proxyUrl;
  }
  const f = join(dir, name);
  writeFileSync(f, stringify(doc), { mode: 0o600 });
  return f;
}

beforeAll(async () => {
  c = await startCluster();
  await waitFor('kube-root-ca.crt in default', () => c.kubectl(['-n', 'default', 'get', 'configmap', 'kube-root-ca.crt']).code === 0);
  proxyPort = await freePort();
  deadPort = await freePort();
  // No ConnectPort line: CONNECT to any port (the API server's is not 443).
  writeFileSync(
    join(dir, 'tinyproxy.conf'),
    `Port ${proxyPort}\nListen 127.0.0.1\nTimeout 60\nLogLevel Connect\nLogFile "${proxyLog}"\nMaxClients 100\nAllow 127.0.0.1\n`,
  );
  writeFileSync(proxyLog, '');
  proxy = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proxy.once('exit', () => r()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor('tinyproxy listening', async () => {
    if (gone) throw new Fatal(`tinyproxy exited: ${readFileSync(proxyLog, 'utf8').slice(-2000)}`);
    return new Promise<boolean>((r) => {
      const s = connect(proxyPort, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
  });
}, 600_000);

afterAll(async () => {
  proxy?.kill('SIGTERM');
  await c?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('proxy-url', () => {
  it('kubectl and anchorage scan reach the API server through an HTTP CONNECT proxy', () => {
    const api = `127.0.0.1:${c.apiPort}`;
    const kc = kubeconfigWith('proxied.conf', { proxyUrl: `http://127.0.0.1:${proxyPort}` });

    const before = connects(api);
    const k = c.kubectl(['get', 'configmap', '-n', 'default', 'kube-root-ca.crt', '-o', 'name'], kc);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout.trim()).toBe('configmap/kube-root-ca.crt');
    expect(connects(api)).toBeGreaterThan(before);

    const mid = connects(api);
    const r = anchorage(['scan', '--kubeconfig', kc, '-o', 'json']);
    expect([0, 1], r.stderr).toContain(r.code);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as ScanReport;
    // What only the API gives (the cluster CA in kube-root-ca.crt), and the API server's handshake, through the proxy.
    expect(report.certificates.some((x) => x.locations.some((l) => l.source.startsWith('default/ConfigMap/kube-root-ca.crt')))).toBe(true);
    const apiserver = report.endpoints.find((e) => e.for === 'apiserver');
    expect(apiserver?.reached).toBe(true);
    expect(apiserver?.endpoint).toBe(api);
    // The LISTs' connection and the API server probe: both tunnelled.
    expect(connects(api) - mid).toBeGreaterThanOrEqual(2);
  });

  it('a dead proxy: one line from kubectl and from anchorage scan, naming the proxy', () => {
    const kc = kubeconfigWith('dead.conf', { proxyUrl: `http://127.0.0.1:${deadPort}` });
    const k = c.kubectl(['get', 'configmap', '-n', 'default', '--request-timeout=20s'], kc);
    expect(k.code).not.toBe(0);
    // kubectl's line names the API server ("The connection to the server … was refused"), not the proxy.
    expect(k.stderr.trim().split('\n')).toEqual([expect.stringMatching(/refused/)]);

    const r = anchorage(['scan', '--kubeconfig', kc, '-o', 'json']);
    // docs/scan-schema.md: an unreachable API is a warning line and a `skipped` entry; nothing found and the
    // cluster unread: 3, an incomplete scan.
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^warning: https://127\\.0\\.0\\.1:${c.apiPort}: .*ECONNREFUSED.* \\(through proxy http://127\\.0\\.0\\.1:${deadPort}\\); nothing was read from the cluster after `,
        ),
      ),
    ]);
    expect((JSON.parse(r.stdout) as ScanReport).skipped).toHaveLength(1);
  });

  it('a SOCKS5 proxy-url is refused in one line naming the cluster (exit 2)', () => {
    const kc = kubeconfigWith('socks.conf', { proxyUrl: `socks5://127.0.0.1:${deadPort}` });
    const cluster = (parse(readFileSync(kc, 'utf8')) as { clusters: { name: string }[] }).clusters[0]?.name;
    const r = anchorage(['scan', '--kubeconfig', kc]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: kubeconfig: cluster '${cluster}': proxy-url socks5://127.0.0.1:${deadPort}: SOCKS5 proxies are not supported (http:// and https:// are)`,
    ]);
  });
});

describe('HTTPS_PROXY and NO_PROXY', () => {
  // Servers nothing answers for: what matters is whether the client asked the proxy (its log) or went direct.
  const proxied = (server: string, env: Record<string, string>, proxyUrl?: string): { kubectl: boolean; lite: boolean } => {
    const u = new URL(server);
    const target = `${u.hostname}:${u.port}`;
    const kc = kubeconfigWith(
      `env-${Buffer.from(JSON.stringify([server, env, proxyUrl]))
        .toString('hex')
        .slice(0, 40)}.conf`,
      {
        server,
        ...(proxyUrl && { proxyUrl }),
      },
    );
    const before = connects(target);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(https?|no)_proxy$/i.test(k)));
    spawnSync(join(c.bin, 'kubectl'), ['--kubeconfig', kc, 'get', '--raw', '/version', '--request-timeout=3s'], {
      env: { ...clean, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (/^(https?|no)_proxy$/i.test(k)) delete process.env[k];
    Object.assign(process.env, env);
    try {
      return { kubectl: connects(target) > before, lite: LiteKubeConfig.load({ kubeconfig: kc }).proxyUrl() !== undefined };
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };

  it('LiteKubeConfig picks the proxy exactly when kubectl does', () => {
    const P = `http://127.0.0.1:${proxyPort}`;
    const host = 'api.kube13.invalid';
    const cases: [string, Record<string, string>, string | undefined, boolean][] = [
      [`https://${host}:6443`, { HTTPS_PROXY: P }, undefined, true],
      [`https://${host}:6443`, { https_proxy: `127.0.0.1:${proxyPort}` }, undefined, true],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: 'kube13.invalid' }, undefined, false],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: '.kube13.invalid' }, undefined, false],
      [`https://${host}:6443`, { HTTPS_PROXY: P, no_proxy: 'other.invalid, *.kube13.invalid' }, undefined, false],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: `${host}:6443` }, undefined, false],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: `${host}:443` }, undefined, true],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: 'other.invalid' }, undefined, true],
      [`https://${host}:6443`, { HTTPS_PROXY: P, NO_PROXY: '*' }, undefined, false],
      [`https://${host}:6443`, { HTTP_PROXY: P }, undefined, false],
      // proxy-url wins over the environment, NO_PROXY included.
      [`https://${host}:6443`, { NO_PROXY: '*' }, P, true],
      // Loopback is never proxied from the environment; an IP in a NO_PROXY CIDR (client-go) neither.
      ['https://127.0.0.2:6443', { HTTPS_PROXY: P }, undefined, false],
      ['https://localhost:6443', { HTTPS_PROXY: P }, undefined, false],
      ['https://10.213.7.7:6443', { HTTPS_PROXY: P }, undefined, true],
      ['https://10.213.7.7:6443', { HTTPS_PROXY: P, NO_PROXY: '10.213.0.0/16' }, undefined, false],
      ['https://10.213.7.7:6443', { HTTPS_PROXY: P, NO_PROXY: '10.213.7.7' }, undefined, false],
    ];
    for (const [server, env, proxyUrl, want] of cases) {
      const got = proxied(server, env, proxyUrl);
      expect({ server, env, proxyUrl, ...got }).toEqual({ server, env, proxyUrl, kubectl: want, lite: want });
    }
  });
});

describe('a user with an exec credential plugin', () => {
  it('serve and scan authenticate through it (client-node, loaded lazily), as kubectl does', async () => {
    type Conf = { users: { name: string; user: Record<string, unknown> }[]; contexts: { name: string }[]; 'current-context': string };
    const doc = parse(readFileSync(c.admin, 'utf8')) as Conf;
    const u = doc.users[0] as { name: string; user: Record<string, string> };
    const pem = (k: string): string => Buffer.from(u.user[k] as string, 'base64').toString('utf8');
    // The plugin hands out admin.conf's own client certificate, as an ExecCredential.
    writeFileSync(
      join(dir, 'cred.json'),
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { clientCertificateData: pem('client-certificate-data'), clientKeyData: pem('client-key-data') },
      }),
      { mode: 0o600 },
    );
    writeFileSync(join(dir, 'cred.sh'), `#!/bin/sh\ncat '${join(dir, 'cred.json')}'\n`);
    chmodSync(join(dir, 'cred.sh'), 0o700);
    u.user = {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: join(dir, 'cred.sh'), interactiveMode: 'Never' },
    } as unknown as Record<string, string>;
    const kc = join(dir, 'exec.conf');
    writeFileSync(kc, stringify(doc), { mode: 0o600 });

    const k = c.kubectl(['get', 'configmap', '-n', 'default', 'kube-root-ca.crt', '-o', 'name'], kc);
    expect(k.code, k.stderr).toBe(0);

    const r = anchorage(['scan', '--kubeconfig', kc, '-o', 'json']);
    expect([0, 1], r.stderr).toContain(r.code);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.certificates.some((x) => x.locations.some((l) => l.source === 'default/ConfigMap/kube-root-ca.crt[ca.crt]'))).toBe(true);
    expect(report.endpoints.find((e) => e.for === 'apiserver')?.clientCert?.accepted).toBe(true);

    const srv = await startCli(['serve', '--kubeconfig', kc, '--listen', '127.0.0.1:0', '--no-history']);
    try {
      await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 180_000);
      const cl = (await api(srv.url, '/api/v1/clusters')).body.items.find((x: { name: string }) => x.name === doc['current-context']);
      expect(cl?.status, srv.err().slice(-2000)).toBe('ok');
      expect(cl.sources.filter((x: { status: string }) => x.status === 'error')).toEqual([]);
    } finally {
      await srv.stop();
    }
  });
});
