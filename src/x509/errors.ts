// Errors caused by bad input (garbage files, wrong passwords, malformed config). The CLI prints their
// message as one line and exits 2; anything else is a bug and keeps its stack.
export class InputError extends Error {
  override name = 'InputError';
}
