// The client side of the CA API: first enrolment with a bootstrap token, renewal with the current
// certificate as the TLS client certificate. The server is trusted through the given CA file only.
import { request } from 'node:https';
import { InputError } from '../common/errors.ts';

export interface EnrolResult {
  serial: string;
  logIndex: number;
  certificate: string;
  chain: string;
}

export interface ApiTarget {
  /** https://host:port of `ca serve`. */
  url: string;
  /** PEM of the CA that issued the server's certificate. */
  trust: string;
  /** Client certificate (PEM, with its chain) and key (PEM) for renewal. */
  cert?: string;
  key?: string;
  /** Host name to check the server's certificate against, when it differs from the URL's. */
  servername?: string;
}

export function postJson(t: ApiTarget, path: string, body: unknown, timeoutMs = 60_000): Promise<EnrolResult> {
  const u = new URL(path, t.url);
  if (u.protocol !== 'https:') throw new InputError(`the CA API is HTTPS only: ${t.url}`);
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: 'POST',
        ca: t.trust,
        ...(t.cert ? { cert: t.cert } : {}),
        ...(t.key ? { key: t.key } : {}),
        ...(t.servername ? { servername: t.servername } : {}),
        headers: { 'content-type': 'application/json', 'content-length': data.length },
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > 1 << 20) res.destroy(new Error('answer over 1 MiB'));
          else parts.push(d);
        });
        res.on('end', () => {
          let v: Record<string, unknown>;
          try {
            v = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
          } catch {
            reject(new InputError(`CA API ${u.origin} answered ${res.statusCode} without JSON`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) reject(new InputError(`CA refused (${res.statusCode}): ${String(v.error)}`));
          else resolve(v as unknown as EnrolResult);
        });
        res.on('error', (e) => reject(new InputError(`CA API ${u.origin}: ${e.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000}s`)));
    req.on('error', (e) => reject(new InputError(`CA API ${u.origin}: ${e.message}`)));
    req.end(data);
  });
}
