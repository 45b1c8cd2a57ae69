// Which machines `anchorage nodes` talks to, and how: each node of the cluster config with its SSH settings
// (the node's own `ssh`, else the top-level `ssh`, else OpenSSH's defaults). Pure.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InputError } from '../common/errors.ts';
import type { ClusterConfig, EndpointPorts, SshSettings } from '../pki/config.ts';

export interface SshHop {
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  agent?: string;
}

export interface NodeTarget extends SshHop {
  name: string;
  roles: ('control-plane' | 'worker' | 'etcd')[];
  ips: string[];
  knownHosts: string;
  jump?: SshHop;
  /** Log in as `user` and run everything as root through sudo. */
  sudo?: boolean;
  postPushHook?: string;
  ports: Required<EndpointPorts>;
}

function expand(p: string, base: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(base, p);
}

function hop(
  s: Partial<SshSettings> & { address?: string | undefined },
  fallbackAddress: string,
  base: string,
  env: NodeJS.ProcessEnv,
): SshHop {
  const h: SshHop = { address: s.address ?? fallbackAddress, port: s.port ?? 22, user: s.user ?? 'root' };
  if (s.identityFile !== undefined) h.identityFile = expand(s.identityFile, base);
  if (s.agent) {
    const sock = env.SSH_AUTH_SOCK;
    if (!sock) throw new InputError('ssh.agent is set but SSH_AUTH_SOCK is not: start an agent or name an identityFile');
    h.agent = sock;
  }
  if (h.identityFile === undefined && h.agent === undefined) {
    // OpenSSH's default identity, when nothing is named.
    h.identityFile = join(homedir(), '.ssh', 'id_ed25519');
  }
  return h;
}

/**
 * Every node of the config, in config order (control planes, workers, external etcd members), with its
 * settings resolved. Relative paths are relative to `base` (the config's folder).
 */
export function nodeTargets(config: ClusterConfig, base: string, env: NodeJS.ProcessEnv = process.env): NodeTarget[] {
  const d = config.ssh ?? {};
  const groups: [ClusterConfig['controlPlane'], NodeTarget['roles']][] = [
    [config.controlPlane, config.etcd.topology === 'stacked' ? ['control-plane', 'etcd'] : ['control-plane']],
    [config.workers, ['worker']],
    [config.etcd.topology === 'external' ? config.etcd.members : [], ['etcd']],
  ];
  const out: NodeTarget[] = [];
  for (const [list, roles] of groups)
    for (const n of list) {
      const s: SshSettings = { ...d, ...(n.ssh ?? {}) };
      const first = n.ips[0] as string;
      const t: NodeTarget = {
        name: n.name,
        roles,
        ips: n.ips,
        ...hop(s, first, base, env),
        knownHosts: expand(s.knownHosts ?? '~/.ssh/known_hosts', base),
        ports: {
          apiserver: n.endpoints?.apiserver ?? config.endpoints?.apiserver ?? config.apiServerPort,
          kubelet: n.endpoints?.kubelet ?? config.endpoints?.kubelet ?? 10250,
          etcdClient: n.endpoints?.etcdClient ?? config.endpoints?.etcdClient ?? 2379,
          etcdPeer: n.endpoints?.etcdPeer ?? config.endpoints?.etcdPeer ?? 2380,
        },
      };
      if (s.jump) t.jump = hop(s.jump, s.jump.address, base, env);
      if (s.postPushHook !== undefined) t.postPushHook = s.postPushHook;
      if (s.sudo) t.sudo = true;
      out.push(t);
    }
  return out;
}

/** The nodes named by --node (all when none are named); an unknown name is bad input. */
export function selectTargets(all: NodeTarget[], names: readonly string[]): NodeTarget[] {
  if (names.length === 0) return all;
  const known = new Set(all.map((t) => t.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length) throw new InputError(`--node: no node named ${bad.join(', ')} in the cluster config`);
  return all.filter((t) => names.includes(t.name));
}
