// For bench/webhook.bench.ts without a control plane (BENCH_WEBHOOK_STANDALONE=1): the webhook's admission path
// alone in its own process: node:https with the serving leaf given, the request read as `anchorage webhook`
// reads it, answered by the same review() with the default configuration (namespace labels empty, the identity
// issuer ready). What it leaves out: the informers and the leader's work, which are off the admission path.
//   node bench/webhook-standalone.ts <cert.pem> <key.pem> <port>   prints "listening" once it accepts
// WEBHOOK_STANDALONE_ROOT=<folder>: review() from that tree instead (BENCH_WEBHOOK_BEFORE, bench/tree-at.ts).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import type * as Config from '../src/webhook/config.ts';
import type * as Review from '../src/webhook/review.ts';

const root = process.env.WEBHOOK_STANDALONE_ROOT ?? join(import.meta.dirname, '..');
const { parseConfig } = (await import(join(root, 'src', 'webhook', 'config.ts'))) as typeof Config;
const { MAX_REVIEW_BYTES, review } = (await import(join(root, 'src', 'webhook', 'review.ts'))) as typeof Review;

const [certFile, keyFile, port] = process.argv.slice(2) as [string, string, string];
const config = parseConfig({ identity: { issuer: { secret: { namespace: 'anchorage', name: 'identity-ca' } } } });
const excluded = new Set(['kube-system', 'anchorage']);
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (d: Buffer) => {
    size += d.length;
    if (size > MAX_REVIEW_BYTES) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(d);
  });
  req.on('end', () => {
    const a = review(Buffer.concat(chunks), { config, excluded, issuerReady: true, labelsOf: () => ({}) });
    res.writeHead(a.status, { 'content-type': a.status === 200 ? 'application/json' : 'text/plain' }).end(a.body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
