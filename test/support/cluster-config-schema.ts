// JSON Schema of the cluster config, generated from the zod schema: the published
// docs/cluster-config.schema.json, checked against it by src/pki/schema.test.ts. After a config change:
//   node test/support/cluster-config-schema.ts > docs/cluster-config.schema.json
import { z } from 'zod';
import { clusterConfigSchema } from '../../src/pki/config.ts';

export function clusterConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(clusterConfigSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://anchorage.dev/schemas/cluster-pki-v1alpha1.json',
    title: 'Anchorage ClusterPKI (anchorage.dev/v1alpha1)',
  };
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(clusterConfigJsonSchema(), null, 2)}\n`);
