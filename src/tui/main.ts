// The `anchorage tui` program: the terminal UI (app.ts) over `anchorage serve`'s API (api.ts). The command line
// (src/cli/commands/tui.ts) parses the flags, starts a server on a PKI folder for --dir, and calls runTui.
import { render } from 'ink';
import { createElement as h } from 'react';
import { ApiClient } from './api.ts';
import { App } from './app.ts';

export interface TuiOptions {
  /** The server's origin, e.g. http://127.0.0.1:8080. */
  server: string;
  token?: string;
  /** What the header names (the URL, or the PKI folder for --dir). */
  target: string;
  /** Whether the operations menu may plan and run (a writer token, or --dir). */
  writes: boolean;
}

/** Draw the TUI until the person quits (q or Ctrl-C). */
export async function runTui(o: TuiOptions): Promise<void> {
  const api = new ApiClient(o.server, o.token);
  const ink = render(h(App, { api, target: o.target, writes: o.writes }), {
    exitOnCtrlC: true,
    // A terminal is a terminal even where CI=true is set (Ink would otherwise draw only the last frame, at exit).
    interactive: process.stdout.isTTY === true,
    alternateScreen: process.stdout.isTTY === true,
  });
  await ink.waitUntilExit();
}
