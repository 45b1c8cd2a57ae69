// known_hosts matching against OpenSSH's own reading of the same file (`ssh-keygen -F`), including
// hashed names (`ssh-keygen -H`) and non-default ports.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkHostKey, knownHostsLine, parseKnownHosts, patternsMatch } from './known-hosts.ts';

const tmp = mkdtempSync(join(tmpdir(), 'anc-kh-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function key(name: string, type = 'ed25519'): { blob: Buffer; line: string } {
  const f = join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f]);
  const [t, b64] = readFileSync(`${f}.pub`, 'utf8').split(' ') as [string, string];
  return { blob: Buffer.from(b64, 'base64'), line: `${t} ${b64}` };
}

/** Does OpenSSH find `host` in the file? */
function opensshFinds(file: string, host: string): boolean {
  try {
    return execFileSync('ssh-keygen', ['-F', host, '-f', file], { encoding: 'utf8' }).includes('found');
  } catch {
    return false;
  }
}

describe('known_hosts', () => {
  const a = key('a');
  const b = key('b');
  const r = key('r', 'rsa');

  it('finds hosts as ssh-keygen -F does: plain, lists, wildcards, ports, negation, hashed', () => {
    const file = join(tmp, 'kh');
    const text = [
      `10.0.0.1 ${a.line}`,
      `node-2,10.0.0.2 ${a.line}`,
      `[10.0.0.3]:2222 ${a.line}`,
      `*.example.com,!bad.example.com ${a.line}`,
      `# comment`,
      `10.0.0.?? ${b.line}`,
      '',
    ].join('\n');
    writeFileSync(file, text);
    const hashed = join(tmp, 'kh-hashed');
    writeFileSync(hashed, text);
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    const entries = parseKnownHosts(text);
    const hashedEntries = parseKnownHosts(readFileSync(hashed, 'utf8'));
    expect(hashedEntries.some((e) => e.patterns.startsWith('|1|'))).toBe(true);
    for (const host of [
      '10.0.0.1',
      'node-2',
      '10.0.0.2',
      '[10.0.0.3]:2222',
      '10.0.0.3',
      'a.example.com',
      'bad.example.com',
      '10.0.0.42',
      'other',
    ]) {
      const ours = entries.some((e) => patternsMatch(e.patterns, host));
      expect(ours, host).toBe(opensshFinds(file, host));
      expect(
        hashedEntries.some((e) => patternsMatch(e.patterns, host)),
        `hashed ${host}`,
      ).toBe(opensshFinds(hashed, host));
    }
  });

  it('known, unknown, changed (any other key for the host), revoked', () => {
    const entries = parseKnownHosts(`10.0.0.1 ${a.line}\n[10.0.0.1]:2222 ${r.line}\n@revoked * ${b.line}\n`);
    expect(checkHostKey(entries, '10.0.0.1', 22, a.blob)).toEqual({ kind: 'known', line: 1 });
    expect(checkHostKey(entries, '10.0.0.9', 22, a.blob)).toEqual({ kind: 'unknown' });
    expect(checkHostKey(entries, '10.0.0.1', 2222, a.blob)).toEqual({ kind: 'changed', line: 2, knownType: 'ssh-rsa' });
    expect(checkHostKey(entries, '10.0.0.1', 22, b.blob)).toEqual({ kind: 'revoked', line: 3 });
  });

  it('writes lines OpenSSH reads back', () => {
    const file = join(tmp, 'kh-new');
    writeFileSync(file, `${knownHostsLine('10.1.1.1', 22, a.blob)}\n${knownHostsLine('10.1.1.2', 2200, a.blob)}\n`);
    expect(opensshFinds(file, '10.1.1.1')).toBe(true);
    expect(opensshFinds(file, '[10.1.1.2]:2200')).toBe(true);
    expect(opensshFinds(file, '10.1.1.2')).toBe(false);
  });
});
