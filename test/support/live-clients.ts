// Clients that keep talking to a live API server while its PKI changes under it (renew, CA rotation): the
// end-to-end tests' proof that no request fails on trust. Shared by test/cluster/cluster.test.ts (a `pki init`
// cluster) and test/cluster/adopt-live.test.ts (a cluster the real kubeadm made, then adopted).
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { Certificate } from '../../src/x509/certificate.ts';
import { scanPem } from '../../src/x509/pem.ts';
import { tlsGet } from '../cluster/harness.ts';

/** What a client holds: the CA it trusts and its own certificate and key (PEM). */
export interface ClientCreds {
  ca: string;
  cert: string;
  key: string;
}

/** The embedded CA, client certificate and key of a kubeconfig. */
export function kubeconfigCreds(path: string): ClientCreds {
  const kc = parseYaml(readFileSync(path, 'utf8'));
  const b = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
  return {
    ca: b(kc.clusters[0].cluster['certificate-authority-data']),
    cert: b(kc.users[0].user['client-certificate-data']),
    key: b(kc.users[0].user['client-key-data']),
  };
}

export const certsOf = (pem: string): Certificate[] => scanPem(pem).map((b) => new Certificate(b.der));

/** SHA-256 of the certificate the API server on 127.0.0.1:port presents. */
export function servedCertificate(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new Certificate(raw).sha256);
    });
    s.on('error', reject);
  });
}

/**
 * A loop of GETs with each client's credentials until stopped. A 401 (client certificate not trusted) or a
 * TLS failure is recorded; a refused or reset connection (a component restarting) is not a trust failure.
 * Distribution is instant in the tests (components read the node tree), so `pausedWhile` holds the loop
 * while a phase is written: the property is that clients one phase behind keep working.
 */
export class LiveClients {
  readonly failures: string[] = [];
  requests = 0;
  private running = true;
  private paused = false;
  private idle: () => void = () => {};
  private readonly loop: Promise<void>;

  private readonly url: string;
  clients: ClientCreds[];

  constructor(url: string, clients: ClientCreds[]) {
    this.url = url;
    this.clients = clients;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running && i < 100_000; i++) {
      if (this.paused) {
        this.idle();
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      for (const k of this.clients) {
        try {
          const r = await tlsGet(this.url, { ca: k.ca, cert: k.cert, key: k.key });
          this.requests++;
          if (r.status === 401) this.failures.push('401 from the API server (client certificate not trusted)');
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (!/ECONNREFUSED|ECONNRESET|EPIPE|timeout/.test(`${code} ${(e as Error).message}`))
            this.failures.push(`${code}: ${(e as Error).message}`);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Run `f` while no request is in flight, then resume; `f` may swap `clients`. */
  async pausedWhile<T>(f: () => T | Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.idle = resolve;
      this.paused = true;
    });
    try {
      return await f();
    } catch (e) {
      this.running = false; // a failed phase ends the test: no loop left behind
      throw e;
    } finally {
      this.paused = false;
    }
  }

  async stop(): Promise<{ failures: string[]; requests: number }> {
    this.running = false;
    await this.loop;
    return { failures: this.failures, requests: this.requests };
  }
}
