import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tlsSecretManifest } from '../src/k8s/secret.ts';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from './support/k8s.ts';
import { tempDirs } from './support/temp.ts';

const tempDir = tempDirs();

let kubectl = '';
beforeAll(async () => {
  kubectl = join(await kubeBinDir(), 'kubectl');
}, K8S_BUILD_TIMEOUT_MS);

describe('TLS Secret manifest', () => {
  it('is what `kubectl create secret tls --dry-run=client -o yaml` writes (openssl-made pair)', async () => {
    const d = tempDir('secret-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(d, 'k.pem'),
        '-out',
        join(d, 'c.pem'),
        '-subj',
        '/CN=web',
        '-days',
        '1',
      ],
      { stdio: 'pipe' },
    );
    const theirs = execFileSync(
      kubectl,
      [
        'create',
        'secret',
        'tls',
        'web-tls',
        '--cert',
        join(d, 'c.pem'),
        '--key',
        join(d, 'k.pem'),
        '-n',
        'shop',
        '--dry-run=client',
        '-o',
        'yaml',
      ],
      { encoding: 'utf8' },
    );
    const mine = tlsSecretManifest({
      name: 'web-tls',
      namespace: 'shop',
      certPem: readFileSync(join(d, 'c.pem'), 'utf8'),
      keyPem: readFileSync(join(d, 'k.pem'), 'utf8'),
    });
    expect(mine).toBe(theirs);
  });

  it('refuses names Kubernetes refuses', () => {
    expect(() => tlsSecretManifest({ name: 'Web_TLS', certPem: '', keyPem: '' })).toThrow(/not a valid Kubernetes name/);
    expect(() => tlsSecretManifest({ name: 'ok', namespace: 'Bad', certPem: '', keyPem: '' })).toThrow(/namespace 'Bad'/);
  });
});
