// Which files the control-plane components use, read from what a scan sees of them: a static pod manifest
// (kubeadm's /etc/kubernetes/manifests/kube-apiserver.yaml, etcd.yaml), a systemd unit (the hard way's
// kube-apiserver.service, etcd.service), a kubelet config file (authentication.x509.clientCAFile), or the
// mirror pod the kubelet publishes in kube-system for a static pod (what the component runs with now, read by
// src/scan/cluster.ts). Each gives the component's flags; `relations.ts` falls back to the layout's default
// files for what is absent.

/** A component's flags as found in one file. */
export interface ComponentFlags {
  /** The file the flags were read from. */
  source: string;
  node?: string;
  component: 'kube-apiserver' | 'etcd' | 'kubelet';
  /** Flag name without dashes → value (the last one wins, as with the components' own flag parsing). */
  flags: Map<string, string>;
}

/** Most bytes of a manifest, unit or kubelet config read for flags. */
const MAX_BYTES = 1024 * 1024;

const FLAG = /^--([a-z0-9-]+)=(.*)$/;

function flagsOf(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = (args[i] as string).trim().replace(/^['"]|['"]$/g, '');
    const m = FLAG.exec(a);
    if (m) out.set(m[1] as string, m[2] as string);
    else if (/^--[a-z0-9-]+$/.test(a) && i + 1 < args.length && !(args[i + 1] as string).startsWith('-'))
      out.set(a.slice(2), (args[++i] as string).trim());
  }
  return out;
}

const COMPONENTS = ['kube-apiserver', 'etcd'] as const;

/**
 * The flags of a mirror pod's container (`command` then `args`, as the kubelet runs them) when it runs
 * kube-apiserver or etcd; else undefined. `node` is the pod's spec.nodeName.
 */
export function mirrorPodFlags(source: string, node: string | undefined, argv: readonly string[]): ComponentFlags | undefined {
  const bin = (argv[0] ?? '').slice((argv[0] ?? '').lastIndexOf('/') + 1);
  const component = COMPONENTS.find((c) => c === bin);
  if (!component) return undefined;
  return { source, ...(node !== undefined && { node }), component, flags: flagsOf(argv.slice(1)) };
}

/** The component's flags when `source` is a static pod manifest, a systemd unit or a kubelet config; else undefined. */
export function componentFlags(source: string, node: string | undefined, data: Uint8Array): ComponentFlags | undefined {
  // Each pattern below ends in .yaml, .yml or .service: anything else (every Kubernetes object key) is no component.
  if (!source.endsWith('.yaml') && !source.endsWith('.yml') && !source.endsWith('.service')) return undefined;
  const base = source.slice(source.lastIndexOf('/') + 1);
  const manifest = /\/manifests\/(kube-apiserver|etcd)\.ya?ml$/.exec(source);
  const unit = /^(kube-apiserver|etcd)\.service$/.exec(base);
  const kubelet = /\/var\/lib\/kubelet\/config\.ya?ml$/.test(source);
  if (!manifest && !unit && !kubelet) return undefined;
  if (data.length > MAX_BYTES) return undefined;
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  const at = (component: ComponentFlags['component'], flags: Map<string, string>): ComponentFlags => ({
    source,
    ...(node !== undefined && { node }),
    component,
    flags,
  });
  if (kubelet) {
    // KubeletConfiguration: authentication.x509.clientCAFile, the one CA file the kubelet checks clients with.
    const m = /^\s*clientCAFile:\s*["']?([^"'\s#]+)/m.exec(text);
    return at('kubelet', new Map(m ? [['client-ca-file', m[1] as string]] : []));
  }
  const component = (manifest?.[1] ?? unit?.[1]) as (typeof COMPONENTS)[number];
  if (unit) {
    // ExecStart=/usr/local/bin/kube-apiserver \ --flag=value \ ...
    const exec = /^ExecStart=([\s\S]*?)(?:\n(?!\s)|$)/m.exec(text.replace(/\\\r?\n/g, ' '));
    if (!exec) return undefined;
    return at(component, flagsOf((exec[1] as string).split(/\s+/).filter(Boolean)));
  }
  // A static pod: `- --flag=value` lines under the container's command (YAML block list); the flags of one
  // container are all that kubeadm writes, so a line scan is enough and needs no YAML parser at start-up.
  const args = [...text.matchAll(/^\s*-\s+(--[a-z0-9-]+=?.*)$/gm)].map((m) => (m[1] as string).trim());
  if (!args.length) return undefined;
  return at(component, flagsOf(args));
}
