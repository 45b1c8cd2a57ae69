// /metrics certificate series as the Prometheus text format (exposition formats, "Text format details") and the
// x509-certificate-exporter's labels spell them: one series per place, the place's labels then the certificate's,
// label values with backslash, double quote and line feed escaped, empty labels left out, a place seen twice
// written once. The serial's decimal form comes from openssl's hex.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ca } from '../../test/support/trust-fixtures.ts';
import { metricsChunks, SeriesOnce } from './metrics.ts';
import { Monitor } from './monitor.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('metricsChunks', () => {
  it('writes each place of a certificate as one series, label values escaped as the text format says', () => {
    const c = ca('C=DE,O=Quote \\" and back\\\\slash,CN=metrics test CA', undefined, { notBefore: new Date('2025-01-01T00:00:00Z') });
    const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'c.pem'), c.cert.toPem());
    const hex = execFileSync('openssl', ['x509', '-in', join(dir, 'c.pem'), '-noout', '-serial'], { encoding: 'utf8' })
      .trim()
      .split('=')[1];
    const serial = BigInt(`0x${hex}`).toString(10);

    const now = new Date('2026-01-01T00:00:00Z');
    const monitor = new Monitor({ now: () => now });
    const cluster = monitor.addCluster({ name: 'prod', kind: 'dir' });
    const places = [
      'ns1/Secret/plain[tls.crt]',
      'ns1/Secret/plain[tls.crt]',
      '/srv/we"ird/back\\slash\nname.pem',
      '/srv/line\nfeed.pem',
      'kube-system/ConfigMap/kube-root-ca.crt[ca.crt]',
      '/etc/kubernetes/pki/ca.crt',
    ];
    const data = Buffer.from(c.cert.toPem());
    const values = places.map((source) => ({ source, data }));
    // Places that share their labels: one file holding the certificate twice (two blocks), and a CRD's caBundle read
    // at two entries that both label as no entry.
    values.push(
      { source: '/srv/twice.pem', data: Buffer.concat([data, data]) },
      { source: 'CustomResourceDefinition/crd.example.com[caBundle]', data },
      { source: 'CustomResourceDefinition/crd.example.com[conversion.caBundle]', data },
    );
    cluster.setObject('objects', { values, backends: [], certManager: [], failures: [] });
    cluster.rescan();

    const text = [...metricsChunks(monitor, now)].join('');
    const notAfter = c.cert.notAfter.getTime() / 1000;
    const cert = `cluster="prod",serial_number="${serial}",issuer_C="DE",issuer_O="Quote \\" and back\\\\slash",issuer_CN="metrics test CA",subject_C="DE",subject_O="Quote \\" and back\\\\slash",subject_CN="metrics test CA"`;
    const series = text.split('\n').filter((l) => l.startsWith('x509_cert_not_after{'));
    expect(series.sort()).toEqual(
      [
        `x509_cert_not_after{secret_namespace="ns1",secret_name="plain",secret_key="tls.crt",${cert}} ${notAfter}`,
        `x509_cert_not_after{filename="back\\\\slash\\nname.pem",filepath="/srv/we\\"ird/back\\\\slash\\nname.pem",${cert}} ${notAfter}`,
        `x509_cert_not_after{configmap_namespace="kube-system",configmap_name="kube-root-ca.crt",configmap_key="ca.crt",${cert}} ${notAfter}`,
        `x509_cert_not_after{filename="line\\nfeed.pem",filepath="/srv/line\\nfeed.pem",${cert}} ${notAfter}`,
        `x509_cert_not_after{filename="twice.pem",filepath="/srv/twice.pem",${cert}} ${notAfter}`,
        `x509_cert_not_after{cabundle_resource_kind="CustomResourceDefinition",cabundle_resource_name="crd.example.com",${cert}} ${notAfter}`,
        `x509_cert_not_after{filename="ca.crt",filepath="/etc/kubernetes/pki/ca.crt",${cert}} ${notAfter}`,
      ].sort(),
    );
    // Every certificate family has the same series; each family's lines come together after its HELP and TYPE.
    for (const family of ['x509_cert_not_before', 'x509_cert_expired', 'x509_cert_expires_in_seconds', 'x509_cert_valid_since_seconds']) {
      const at = text.indexOf(`# TYPE ${family} gauge\n`);
      expect(at).toBeGreaterThan(0);
      const block = text.slice(at).split('\n').slice(1, 8);
      expect(block.map((l) => l.slice(0, l.lastIndexOf(' ')).replace(family, 'x509_cert_not_after')).sort()).toEqual(
        series.map((l) => l.slice(0, l.lastIndexOf(' '))).sort(),
      );
    }
    expect(text).toContain(`x509_cert_expired{secret_namespace="ns1",secret_name="plain",secret_key="tls.crt",${cert}} 0\n`);
  });

  it('keeps a series once whatever the order of the places', () => {
    // Out of source order, a place labelled as an earlier one of another run of its source is still the same series.
    const places = [{ source: 'b' }, { source: 'a' }, { source: 'b' }];
    const once = new SeriesOnce(places);
    expect(places.map((p) => once.first(p.source, `text of ${p.source}`))).toEqual([true, true, false]);
    const sorted = [{ source: 'a' }, { source: 'b' }, { source: 'b' }, { source: 'c' }];
    const again = new SeriesOnce(sorted);
    expect(['x', 'y', 'y', 'x'].map((t, i) => again.first((sorted[i] as { source: string }).source, t))).toEqual([true, true, false, true]);
  });
});
