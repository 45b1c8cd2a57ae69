// JSON Schema of the cluster config, generated from the zod schema (docs/cluster-config.schema.json).
import { z } from 'zod';
import { clusterConfigSchema } from './config.ts';

export function clusterConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(clusterConfigSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://anchorage.dev/schemas/cluster-pki-v1alpha1.json',
    title: 'Anchorage ClusterPKI (anchorage.dev/v1alpha1)',
  };
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(clusterConfigJsonSchema(), null, 2)}\n`);
