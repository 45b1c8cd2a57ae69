// Each command says which node files changed: exactly what must be distributed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseClusterConfig } from './config.ts';
import { initPki, renewPki, rotateCa } from './service.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-changes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const text = stringify({
  apiVersion: 'anchorage.dev/v1alpha1',
  kind: 'ClusterPKI',
  controlPlaneEndpoint: 'cp:6443',
  keyAlgorithm: 'ecdsa-p256',
  controlPlane: [{ name: 'cp-1', ips: ['10.0.0.1'] }],
  workers: [{ name: 'w-1', ips: ['10.0.1.1'] }],
});
const config = parseClusterConfig(text);
const out = join(dir, 'pki');

describe('changed node files', () => {
  it('init lists every file, a second init none', async () => {
    const first = await initPki({ config, configText: text, configDir: dir, out });
    expect(first.changes.files).toBe(first.manifest.files.length);
    expect((await initPki({ config, configText: text, configDir: dir, out })).changes).toEqual({
      files: 0,
      nodes: [],
      removed: { files: 0, nodes: [] },
    });
  });

  it('renew lists only the renewed certificate and key', async () => {
    const r = await renewPki({ dir: out, config, names: ['apiserver'] });
    expect(r.changes.nodes).toEqual([{ node: 'cp-1', paths: ['/etc/kubernetes/pki/apiserver.crt', '/etc/kubernetes/pki/apiserver.key'] }]);
  });

  it('a rotation phase lists the bundles it touched', async () => {
    expect((await rotateCa({ dir: out, config, ca: 'front-proxy-ca', action: 'next' })).changes.files).toBe(0);
    const bundle = await rotateCa({ dir: out, config, ca: 'front-proxy-ca', action: 'next' });
    expect(bundle.changes.nodes).toEqual([{ node: 'cp-1', paths: ['/etc/kubernetes/pki/front-proxy-ca.crt'] }]);
  });
});
