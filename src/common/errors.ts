// Errors caused by bad input (garbage files, wrong passwords, malformed config). The CLI prints their
// message as one line and exits 2; anything else is a bug and keeps its stack.
export class InputError extends Error {
  override name = 'InputError';
}

/** Messages quote decoded bytes; keep them on one line with control characters escaped. */
export function oneLine(message: string): string {
  return message.replace(/[\x00-\x1f\x7f]/g, (c) =>
    c === '\n' || c === '\r' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
