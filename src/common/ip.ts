// `isIP` of node:net, without its costs where it can answer otherwise: Node's IPv6 pattern is compiled on first
// use and backtracks through every alternative on a string such as `cp.example.com:6443` (several ms each on
// these machines, docs/benchmarks.md, issue #12), and `node:net` itself loads Node's stream modules. IPv4 is
// Node's own pattern, copied; a string with a character no IPv6 address has (outside a `%zone`) is not one;
// anything else goes to node:net. src/common/ip.test.ts checks every answer against node:net's.
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^(?:${V4_SEG}\\.){3}${V4_SEG}$`);
/** A character an IPv6 address (hex groups, colons, an embedded IPv4 address) never holds before its zone. */
const NOT_IPV6 = /[^0-9A-Fa-f:.]/;

/**
 * 4, 6 or 0, exactly as node:net's isIP. Without a zone, a string with a character no IPv6 address holds,
 * or with fewer than two colons (every IPv6 address has 7, or `::`), is not one: `10.0.0.1:6443` never
 * reaches Node's pattern, whose first use compiles it (10-20 ms of a one-node `pki init` at load).
 */
export function isIP(s: string): 0 | 4 | 6 {
  if (IPV4.test(s)) return 4;
  if (!s.includes('%') && (NOT_IPV6.test(s) || s.indexOf(':') === s.lastIndexOf(':'))) return 0;
  return process.getBuiltinModule('node:net').isIPv6(s) ? 6 : 0;
}
