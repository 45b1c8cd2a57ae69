// How `anchorage nodes` gets onto a machine, against real OpenSSH servers (test/support/sshd.ts):
// - a user who becomes root with sudo (without a password, with one given as env:/file:, without the
//   right to): every file still lands root-owned with its mode, through the same atomic writes, and the
//   password never shows;
// - a jump host: a node whose only network link is to the jump host's namespace, so the test process
//   cannot reach it at all; the target's sshd logs the jump host's private address as the client, and
//   the jump host's sshd logs the forwarded connection.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CliResult, cli, dirFile, manifestOf, nodeFiles } from './support/nodes-cli.ts';
import { type Lab, type LabNode, startLab } from './support/sshd.ts';

vi.setConfig({ testTimeout: 300_000 });

// cp-1: root login, and the jump host of w-hidden (which sits behind it); w-ops: sudo without a
// password; w-opsp: sudo with the account's password; w-anc: a user sudo refuses (its password is right,
// but it is not in sudoers).
const NAMES = ['cp-1', 'w-hidden', 'w-ops', 'w-opsp', 'w-anc'];
const SUDO = ['w-ops', 'w-opsp'];
const PKI_DIRS = ['/etc/kubernetes', '/var/lib/kubelet'];
let lab: Lab;
let work: string;
let dir: string;
const byName = (n: string): LabNode => lab.nodes[NAMES.indexOf(n)] as LabNode;
const outputs: string[] = [];

async function nodes(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  // --timeout: a bound on each SSH connection, generous for a loaded test machine (a later --timeout wins).
  const r = await cli(['nodes', ...args.slice(0, 1), '--timeout', '60', ...args.slice(1)], env);
  outputs.push(r.stdout, r.stderr);
  return r;
}
const json = (r: CliResult) => JSON.parse(r.stdout) as { nodes: { node: string; ok: boolean; error?: string; [k: string]: unknown }[] };
const errors = (r: CliResult) => Object.fromEntries(json(r).nodes.flatMap((x) => (x.ok ? [] : [[x.node, x.error as string]])));
const sel = (names: string[]) => names.flatMap((n) => ['--node', n]);

function expectExactly(name: string): void {
  const want = manifestOf(dir).filter((f) => f.node === name);
  const have = nodeFiles(lab, byName(name), PKI_DIRS);
  expect([...have.keys()].sort()).toEqual(want.map((f) => f.path).sort());
  for (const f of want) {
    const h = have.get(f.path);
    expect(h?.data.equals(dirFile(dir, name, f.path)), `${name}:${f.path}`).toBe(true);
    expect(`0${h?.mode.toString(8)}`, `${name}:${f.path}`).toBe(f.mode);
    expect([h?.uid, h?.gid], `${name}:${f.path}`).toEqual([0, 0]);
  }
}

function config(jump: boolean): string {
  const ip = (n: string) => byName(n).ip;
  const hook = "postPushHook: 'id -u > /var/lib/hook-uid'";
  return [
    'apiVersion: anchorage.dev/v1alpha1',
    'kind: ClusterPKI',
    `controlPlaneEndpoint: ${ip('cp-1')}:6443`,
    'keyAlgorithm: ecdsa-p256',
    `ssh: {identityFile: ${lab.clientKey}, knownHosts: ${lab.knownHosts}}`,
    'controlPlane:',
    `  - {name: cp-1, ips: [${ip('cp-1')}]}`,
    'workers:',
    `  - {name: w-hidden, ips: [${ip('w-hidden')}]${jump ? `, ssh: {jump: {address: ${ip('cp-1')}, identityFile: ${lab.clientKey}}}` : ''}}`,
    `  - {name: w-ops, ips: [${ip('w-ops')}], ssh: {user: ops, sudo: true, ${hook}}}`,
    `  - {name: w-opsp, ips: [${ip('w-opsp')}], ssh: {user: opsp, sudo: true, ${hook}}}`,
    `  - {name: w-anc, ips: [${ip('w-anc')}], ssh: {user: anc, sudo: true}}`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  lab = await startLab({
    id: 'na',
    subnet: 205,
    count: NAMES.length,
    behind: { [NAMES.indexOf('w-hidden')]: NAMES.indexOf('cp-1') },
    logLevel: (i) => (NAMES[i] === 'cp-1' ? 'DEBUG1' : 'VERBOSE'),
  });
  work = mkdtempSync(join(tmpdir(), 'anc-na-work-'));
  writeFileSync(join(work, 'cluster.yaml'), config(true));
  writeFileSync(join(work, 'direct.yaml'), config(false));
  dir = join(work, 'pki');
  const init = await cli(['pki', 'init', '--config', join(work, 'cluster.yaml'), '--out', dir]);
  expect(init.code, init.stderr).toBe(0);
}, 600_000);

afterAll(async () => {
  await lab?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('sudo', () => {
  it('a node whose sudo wants a password and none is given is one line; the others are pushed', async () => {
    const r = await nodes(['push', '--dir', dir, ...sel(SUDO), '-o', 'json']);
    expect(r.code).toBe(1);
    expect(errors(r)).toEqual({ 'w-opsp': 'sudo on w-opsp asks for a password: give --become-password (env:NAME, file:PATH or prompt)' });
    expectExactly('w-ops');
    expect(nodeFiles(lab, byName('w-opsp'), PKI_DIRS).size).toBe(0);
  });

  it('a wrong password is refused in one line and nothing is written', async () => {
    const r = await nodes(['push', '--dir', dir, '--node', 'w-opsp', '--become-password', 'env:ANC_PW', '-o', 'json'], {
      ANC_PW: 'not-the-password',
    });
    expect(r.code).toBe(1);
    expect(errors(r)).toEqual({ 'w-opsp': 'sudo on w-opsp refused the password' });
    expect(nodeFiles(lab, byName('w-opsp'), PKI_DIRS).size).toBe(0);
  });

  it('with the password (env: or file:), files land root-owned with their modes; the hook runs as root; a user sudo refuses is one line', async () => {
    const r = await nodes(['push', '--dir', dir, ...sel([...SUDO, 'w-anc']), '--become-password', 'env:ANC_PW', '-o', 'json'], {
      ANC_PW: lab.sudoPassword,
    });
    expect(r.code).toBe(1);
    expect(Object.keys(errors(r))).toEqual(['w-anc']);
    expect(errors(r)['w-anc']).toMatch(/^sudo on w-anc: the user may not run sudo \(.*anc.*\)$/);
    for (const n of SUDO) expectExactly(n);
    // The hook ran as root through sudo (on w-ops in the first push, on w-opsp now).
    expect(readFileSync(lab.path(byName('w-opsp'), '/var/lib/hook-uid'), 'utf8')).toBe('0\n');
    expect(readFileSync(lab.path(byName('w-ops'), '/var/lib/hook-uid'), 'utf8')).toBe('0\n');
    // The journal and backups are root's, as with a root login.
    for (const n of SUDO) {
      const j = nodeFiles(lab, byName(n), ['/var/lib/anchorage']).get('/var/lib/anchorage/push.json');
      expect([j?.uid, j?.mode]).toEqual([0, 0o600]);
    }
    const pw = join(work, 'pw');
    writeFileSync(pw, `${lab.sudoPassword}\n`, { mode: 0o600 });
    const st = await nodes(['status', '--dir', dir, ...sel(SUDO), '--become-password', `file:${pw}`, '--no-history', '-o', 'json']);
    expect(st.code, st.stderr).toBe(0);
    for (const x of json(st).nodes) expect(x.counts, x.node).toMatchObject({ drift: 0, missing: 0, unknown: 0 });
  });

  it('drift made by hand is repaired through sudo, and rollback restores it exactly (owner and mode included)', async () => {
    const n = byName('w-opsp');
    const key = '/var/lib/kubelet/pki/kubelet.key';
    const real = lab.path(n, key);
    writeFileSync(real, 'not a key\n');
    lab.exec(n, ['chown', '4244:4244', key]);
    lab.exec(n, ['chmod', '0640', key]);
    const before = nodeFiles(lab, n, PKI_DIRS).get(key);
    const p = await nodes(['plan', '--dir', dir, '--node', 'w-opsp', '--become-password', 'env:ANC_PW', '-o', 'json'], {
      ANC_PW: lab.sudoPassword,
    });
    expect(((json(p).nodes[0]?.files ?? []) as { path: string; state: string; why?: string }[]).filter((f) => f.state !== 'same')).toEqual([
      { path: key, state: 'changed', why: 'content, mode 0640, owner 4244:4244' },
    ]);
    const env = { ANC_PW: lab.sudoPassword };
    expect((await nodes(['push', '--dir', dir, '--node', 'w-opsp', '--become-password', 'env:ANC_PW'], env)).code).toBe(0);
    expectExactly('w-opsp');
    expect((await nodes(['rollback', '--dir', dir, '--node', 'w-opsp', '--become-password', 'env:ANC_PW'], env)).code).toBe(0);
    const after = nodeFiles(lab, n, PKI_DIRS).get(key);
    expect([after?.data.toString(), after?.mode, after?.uid, after?.gid]).toEqual([before?.data.toString(), 0o640, 4244, 4244]);
    expect((await nodes(['push', '--dir', dir, '--node', 'w-opsp', '--become-password', 'env:ANC_PW'], env)).code).toBe(0);
    expectExactly('w-opsp');
  });

  it('never prints the sudo password or key material', () => {
    for (const o of outputs) {
      expect(o).not.toContain(lab.sudoPassword);
      expect(o).not.toMatch(/PRIVATE KEY|anchorage-sudo-/);
    }
  });
});

describe('jump host', () => {
  it('the hidden node is linked to cp-1 only: no route to it from here or from another node', async () => {
    const hidden = byName('w-hidden');
    // Not through any interface of the lab (this machine's default route leads elsewhere).
    const route = execFileSync('ip', ['route', 'get', hidden.ip], { encoding: 'utf8' });
    expect(route).not.toMatch(/dev anc-/);
    const tcp = (from: string): string => {
      try {
        lab.exec(byName(from), ['bash', '-c', `exec 3<>/dev/tcp/${hidden.ip}/22`]);
        return 'connected';
      } catch (e) {
        return /unreachable/i.test(String((e as { stderr?: string }).stderr)) ? 'unreachable' : 'failed';
      }
    };
    expect([tcp('cp-1'), tcp('w-ops')]).toEqual(['connected', 'unreachable']);
    const r = await nodes(['plan', '--dir', dir, '--config', join(work, 'direct.yaml'), '--node', 'w-hidden', '--timeout', '5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: w-hidden: unreachable: root@10\.252\.205\.2: /m);
  });

  it('push through the jump host: exact files; both sshd logs show the path through cp-1', async () => {
    const r = await nodes(['push', '--dir', dir, '--node', 'w-hidden', '--node', 'cp-1']);
    expect(r.code, r.stderr).toBe(0);
    expectExactly('w-hidden');
    expectExactly('cp-1');
    const hidden = byName('w-hidden');
    const jumpLan = '10.252.205.1';
    // The target saw the jump host's address on their private link as its client, and nothing else.
    const targetLog = readFileSync(hidden.log, 'utf8');
    const accepted = [...targetLog.matchAll(/Accepted publickey for root from (\S+) port/g)].map((m) => m[1]);
    expect(accepted.length).toBeGreaterThan(0);
    expect(new Set(accepted)).toEqual(new Set([jumpLan]));
    // The jump host opened the forwarded connection to the target's SSH port.
    const jumpLog = readFileSync(byName('cp-1').log, 'utf8');
    expect(jumpLog).toMatch(
      new RegExp(`server_request_direct_tcpip: originator \\S+ port \\d+, target ${hidden.ip.replace(/\./g, '\\.')} port 22`),
    );
  });
});
