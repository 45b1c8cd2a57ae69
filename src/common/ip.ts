// `isIP` of node:net, without its costs where it can answer otherwise: Node's IPv6 pattern is compiled on first
// use and backtracks through every alternative on a string such as `cp.example.com:6443` (several ms each on
// these machines, docs/benchmarks.md, issue #12), and `node:net` itself loads Node's stream modules. IPv4 is
// Node's own pattern, copied; a string with a character no IPv6 address has (outside a `%zone`) is not one;
// anything else goes to node:net. src/common/ip.test.ts checks every answer against node:net's.
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^(?:${V4_SEG}\\.){3}${V4_SEG}$`);
/** A character an IPv6 address (hex groups, colons, an embedded IPv4 address) never holds before its zone. */
const NOT_IPV6 = /[^0-9A-Fa-f:.]/;

/** A zone's characters (node:net: `%[0-9a-zA-Z-.:]{1,}`). */
const ZONE = /^[0-9a-zA-Z.:-]+$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * 4, 6 or 0, exactly as node:net's isIP, without Node's IPv6 pattern: its first use compiles it and
 * backtracks through every alternative (10-20 ms of a one-node `pki init` at load, for `::1` and
 * `10.0.0.1:6443`). IPv6 is parsed as the pattern reads it: hex groups of 1-4 digits, at most one `::`
 * standing for at least one group, an IPv4 address as the last two groups, then an optional `%zone`.
 * src/common/ip.test.ts checks every answer against node:net's.
 */
export function isIP(s: string): 0 | 4 | 6 {
  if (IPV4.test(s)) return 4;
  const pct = s.indexOf('%');
  const main = pct < 0 ? s : s.slice(0, pct);
  if (pct >= 0 && !ZONE.test(s.slice(pct + 1))) return 0;
  if (NOT_IPV6.test(main)) return 0;
  return isIPv6Address(main) ? 6 : 0;
}

function isIPv6Address(s: string): boolean {
  const gap = s.indexOf('::');
  if (gap >= 0 && s.indexOf('::', gap + 1) >= 0) return false;
  const head = gap < 0 ? s : s.slice(0, gap);
  const tail = gap < 0 ? '' : s.slice(gap + 2);
  const groups = [...(head ? head.split(':') : []), ...(tail ? tail.split(':') : [])];
  // An IPv4 address only at the very end, after a group or the gap.
  const last = groups.at(-1);
  let n = groups.length;
  if (last !== undefined && last.includes('.') && (gap < 0 || tail !== '')) {
    if (!IPV4.test(last)) return false;
    groups.pop();
    n++;
  }
  for (const g of groups) if (!HEX_GROUP.test(g)) return false;
  return gap < 0 ? n === 8 : n <= 7;
}
