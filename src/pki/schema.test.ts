import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterConfigJsonSchema } from '../../test/support/cluster-config-schema.ts';
import { parseClusterConfig } from './config.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');

describe('cluster config schema', () => {
  it('the checked-in JSON Schema is the one generated from the zod schema', () => {
    const checkedIn = JSON.parse(readFileSync(join(docs, 'cluster-config.schema.json'), 'utf8'));
    expect(checkedIn).toEqual(clusterConfigJsonSchema());
  });

  it('the annotated example validates', () => {
    const c = parseClusterConfig(readFileSync(join(docs, 'examples', 'cluster.yaml'), 'utf8'), 'cluster.yaml');
    expect(c.controlPlane.map((n) => n.name)).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(c.rootCA?.enabled).toBe(true);
  });

  it('names the file and field of a mistake', () => {
    const base =
      'apiVersion: anchorage.dev/v1alpha1\nkind: ClusterPKI\ncontrolPlaneEndpoint: cp:6443\ncontrolPlane: [{name: cp-1, ips: [10.0.0.1]}]\n';
    expect(() => parseClusterConfig(`${base}serviceCIDR: 10.96.0.0\n`, 'c.yaml')).toThrow(
      'c.yaml: serviceCIDR: not a CIDR (e.g. 10.96.0.0/12)',
    );
    expect(() => parseClusterConfig(`${base}workers: [{name: cp-1, ips: [10.0.0.2]}]\n`, 'c.yaml')).toThrow(
      "c.yaml: workers: node name 'cp-1' is used twice (also in controlPlane)",
    );
    expect(() => parseClusterConfig(`${base}colour: blue\n`, 'c.yaml')).toThrow(/c\.yaml: \(top level\): Unrecognized key: "colour"/);
    expect(() => parseClusterConfig(`${base}etcd: {topology: external}\n`, 'c.yaml')).toThrow(
      'c.yaml: etcd.members: external etcd needs its members listed',
    );
    expect(() => parseClusterConfig('a: [', 'c.yaml')).toThrow(/c\.yaml: not valid YAML/);
  });
});
