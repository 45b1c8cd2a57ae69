// A TCP relay on loopback that holds each connection's answers back by a delay of its own (the first connection
// the first delay of the list, the next the second, cycling): requests sent at once over several connections then
// finish in another order than they were sent in, as they do against a remote API server. Bytes are relayed as they
// are (TLS passes through untouched), in order within a connection; nothing else is changed. With `accept`, only
// that many connections are relayed: any later one is reset as soon as it comes (an API server going away mid-read
// for new connections while the kept-alive ones still work).
import { connect, createServer, type Socket } from 'node:net';

export interface DelayRelay {
  port: number;
  /** Connections relayed so far. */
  connections(): number;
  /** Connections reset because `accept` were relayed already. */
  refused(): number;
  close(): Promise<void>;
}

export async function delayRelay(
  target: { host: string; port: number },
  delaysMs: readonly number[],
  o: { accept?: number } = {},
): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let refused = 0;
  const server = createServer((client) => {
    if (o.accept !== undefined && accepted >= o.accept) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    const delay = delaysMs[accepted % delaysMs.length] ?? 0;
    accepted++;
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    // Each chunk of the answer leaves `delay` ms after it came, in order: one timer for the head of the queue.
    const queue: { due: number; data: Buffer | null }[] = [];
    let scheduled = false;
    const pump = (): void => {
      scheduled = false;
      while (queue.length && (queue[0] as { due: number }).due <= Date.now()) {
        const { data } = queue.shift() as { data: Buffer | null };
        if (data === null) client.end();
        else client.write(data);
      }
      if (queue.length) {
        scheduled = true;
        setTimeout(pump, (queue[0] as { due: number }).due - Date.now());
      }
    };
    const hold = (data: Buffer | null): void => {
      queue.push({ due: Date.now() + delay, data });
      if (!scheduled) {
        scheduled = true;
        setTimeout(pump, delay);
      }
    };
    upstream.on('data', (d: Buffer) => hold(d));
    upstream.on('end', () => hold(null));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    port: address.port,
    connections: () => accepted,
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
