// `nodes.push` through the API of `anchorage serve --dir` against real machines: Debian's OpenSSH server in
// network namespaces (test/support/sshd.ts). The oracle is each node's file system, read through its mount
// namespace and compared byte for byte with the PKI folder; an unreachable node is one line in the
// operation while the others are pushed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { waitFor } from './cluster/harness.ts';
import { cli, dirFile, manifestOf, nodeFiles } from './support/nodes-cli.ts';
import { api, type Proc, startCli } from './support/serve.ts';
import { type Lab, type LabNode, startLab } from './support/sshd.ts';

vi.setConfig({ testTimeout: 300_000 });

const NAMES = ['cp-1', 'w-1'];
const PKI_DIRS = ['/etc/kubernetes', '/var/lib/kubelet'];
let lab: Lab;
let work: string;
let dir: string;
let srv: Proc;
const byName = (n: string): LabNode => lab.nodes[NAMES.indexOf(n)] as LabNode;

beforeAll(async () => {
  lab = await startLab({ id: 'sv3', subnet: 219, count: NAMES.length });
  work = mkdtempSync(join(tmpdir(), 'serve3-nodes-'));
  const ip = (n: string): string => byName(n).ip;
  writeFileSync(
    join(work, 'cluster.yaml'),
    [
      'apiVersion: anchorage.dev/v1alpha1',
      'kind: ClusterPKI',
      `controlPlaneEndpoint: ${ip('cp-1')}:6443`,
      'keyAlgorithm: ecdsa-p256',
      `ssh: {identityFile: ${lab.clientKey}, knownHosts: ${lab.knownHosts}}`,
      'controlPlane:',
      `  - {name: cp-1, ips: [${ip('cp-1')}]}`,
      'workers:',
      `  - {name: w-1, ips: [${ip('w-1')}]}`,
      // Nothing answers there.
      `  - {name: w-gone, ips: [10.251.${lab.subnet}.250]}`,
      '',
    ].join('\n'),
  );
  dir = join(work, 'pki');
  const r = await cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dir]);
  expect(r.code, r.stderr).toBe(0);
  srv = await startCli(['serve', '--dir', dir, '--listen', '127.0.0.1:0', '--interval', '1', '--allow-writes-on-loopback']);
  await waitFor('ready', async () => (await api(srv.url, '/readyz')).status === 200, 120_000);
}, 600_000);

afterAll(async () => {
  await srv?.stop();
  await lab?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('serve: nodes.push through the API', () => {
  it('plans every file as new and the unreachable node as one step; running it pushes exactly the manifest to each reachable node', async () => {
    const plan = await api(srv.url, '/api/v1/operations', { method: 'POST', body: { kind: 'nodes.push' } });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.body.state).toBe('planned');
    const steps = plan.body.plan.steps as { action: string; target: string; detail?: string }[];
    for (const n of NAMES)
      expect(
        steps
          .filter((s) => s.target.startsWith(`${n}:`))
          .map((s) => s.target.slice(n.length + 1))
          .sort(),
      ).toEqual(
        manifestOf(dir)
          .filter((f) => f.node === n)
          .map((f) => f.path)
          .sort(),
      );
    expect(new Set(steps.filter((s) => s.target.includes(':/')).map((s) => s.action))).toEqual(new Set(['new']));
    const gone = steps.filter((s) => s.target === 'w-gone');
    expect(gone).toHaveLength(1);
    expect(gone[0]?.action).toBe('unreachable');
    expect(gone[0]?.detail).toMatch(/^unreachable: root@10\.251\.219\.250: /);
    // Nothing was written by the plan.
    for (const n of NAMES) expect(nodeFiles(lab, byName(n), PKI_DIRS).size).toBe(0);

    const run = await api(srv.url, `/api/v1/operations/${plan.body.id}/run`, { method: 'POST' });
    expect(run.status, run.text).toBe(200);
    expect(run.body.state).toBe('failed');
    expect(run.body.error).toBe('1 of 3 node(s) failed');
    expect(run.body.log).toEqual(expect.arrayContaining(['cp-1: pushed', 'w-1: pushed']));
    expect((run.body.log as string[]).find((l) => l.startsWith('w-gone: '))).toMatch(
      /^w-gone: unreachable: root@10\.251\.219\.250: [^\n]*$/,
    );
    for (const n of NAMES) {
      const want = manifestOf(dir).filter((f) => f.node === n);
      const have = nodeFiles(lab, byName(n), PKI_DIRS);
      expect([...have.keys()].sort()).toEqual(want.map((f) => f.path).sort());
      for (const f of want) {
        const h = have.get(f.path);
        expect(h?.data.equals(dirFile(dir, n, f.path)), `${n}:${f.path}`).toBe(true);
        expect(`0${h?.mode.toString(8)}`, `${n}:${f.path}`).toBe(f.mode);
      }
    }
    expect((await api(srv.url, `/api/v1/operations/${plan.body.id}`)).body.state).toBe('failed');
  });

  it('plans nothing more for the pushed nodes; a node out of the config is a 400', async () => {
    const plan = await api(srv.url, '/api/v1/operations', {
      method: 'POST',
      body: { kind: 'nodes.push', args: { nodes: ['cp-1', 'w-1'] } },
    });
    expect(plan.status, plan.text).toBe(200);
    expect(plan.body.plan.steps).toEqual([]);
    expect(plan.body.plan.summary).toBe('push to 2 node(s): 0 change(s)');
    const bad = await api(srv.url, '/api/v1/operations', { method: 'POST', body: { kind: 'nodes.push', args: { nodes: ['w-9'] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^[^\n]*w-9[^\n]*$/);
  });
});
