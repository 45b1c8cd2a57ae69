// src/kube/kubeconfig.ts against kubectl itself (the pinned build): the same files, merged and flattened by
// `kubectl config view --minify --flatten`, must give the same server, CA, client certificate, key and token.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../../test/support/k8s.ts';
import { InputError } from '../common/errors.ts';
import { type HttpsAuth, LiteKubeConfig } from './kubeconfig.ts';

let dir: string;
let kubectl: string;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

beforeAll(async () => {
  kubectl = join(await kubeBinDir(), 'kubectl');
  dir = mkdtempSync(join(tmpdir(), 'bundles2-kubeconfig-'));
  mkdirSync(join(dir, 'one', 'certs'), { recursive: true });
  mkdirSync(join(dir, 'two'), { recursive: true });
  writeFileSync(join(dir, 'one', 'certs', 'ca.pem'), 'CA ONE\n');
  writeFileSync(join(dir, 'one', 'certs', 'me.crt'), 'CERT ONE\n');
  writeFileSync(join(dir, 'one', 'certs', 'me.key'), 'KEY ONE\n');
  writeFileSync(join(dir, 'two', 'token'), 'token-two\n');
  // Two files with overlapping names: the first file's entries win, as kubectl merges KUBECONFIG.
  writeFileSync(
    join(dir, 'one', 'config'),
    `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: shared
  cluster: {server: "https://one.example:6443", certificate-authority: certs/ca.pem}
contexts:
- name: one
  context: {cluster: shared, user: me}
users:
- name: me
  user: {client-certificate: certs/me.crt, client-key: certs/me.key}
`,
  );
  writeFileSync(
    join(dir, 'two', 'config'),
    `apiVersion: v1
kind: Config
current-context: two
clusters:
- name: shared
  cluster: {server: "https://ignored.example:6443"}
- name: other
  cluster: {server: "https://two.example:443", certificate-authority-data: ${b64('CA TWO\n')}, tls-server-name: api.two.example}
contexts:
- name: two
  context: {cluster: other, user: robot}
- name: one
  context: {cluster: other, user: robot}
users:
- name: robot
  user: {tokenFile: token}
- name: me
  user: {token: ignored}
`,
  );
}, K8S_BUILD_TIMEOUT_MS);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What kubectl makes of the files: the chosen cluster and user, file references inlined. */
function viaKubectl(
  files: string,
  context?: string,
): { server: string; ca?: string; cert?: string; key?: string; token?: string; sni?: string } {
  const out = execFileSync(
    kubectl,
    ['config', 'view', '--minify', '--flatten', '--raw', ...(context ? ['--context', context] : []), '-o', 'yaml'],
    { encoding: 'utf8', env: { ...process.env, KUBECONFIG: files } },
  );
  const c = parse(out) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const cl = c.clusters[0]?.cluster ?? {};
  const u = c.users[0]?.user ?? {};
  const dec = (v?: string): string | undefined => (v === undefined ? undefined : Buffer.from(v, 'base64').toString());
  return {
    server: cl.server as string,
    ca: dec(cl['certificate-authority-data']),
    cert: dec(u['client-certificate-data']),
    key: dec(u['client-key-data']),
    // A token file stays a path (as written, relative to its kubeconfig): the token is what the file holds.
    token:
      u.token ??
      (u.tokenFile ? readFileSync(isAbsolute(u.tokenFile) ? u.tokenFile : join(dir, 'two', u.tokenFile), 'utf8').trim() : undefined),
    sni: cl['tls-server-name'],
  };
}

async function viaLite(files: string, context?: string): ReturnType<typeof viaKubectl> extends infer R ? Promise<R> : never {
  const kc = LiteKubeConfig.load({ kubeconfig: files, ...(context ? { context } : {}) });
  const o: Partial<HttpsAuth> = {};
  await kc.applyToHTTPSOptions(o);
  const s = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  const bearer = o.headers?.authorization?.replace(/^Bearer /, '');
  return { server: kc.getCurrentCluster().server, ca: s(o.ca), cert: s(o.cert), key: s(o.key), token: bearer, sni: o.servername } as never;
}

describe('LiteKubeConfig', () => {
  it('merges, resolves relative paths and picks the context as kubectl does', async () => {
    const files = `${join(dir, 'one', 'config')}:${join(dir, 'two', 'config')}`;
    for (const ctx of [undefined, 'one', 'two']) {
      const k = viaKubectl(files, ctx);
      const l = await viaLite(files, ctx);
      expect(l).toEqual(Object.fromEntries(Object.entries(k).filter(([, v]) => v !== undefined)) as never);
    }
    // The reverse order: the second file's current-context and entries now win.
    const rev = `${join(dir, 'two', 'config')}:${join(dir, 'one', 'config')}`;
    expect((await viaLite(rev)).server).toBe(viaKubectl(rev).server);
    expect((await viaLite(rev, 'one')).server).toBe(viaKubectl(rev, 'one').server);
  });

  it('refuses a missing file or an unknown context in one line', () => {
    expect(() => LiteKubeConfig.load({ kubeconfig: join(dir, 'nope') })).toThrow(InputError);
    expect(() => LiteKubeConfig.load({ kubeconfig: join(dir, 'one', 'config'), context: 'zzz' })).toThrow(/no context named 'zzz'/);
  });
});
