// A 3-member etcd cluster with peer TLS, members on distinct loopback addresses, from Anchorage's
// external-etcd PKI: member-to-member trust with the generated peer certificates.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { anchorage, freePort, tlsGet, waitFor } from './harness.ts';

const MEMBERS = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];

describe('a 3-member etcd cluster on peer TLS from pki init', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-etcd-'));
  const procs: ChildProcess[] = [];
  let bin = '';
  beforeAll(async () => {
    bin = await kubeBinDir();
  }, K8S_BUILD_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null) return r();
            p.once('exit', () => r());
            p.kill('SIGTERM');
            setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('forms a cluster, replicates writes between members, and refuses clients without a certificate', async () => {
    const [clientPort, peerPort] = [await freePort(MEMBERS[0]), await freePort(MEMBERS[0])];
    const config = {
      apiVersion: 'anchorage.dev/v1alpha1',
      kind: 'ClusterPKI',
      controlPlaneEndpoint: '127.0.0.1:6443',
      keyAlgorithm: 'ecdsa-p256',
      controlPlane: [{ name: 'cp-1', ips: ['127.0.0.1'] }],
      etcd: { topology: 'external', members: MEMBERS.map((ip, i) => ({ name: `etcd-${i + 1}`, ips: [ip] })) },
    };
    writeFileSync(join(dir, 'cluster.yaml'), stringify(config));
    const init = anchorage(['pki', 'init', '--config', join(dir, 'cluster.yaml'), '--out', join(dir, 'pki')]);
    expect(init.code, init.stderr).toBe(0);
    const P = (i: number): string => join(dir, 'pki', 'nodes', `etcd-${i + 1}`, 'etc/kubernetes/pki/etcd');
    const initial = MEMBERS.map((ip, i) => `etcd-${i + 1}=https://${ip}:${peerPort}`).join(',');
    MEMBERS.forEach((ip, i) => {
      const fd = openSync(join(dir, `etcd-${i + 1}.log`), 'a');
      procs.push(
        spawn(
          join(bin, 'etcd'),
          [
            `--name=etcd-${i + 1}`,
            `--data-dir=${join(dir, `data-${i + 1}`)}`,
            `--listen-client-urls=https://${ip}:${clientPort}`,
            `--advertise-client-urls=https://${ip}:${clientPort}`,
            `--listen-peer-urls=https://${ip}:${peerPort}`,
            `--initial-advertise-peer-urls=https://${ip}:${peerPort}`,
            `--initial-cluster=${initial}`,
            '--initial-cluster-state=new',
            '--listen-metrics-urls=',
            `--cert-file=${P(i)}/server.crt`,
            `--key-file=${P(i)}/server.key`,
            `--trusted-ca-file=${P(i)}/ca.crt`,
            '--client-cert-auth=true',
            `--peer-cert-file=${P(i)}/peer.crt`,
            `--peer-key-file=${P(i)}/peer.key`,
            `--peer-trusted-ca-file=${P(i)}/ca.crt`,
            '--peer-client-cert-auth=true',
            '--log-level=warn',
          ],
          { stdio: ['ignore', fd, fd] },
        ),
      );
      closeSync(fd);
    });
    const tls = (i: number): { ca: string; cert: string; key: string } => ({
      ca: readFileSync(join(P(i), 'ca.crt'), 'utf8'),
      cert: readFileSync(join(P(i), 'healthcheck-client.crt'), 'utf8'),
      key: readFileSync(join(P(i), 'healthcheck-client.key'), 'utf8'),
    });
    const url = (i: number, path: string): string => `https://${MEMBERS[i]}:${clientPort}${path}`;
    for (let i = 0; i < 3; i++)
      await waitFor(`etcd-${i + 1} healthy`, async () => {
        for (const p of procs)
          if (p.exitCode !== null)
            throw new Error(`an etcd member exited: ${readFileSync(join(dir, `etcd-${procs.indexOf(p) + 1}.log`), 'utf8').slice(-2000)}`);
        const r = await tlsGet(url(i, '/health'), tls(i));
        return r.status === 200 && r.body.includes('"health":"true"');
      });
    const post = async (i: number, path: string, body: object): Promise<Record<string, unknown>> =>
      JSON.parse(
        (
          await tlsGet(url(i, path), {
            ...tls(i),
            method: 'POST',
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          })
        ).body,
      );
    const members = (await post(1, '/v3/cluster/member/list', {})).members as { name: string; peerURLs: string[] }[];
    expect(members.map((m) => m.name).sort()).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
    expect(members.flatMap((m) => m.peerURLs).every((u) => u.startsWith('https://'))).toBe(true);
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    await post(0, '/v3/kv/put', { key: b64('anchorage'), value: b64('trusted') });
    await waitFor('the write to reach etcd-3', async () => {
      const r = await post(2, '/v3/kv/range', { key: b64('anchorage') });
      const kvs = r.kvs as { value: string }[] | undefined;
      return Buffer.from(kvs?.[0]?.value ?? '', 'base64').toString() === 'trusted';
    });
    // client-cert-auth: no certificate, no answer.
    await expect(tlsGet(url(0, '/v3/kv/range'), { ca: tls(0).ca, method: 'POST', body: '{}' })).rejects.toThrow();
  }, 300_000);
});
