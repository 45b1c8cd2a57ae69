import { describe, expect, it } from 'vitest';
import { ca, leaf } from '../../test/support/trust-fixtures.ts';
import { emptyConstraintSet, type NameConstraints } from '../x509/extensions.ts';
import { checkNameConstraints, cnLooksLikeDns, dnsMatchesPattern, parseHost } from './names.ts';

const nc = (permitted: Partial<NameConstraints['permitted']>, excluded: Partial<NameConstraints['excluded']> = {}): NameConstraints => ({
  permitted: { ...emptyConstraintSet(), ...permitted },
  excluded: { ...emptyConstraintSet(), ...excluded },
});

describe('host names', () => {
  it('parses DNS names, IPs and URIs', () => {
    expect(parseHost('Web.Example.com.')).toEqual({ type: 'dns', value: 'web.example.com' });
    expect(parseHost('[2001:db8::1]')).toMatchObject({ type: 'ip', value: '2001:db8::1' });
    expect(parseHost('spiffe://td/ns/a')).toEqual({ type: 'uri', value: 'spiffe://td/ns/a' });
    expect(() => parseHost('a b')).toThrow(/not a DNS name/);
  });

  it('matches wildcards as one whole left-most label', () => {
    expect(dnsMatchesPattern('a.example.com', '*.example.com')).toBe(true);
    expect(dnsMatchesPattern('a.example.com', '*.EXAMPLE.com.')).toBe(true);
    expect(dnsMatchesPattern('example.com', '*.example.com')).toBe(false);
    expect(dnsMatchesPattern('a.b.example.com', '*.example.com')).toBe(false);
    expect(dnsMatchesPattern('foo.example.com', 'f*.example.com')).toBe(false);
  });

  it("treats a CN as a DNS name only when it looks like one (openssl's rule)", () => {
    expect(cnLooksLikeDns('api.example.com')).toBe(true);
    expect(cnLooksLikeDns('kubernetes')).toBe(false);
    expect(cnLooksLikeDns('system:node:n1')).toBe(false);
    expect(cnLooksLikeDns('-a.example.com')).toBe(false);
  });
});

describe('name constraints', () => {
  const root = ca('CN=R');
  const names = (sans: Record<string, string[]>, subject = 'CN=x') => leaf(subject, root, { sans }).cert;
  const kinds = (c: ReturnType<typeof names>, n: NameConstraints) =>
    checkNameConstraints(c, n, true).map((v) => `${v.kind}:${v.type}:${v.name}`);

  it('reads a bare domain as the domain and its subdomains, a leading dot as subdomains only', () => {
    expect(kinds(names({ dns: ['example.com', 'a.example.com'] }), nc({ dns: ['example.com'] }))).toEqual([]);
    expect(kinds(names({ dns: ['example.com'] }), nc({ dns: ['.example.com'] }))).toEqual(['permitted:dns:example.com']);
    expect(kinds(names({ dns: ['badexample.com'] }), nc({ dns: ['example.com'] }))).toEqual(['permitted:dns:badexample.com']);
  });

  it('checks IPs by family and prefix', () => {
    expect(kinds(names({ ip: ['10.1.2.3', '2001:db8::5'] }), nc({ ip: ['10.0.0.0/8', '2001:db8::/32'] }))).toEqual([]);
    expect(kinds(names({ ip: ['10.1.2.3'] }), nc({ ip: ['2001:db8::/32'] }))).toEqual(['permitted:ip:10.1.2.3']);
    expect(kinds(names({ ip: ['10.1.2.3'] }), nc({}, { ip: ['10.1.0.0/16'] }))).toEqual(['excluded:ip:10.1.2.3']);
  });

  it('reads email constraints as mailbox, host or domain', () => {
    const c = names({ email: ['bob@mail.example.com'] });
    expect(kinds(c, nc({ email: ['bob@mail.example.com'] }))).toEqual([]);
    expect(kinds(c, nc({ email: ['mail.example.com'] }))).toEqual([]);
    expect(kinds(c, nc({ email: ['.example.com'] }))).toEqual([]);
    expect(kinds(c, nc({ email: ['example.com'] }))).toEqual(['permitted:email:bob@mail.example.com']);
  });

  it('constrains the host of a URI and rejects URIs without one', () => {
    expect(kinds(names({ uri: ['spiffe://prod.cluster.local/x'] }), nc({ uri: ['.cluster.local'] }))).toEqual([]);
    expect(kinds(names({ uri: ['urn:uuid:1234'] }), nc({ uri: ['.cluster.local'] }))).toEqual(['permitted:uri:urn:uuid:1234']);
  });

  it('checks the subject as a directory name and emailAddress as an email', () => {
    // RFC 4514 order: O is the first (most general) RDN, so O=Acme is a prefix of the name.
    const c = names({}, 'emailAddress=a@evil.test,CN=x,O=Acme');
    expect(kinds(c, nc({ directory: ['O=acme'] }))).toEqual([]);
    expect(kinds(c, nc({ directory: ['O=Other'] }))).toEqual(['permitted:directory:emailAddress=a@evil.test,CN=x,O=Acme']);
    expect(kinds(c, nc({ email: ['example.com'] }))).toEqual(['permitted:email:a@evil.test']);
  });
});
