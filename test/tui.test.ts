// `anchorage tui` in a real terminal: tmux runs it in a detached session (send-keys types, capture-pane reads
// the screen) against the demo PKI (`anchorage tui --dir`, which serves the folder itself). Navigate the views,
// run the verify check and read its result; plan a renewal and read the plan. The screen is compared with
// what openssl and the demo's planted faults say, not with the code under test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsDir, BIN, makeDemo, NODE } from './support/ui.ts';

const SESSION = `ui-tui-${process.pid}`;
let dir: string;
let demo: string;

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', SESSION);
const keys = (...k: string[]): void => {
  tmux('send-keys', '-t', SESSION, ...k);
};

/** Wait (bounded) until the screen matches `re`; returns the screen. */
async function until(re: RegExp, ms = 120_000): Promise<string> {
  const deadline = Date.now() + ms;
  let s = '';
  while (Date.now() < deadline) {
    s = screen();
    if (re.test(s)) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the screen never showed ${re}:\n${s}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ui-tui-'));
  demo = join(dir, 'demo');
  makeDemo(demo);
  tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', '45', NODE, BIN, 'tui', '--dir', demo);
});

afterAll(() => {
  try {
    tmux('kill-session', '-t', SESSION);
  } catch {
    /* already gone */
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('anchorage tui in tmux', () => {
  it('navigates, runs the verify check and reads its result, and shows a plan before running it', async () => {
    // The header: the folder, live events, the counts.
    await until(/Anchorage .*● live/);
    await until(/\d+ certificates/);
    // Help.
    keys('?');
    await until(/Keyboard/);
    // Certificates: the table, then a search for the expired kubelet serving certificate of worker-1.
    keys('c');
    await until(/subject\s+role\s+expires/);
    keys('/');
    await until(/search \(subject, SAN/);
    keys('-l', 'system:node:worker-1');
    keys('Enter');
    const table = await until(/matching 'system:node:worker-1'/);
    expect(table).toMatch(/system:node:worker-1\s+kubelet-serving\s+\d+d ago\s+expired/);
    // Details of the first row (the soonest to expire): its findings with the fix.
    keys('Enter');
    await until(/who trusts it/);
    expect(screen()).toMatch(/fix:/);
    keys('Escape');
    // Nodes: both nodes of the demo; worker-1 holds the CA key it should not (an extra file).
    keys('n');
    const nodes = await until(/worker-1\s+\S+\s+yes/);
    expect(nodes).toMatch(/cp-1\s+\S+\s+yes/);
    // Findings: the CA key on the worker is one of them.
    keys('f');
    await until(/open finding\(s\)/);
    // The operations menu: verify, the check over every trust edge.
    keys('m');
    await until(/verify/);
    keys('End');
    keys('Enter');
    const result = await until(/Verify: \d+ broken trust edge/);
    const broken = Number(/Verify: (\d+) broken/.exec(result)?.[1]);
    expect(broken).toBeGreaterThan(0);
    // The planted expired kubelet serving certificate is one of the broken edges, with its reason.
    expect(result).toMatch(/✗ CN=kubernetes signs CN=system:node:worker-1,O=system:nodes: expired/);
    expect(screen()).toMatch(/verify: \d+ broken trust edge/); // the log pane
    writeFileSync(join(artifactsDir('tui'), 'verify.txt'), result);
    keys('Enter');
    // Renew: the plan first; n cancels and nothing runs.
    keys('Home');
    keys('Down');
    keys('Enter');
    await until(/certificates \(all, apiserver/);
    for (let i = 0; i < 3; i++) keys('BSpace');
    keys('-l', 'apiserver');
    keys('Enter');
    const plan = await until(/Run these \d+ steps\? y runs, n cancels/);
    expect(plan).toMatch(/Plan \(nothing has run yet\): pki.renew/);
    expect(plan).toMatch(/renew apiserver@cp-1/);
    writeFileSync(join(artifactsDir('tui'), 'plan.txt'), plan);
    keys('n');
    await until(/cancelled pki.renew .*nothing ran/);
    keys('q');
  });
});
