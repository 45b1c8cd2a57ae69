// The inventory: certificates once by SHA-256 with every place, keys linked by public key, issuer edges
// proved by signature. openssl makes the material and computes the fingerprints the model is held to.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairGroup } from '../scan/scan.ts';
import { buildInventory, nodeOfPath } from './inventory.ts';
import { readObjects } from './read.ts';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ossl = (...a: string[]): string => execFileSync('openssl', a, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const file = (f: string): Buffer => readFileSync(join(dir, f));
const fingerprint = (f: string): string =>
  (ossl('x509', '-in', f, '-noout', '-fingerprint', '-sha256').split('=')[1] ?? '').trim().replaceAll(':', '').toLowerCase();

beforeAll(() => {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=test-ca',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
  );
  ossl('req', '-new', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf');
  ossl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '10', '-out', 'leaf.crt');
  ossl('pkey', '-in', 'leaf.key', '-pubout', '-outform', 'DER', '-out', 'leaf.pub.der');
});

describe('buildInventory', () => {
  it('one entry per certificate with every place; keys linked; issuer edges by signature', () => {
    const bundle = Buffer.concat([file('leaf.crt'), file('ca.crt')]);
    const inv = buildInventory([
      { location: { source: 'a/ca.crt' }, result: readObjects(file('ca.crt')) },
      { location: { source: 'b/chain.pem' }, result: readObjects(bundle) },
      { location: { source: 'b/leaf.key' }, result: readObjects(file('leaf.key')) },
    ]);
    const ca = inv.certificates.get(fingerprint('ca.crt'));
    const leaf = inv.certificates.get(fingerprint('leaf.crt'));
    expect(inv.certificates.size).toBe(2);
    expect(ca?.locations).toEqual([{ source: 'a/ca.crt' }, { source: 'b/chain.pem', at: expect.stringMatching(/^block 2 \(line \d+\)$/) }]);
    expect(leaf?.locations).toEqual([{ source: 'b/chain.pem', at: expect.stringMatching(/^block 1 /) }]);
    expect(leaf?.issuers).toEqual([ca?.sha256]);
    expect(ca?.issuers).toEqual([]);
    const spki = createHash('sha256').update(file('leaf.pub.der')).digest('hex');
    expect([...inv.keys.keys()]).toEqual([spki]);
    expect(inv.keys.get(spki)?.certificates).toEqual([leaf?.sha256]);
    expect(inv.keys.get(spki)?.locations).toEqual([{ source: 'b/leaf.key' }]);
  });

  it('a node tree path gives its node and the path on the node, and the role from it', () => {
    expect(nodeOfPath('out/nodes/worker-1/etc/kubernetes/pki/ca.crt')).toEqual({
      root: 'out',
      node: 'worker-1',
      nodePath: '/etc/kubernetes/pki/ca.crt',
    });
    expect(nodeOfPath('/x/nodes/cp-1/var/lib/kubelet/pki/kubelet.crt')?.node).toBe('cp-1');
    expect(nodeOfPath('/x/nodes/readme.md')).toBeUndefined();
    const inv = buildInventory([
      {
        location: { source: 'o/nodes/n1/etc/kubernetes/pki/ca.crt', node: 'n1', nodePath: '/etc/kubernetes/pki/ca.crt' },
        result: readObjects(file('ca.crt')),
      },
    ]);
    expect([...inv.certificates.values()][0]?.role).toBe('ca');
  });

  it('pairs keys and certificates by kubeconfig user, Secret, file and name.crt/name.key', () => {
    expect(pairGroup({ source: 'k.conf', at: 'users[u].client-key-data line 1' })).toBe(
      pairGroup({ source: 'k.conf', at: 'users[u].client-certificate-data line 1' }),
    );
    expect(pairGroup({ source: 'k.conf', at: 'clusters[c].certificate-authority-data line 1' })).toBeUndefined();
    expect(pairGroup({ source: 'ns/Secret/tls[tls.crt]' })).toBe(pairGroup({ source: 'ns/Secret/tls[tls.key]' }));
    expect(pairGroup({ source: 'd/apiserver.crt' })).toBe(pairGroup({ source: 'd/apiserver.key' }));
    expect(pairGroup({ source: 'd/web.pem' })).toBe(pairGroup({ source: 'd/web-key.pem' }));
    expect(pairGroup({ source: 'd/a.crt' })).not.toBe(pairGroup({ source: 'd/b.key' }));
  });
});
