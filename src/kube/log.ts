// Structured logs (pino, JSON lines on stderr). Anything that may hold key material is never logged: the
// redaction below removes such fields wherever they appear, and callers log names and hashes, never data.
import { pino } from 'pino';

export type Logger = pino.Logger;

/** Field names whose values are never written (censored) at any depth we log. */
const SECRET_FIELDS = ['data', 'binaryData', 'key', 'privateKey', 'password', 'token', 'pem', 'stringData'];

export function createLogger(o: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: o.name ?? 'anchorage',
      level: o.level ?? 'info',
      redact: {
        paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), ...SECRET_FIELDS.map((f) => `*.*.${f}`)],
        censor: '[redacted]',
      },
      base: { pid: process.pid },
    },
    (o.destination ?? process.stderr) as pino.DestinationStream,
  );
}
