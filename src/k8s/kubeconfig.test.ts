// writeKubeconfig writes plain values itself and leaves everything else to the YAML library: the library is
// the oracle here, for every value the shortcut takes and for whole kubeconfigs.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type KubeconfigSpec, kubeconfigDoc, plainScalar, writeKubeconfig } from './kubeconfig.ts';

/** The document writeKubeconfig describes, written by the YAML library alone. */
const oracle = (s: KubeconfigSpec): string => stringify(kubeconfigDoc(s), { lineWidth: 0 });

const TRICKY = 'aZ09:/.@-_+=#&*!|>\'"%`?,[]{} ~\t\nTrueNul';
function randomString(n: number): string {
  const b = randomBytes(n);
  return [...b].map((x) => TRICKY[x % TRICKY.length]).join('');
}

describe('writeKubeconfig', () => {
  it('a value it writes plain is one the YAML library writes plain, at every depth', () => {
    const samples = [
      'kubernetes',
      'https://cp.example.com:6443',
      'https://10.0.0.1:6443',
      'https://[fd00::1]:6443',
      'system:node:cp-1',
      'system:kube-controller-manager',
      'kubernetes-admin@kubernetes',
      'a:',
      'a: b',
      'a:b',
      'true',
      'True',
      'null',
      'yes',
      'no',
      'on',
      'Infinity',
      'x'.repeat(5000),
      Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64'),
      'abc=',
      'a+b/c==',
      'e1',
      'E1',
      'x#y',
      'x #y',
    ];
    for (let i = 0; i < 3000; i++) samples.push(randomString(1 + (i % 12)));
    let plain = 0;
    for (const v of samples) {
      if (!plainScalar(v)) continue;
      plain++;
      expect(stringify({ k: v }, { lineWidth: 0 })).toBe(`k: ${v}\n`);
      expect(stringify({ l: [{ m: { k: v } }] }, { lineWidth: 0 })).toBe(`l:\n  - m:\n      k: ${v}\n`);
      expect(parse(`k: ${v}\n`)).toEqual({ k: v });
    }
    expect(plain).toBeGreaterThan(100);
  });

  it('writes byte for byte what the YAML library writes, with and without the shortcut', () => {
    const pem = (label: string): string => `-----BEGIN ${label}-----\n${randomBytes(300).toString('base64')}\n-----END ${label}-----\n`;
    const specs: KubeconfigSpec[] = [
      {
        clusterName: 'kubernetes',
        server: 'https://cp.example.com:6443',
        caPem: pem('CERTIFICATE'),
        userName: 'kubernetes-admin',
        clientCertPem: pem('CERTIFICATE'),
        clientKeyPem: pem('PRIVATE KEY'),
      },
      {
        clusterName: 'kubernetes',
        server: 'https://[fd00::1]:6443',
        caPem: pem('CERTIFICATE'),
        userName: 'system:node:cp-1',
        clientCertPem: pem('CERTIFICATE'),
        clientKeyPem: pem('EC PRIVATE KEY'),
      },
      { clusterName: 'my cluster', server: 'https://10.0.0.1:6443', caPem: pem('CERTIFICATE'), userName: 'true', token: 'abc.def' },
      {
        clusterName: 'c',
        server: 'https://10.0.0.1:6443',
        caPem: pem('CERTIFICATE'),
        userName: 'u',
        token: 'abcdef.0123456789abcdef',
        contextName: 'ctx',
        namespace: 'kube-system',
      },
      { clusterName: 'c', server: 'https://10.0.0.1:6443', caPem: pem('CERTIFICATE'), userName: 'u' },
      { clusterName: 'c', server: 'https://h:1', caPem: pem('CERTIFICATE'), userName: 'u', token: 'x: y', namespace: '#n' },
    ];
    for (const s of specs) expect(writeKubeconfig(s)).toBe(oracle(s));
  });
});
