// The label value that names a bundle on its targets (trust.anchorage.dev/bundle): at most 63 characters.
import { contentHash } from './render.ts';
import type { BundleRef } from './spec.ts';

export function ownerValue(b: Pick<BundleRef, 'kind' | 'name' | 'namespace'>): string {
  const k = { ClusterBundle: 'c', Bundle: 'b', TrustManagerBundle: 'tm', TrustManagerClusterBundle: 'tmc' }[b.kind];
  const v = b.namespace ? `${k}.${b.namespace}.${b.name}` : `${k}.${b.name}`;
  return v.length <= 63 ? v : `h.${contentHash(v).slice(0, 40)}`;
}
