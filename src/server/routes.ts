// The route table: one row per route of docs/api.md with its parameters, who may call it and its answer's
// schema. The server registers these rows, and GET /api/v1/openapi.json is generated from the same rows,
// so the document cannot drift from what is served.
export type Access = 'public' | 'read' | 'write' | 'agent';

export interface Param {
  name: string;
  in: 'query' | 'path';
  description: string;
  schema: Record<string, unknown>;
}

export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI form: `/api/v1/certificates/{sha256}`. */
  path: string;
  id: string;
  summary: string;
  access: Access;
  params?: Param[];
  body?: Record<string, unknown>;
  /** Schema of the 200 answer (a $ref or an inline schema); `contentType` when not JSON. */
  response: Record<string, unknown>;
  contentType?: string;
}

const q = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }): Param => ({
  name,
  in: 'query',
  description,
  schema,
});
const p = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }): Param => ({
  name,
  in: 'path',
  description,
  schema,
});
const ref = (n: string): Record<string, unknown> => ({ $ref: `#/components/schemas/${n}` });
const list = (n: string): Record<string, unknown> => ({
  type: 'object',
  required: ['items', 'total'],
  properties: { items: { type: 'array', items: ref(n) }, total: { type: 'integer' }, continue: { type: 'string' } },
});
const paging = [
  q('limit', 'items per page, 1 to 1000 (default 100)', { type: 'integer', minimum: 1, maximum: 1000 }),
  q('continue', 'the `continue` of the previous page'),
];
const SEVERITY = { type: 'string', enum: ['error', 'warning', 'notice'] };
const HEALTH = { type: 'string', enum: ['ok', 'expiring', 'expired', 'untrusted', 'error'] };
const SHA = p('sha256', 'lowercase hex SHA-256 of the DER', { type: 'string', pattern: '^[0-9a-f]{64}$' });

export const ROUTES: RouteSpec[] = [
  { method: 'GET', path: '/healthz', id: 'healthz', summary: 'process alive', access: 'public', response: { type: 'object' } },
  {
    method: 'GET',
    path: '/readyz',
    id: 'readyz',
    summary: 'store reachable and first inventory done (503 otherwise)',
    access: 'public',
    response: { type: 'object' },
  },
  {
    method: 'GET',
    path: '/metrics',
    id: 'metrics',
    summary: 'Prometheus text: x509-certificate-exporter names, anchorage_findings, scrape health',
    access: 'public',
    response: { type: 'string' },
    contentType: 'text/plain; version=0.0.4',
  },
  {
    method: 'GET',
    path: '/api/v1/clusters',
    id: 'listClusters',
    summary: 'every cluster with its sources and counts',
    access: 'read',
    response: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Cluster') } } },
  },
  {
    method: 'GET',
    path: '/api/v1/certificates',
    id: 'listCertificates',
    summary: 'certificates, filtered, sorted and paged',
    access: 'read',
    params: [
      q('cluster', 'only this cluster'),
      q('q', 'case-insensitive: subject, issuer, SANs; serial and sha256 prefixes'),
      q('health', 'only this health', HEALTH),
      q('severity', 'only certificates whose worst finding has this severity', SEVERITY),
      q('role', 'Kubernetes role (docs/findings.md)'),
      q('ca', 'CA certificates only (true) or leaves only (false)', { type: 'string', enum: ['true', 'false'] }),
      q('expiresBefore', 'notAfter before this RFC 3339 time', { type: 'string', format: 'date-time' }),
      q('sort', 'order (default notAfter)', { type: 'string', enum: ['notAfter', '-notAfter', 'subject', '-subject'] }),
      ...paging,
    ],
    response: list('CertificateSummary'),
  },
  {
    method: 'GET',
    path: '/api/v1/certificates/{sha256}',
    id: 'getCertificate',
    summary: 'one certificate with its chain, locations, who trusts it and its findings',
    access: 'read',
    params: [SHA, q('cluster', 'the cluster, when several hold it')],
    response: ref('CertificateDetail'),
  },
  {
    method: 'GET',
    path: '/api/v1/certificates/{sha256}/pem',
    id: 'getCertificatePem',
    summary: 'the certificate as a PEM download',
    access: 'read',
    params: [SHA],
    response: { type: 'string' },
    contentType: 'application/x-pem-file',
  },
  {
    method: 'GET',
    path: '/api/v1/graph',
    id: 'getGraph',
    summary: 'the trust graph (at most 5,000 nodes; truncated: true beyond)',
    access: 'read',
    params: [
      q('cluster', 'only this cluster'),
      q('namespace', 'certificates seen in this namespace'),
      q('node', 'certificates on this node'),
    ],
    response: ref('Graph'),
  },
  {
    method: 'GET',
    path: '/api/v1/findings',
    id: 'listFindings',
    summary: 'findings with their history; no state: every unresolved one',
    access: 'read',
    params: [
      q('cluster', 'only this cluster'),
      q('severity', 'only this severity', SEVERITY),
      q('id', 'only this finding id (docs/findings.md)'),
      q('state', 'open: unresolved and not acknowledged; resolved; acknowledged', {
        type: 'string',
        enum: ['open', 'resolved', 'acknowledged'],
      }),
      ...paging,
    ],
    response: list('Finding'),
  },
  {
    method: 'POST',
    path: '/api/v1/findings/{key}/ack',
    id: 'ackFinding',
    summary: 'acknowledge a finding until a time at most 90 days ahead (writer)',
    access: 'write',
    params: [p('key', 'the finding key')],
    body: {
      type: 'object',
      required: ['reason', 'until'],
      properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 }, until: { type: 'string', format: 'date-time' } },
    },
    response: ref('Finding'),
  },
  {
    method: 'DELETE',
    path: '/api/v1/findings/{key}/ack',
    id: 'unackFinding',
    summary: 'remove the acknowledgement (writer)',
    access: 'write',
    params: [p('key', 'the finding key')],
    response: ref('Finding'),
  },
  {
    method: 'GET',
    path: '/api/v1/timeline',
    id: 'getTimeline',
    summary: 'certificates by notAfter',
    access: 'read',
    params: [
      q('cluster', 'only this cluster'),
      q('from', 'notAfter at or after', { type: 'string', format: 'date-time' }),
      q('to', 'notAfter at or before', { type: 'string', format: 'date-time' }),
    ],
    response: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('TimelineItem') } } },
  },
  {
    method: 'GET',
    path: '/api/v1/nodes',
    id: 'listNodes',
    summary: 'each node with its files against what it must hold',
    access: 'read',
    params: [q('cluster', 'only this cluster')],
    response: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('NodeFiles') } } },
  },
  {
    method: 'POST',
    path: '/api/v1/operations',
    id: 'planOperation',
    summary: 'plan an operation (runs nothing): the Operation in state planned (writer)',
    access: 'write',
    body: {
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { type: 'string', enum: ['pki.renew', 'pki.rotate-ca', 'nodes.push', 'bundles.sync'] },
        args: { type: 'object' },
      },
    },
    response: ref('Operation'),
  },
  {
    method: 'POST',
    path: '/api/v1/operations/{id}/run',
    id: 'runOperation',
    summary: 'run the plan it was given (409 if the PKI changed since) (writer)',
    access: 'write',
    params: [p('id', 'operation id')],
    response: ref('Operation'),
  },
  {
    method: 'GET',
    path: '/api/v1/operations/{id}',
    id: 'getOperation',
    summary: 'one operation',
    access: 'read',
    params: [p('id', 'operation id')],
    response: ref('Operation'),
  },
  {
    method: 'GET',
    path: '/api/v1/events',
    id: 'events',
    summary: 'server-sent events: certificate, finding, source, cluster, operation; a ": ping" comment every 15 s',
    access: 'read',
    response: { type: 'string' },
    contentType: 'text/event-stream',
  },
  {
    method: 'POST',
    path: '/api/v1/agent/push',
    id: 'agentPush',
    summary: "an agent's inventory of its cluster (anchorage agent; agent or writer token)",
    access: 'agent',
    body: ref('AgentPush'),
    response: { type: 'object', properties: { cluster: { type: 'string' }, objects: { type: 'integer' } } },
  },
  {
    method: 'GET',
    path: '/api/v1/openapi.json',
    id: 'openapi',
    summary: 'this document',
    access: 'public',
    response: { type: 'object' },
  },
];

const str = { type: 'string' };
const time = { type: 'string', format: 'date-time' };
const strs = { type: 'array', items: str };
const obj = (required: string[], properties: Record<string, unknown>): Record<string, unknown> => ({
  type: 'object',
  required,
  properties,
});

const SOURCE = obj(['name', 'status', 'objects'], {
  name: str,
  status: { type: 'string', enum: ['ok', 'stale', 'error'] },
  reason: str,
  lastSuccess: time,
  objects: { type: 'integer' },
});
const SUMMARY_PROPS = {
  sha256: str,
  cluster: str,
  subject: str,
  issuer: str,
  serial: str,
  notBefore: time,
  notAfter: time,
  sans: strs,
  isCA: { type: 'boolean' },
  selfSigned: { type: 'boolean' },
  role: { type: ['string', 'null'] },
  keyType: str,
  health: HEALTH,
  findings: { type: 'integer' },
  worstSeverity: { oneOf: [SEVERITY, { type: 'null' }] },
  locations: { type: 'integer' },
};
const LOCATION = obj(['kind', 'where'], {
  kind: { type: 'string', enum: ['file', 'secret', 'configmap', 'kubeconfig', 'cabundle', 'csr', 'endpoint', 'node', 'bundle'] },
  where: str,
  node: str,
  namespace: str,
});
const FINDING = obj(['key', 'id', 'cluster', 'severity', 'locations', 'why', 'fix', 'firstSeen', 'lastSeen'], {
  key: str,
  id: str,
  cluster: str,
  severity: SEVERITY,
  locations: strs,
  subject: str,
  sha256: str,
  why: str,
  fix: str,
  firstSeen: time,
  lastSeen: time,
  resolvedAt: time,
  ack: obj(['by', 'reason', 'until', 'at'], { by: str, reason: str, until: time, at: time }),
});

export const SCHEMAS: Record<string, unknown> = {
  Source: SOURCE,
  Cluster: obj(['name', 'kind', 'status', 'counts', 'sources'], {
    name: str,
    kind: { type: 'string', enum: ['kubeconfig', 'in-cluster', 'agent', 'dir'] },
    status: { type: 'string', enum: ['ok', 'stale', 'error'] },
    reason: str,
    lastScan: time,
    counts: obj(['certificates', 'expiring', 'expired', 'error', 'warning', 'notice'], {
      certificates: { type: 'integer' },
      expiring: { type: 'integer' },
      expired: { type: 'integer' },
      error: { type: 'integer' },
      warning: { type: 'integer' },
      notice: { type: 'integer' },
    }),
    sources: { type: 'array', items: ref('Source') },
  }),
  CertificateSummary: obj(Object.keys(SUMMARY_PROPS), SUMMARY_PROPS),
  Location: LOCATION,
  CertificateDetail: obj([...Object.keys(SUMMARY_PROPS), 'pem', 'fields', 'issuedBy', 'chain', 'keyLocations', 'trustedBy', 'findings'], {
    ...SUMMARY_PROPS,
    locations: { type: 'array', items: ref('Location') },
    pem: str,
    fields: { type: 'object', description: 'the certificate object of anchorage inspect -o json (docs/inspect-schema.md)' },
    issuedBy: strs,
    chain: strs,
    keyLocations: { type: 'array', items: ref('Location') },
    trustedBy: {
      type: 'array',
      items: obj(['consumer', 'kind', 'verdict', 'why'], {
        consumer: str,
        kind: str,
        verdict: { type: 'string', enum: ['ok', 'fails'] },
        why: str,
      }),
    },
    findings: { type: 'array', items: ref('Finding') },
  }),
  Finding: FINDING,
  GraphNode: obj(['id', 'kind', 'label', 'cluster'], {
    id: str,
    kind: { type: 'string', enum: ['root', 'intermediate', 'leaf', 'consumer'] },
    label: str,
    cluster: str,
    sha256: str,
    namespace: str,
    node: str,
    health: HEALTH,
  }),
  GraphEdge: obj(['from', 'to', 'kind', 'ok'], {
    from: str,
    to: str,
    kind: { type: 'string', enum: ['signs', 'trusts', 'presents'] },
    ok: { type: 'boolean' },
    reason: str,
  }),
  Graph: obj(['nodes', 'edges'], {
    nodes: { type: 'array', items: ref('GraphNode') },
    edges: { type: 'array', items: ref('GraphEdge') },
    truncated: { type: 'boolean' },
  }),
  TimelineItem: obj(['sha256', 'cluster', 'subject', 'notAfter', 'health'], {
    sha256: str,
    cluster: str,
    subject: str,
    notAfter: time,
    health: HEALTH,
  }),
  NodeFiles: obj(['node', 'cluster', 'reachable', 'files'], {
    node: str,
    cluster: str,
    reachable: { type: 'boolean' },
    reason: str,
    files: {
      type: 'array',
      items: obj(['path', 'state'], {
        path: str,
        sha256: str,
        expected: str,
        state: { type: 'string', enum: ['ok', 'missing', 'differs', 'extra'] },
      }),
    },
  }),
  Operation: obj(['id', 'kind', 'args', 'state', 'plan', 'log', 'createdAt'], {
    id: str,
    kind: { type: 'string', enum: ['pki.renew', 'pki.rotate-ca', 'nodes.push', 'bundles.sync'] },
    args: { type: 'object' },
    state: { type: 'string', enum: ['planned', 'running', 'done', 'failed'] },
    plan: obj(['summary', 'steps'], {
      summary: str,
      steps: { type: 'array', items: obj(['action', 'target'], { action: str, target: str, detail: str }) },
    }),
    log: strs,
    error: str,
    createdAt: time,
    finishedAt: time,
  }),
  AgentPush: obj(['cluster', 'objects'], {
    cluster: str,
    objects: {
      type: 'array',
      items: obj(['key', 'values'], {
        key: str,
        values: { type: 'array', items: obj(['source', 'data'], { source: str, data: { type: 'string', contentEncoding: 'base64' } }) },
        backends: { type: 'array', items: { type: 'object' } },
        certManager: { type: 'array', items: { type: 'object' } },
        failures: { type: 'array', items: obj(['source', 'reason'], { source: str, reason: str }) },
      }),
    },
    sources: { type: 'array', items: ref('Source') },
  }),
  Error: obj(['error'], { error: str }),
};

export function openApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const op: Record<string, unknown> = {
      operationId: r.id,
      summary: r.summary,
      responses: {
        200: { description: 'ok', content: { [r.contentType ?? 'application/json']: { schema: r.response } } },
        ...(r.access !== 'public' && {
          400: { description: 'bad parameter', content: { 'application/json': { schema: ref('Error') } } },
          401: { description: 'no or wrong token', content: { 'application/json': { schema: ref('Error') } } },
          403: { description: 'not allowed', content: { 'application/json': { schema: ref('Error') } } },
          404: { description: 'unknown object', content: { 'application/json': { schema: ref('Error') } } },
          503: { description: 'the store is down', content: { 'application/json': { schema: ref('Error') } } },
        }),
      },
    };
    if (r.access === 'public') op.security = [];
    if (r.params?.length) op.parameters = r.params.map((x) => ({ ...x, required: x.in === 'path' }));
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: r.body } } };
    op['x-anchorage-access'] = r.access;
    paths[r.path] ??= {};
    (paths[r.path] as Record<string, unknown>)[r.method.toLowerCase()] = op;
  }
  paths['/'] = {
    get: {
      operationId: 'dashboard',
      summary: 'the web dashboard (web/dist) when built',
      security: [],
      responses: { 200: { description: 'html' } },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'anchorage serve', version, description: 'The v1 API of anchorage serve (docs/api.md).' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { mtls: [] }],
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'reader, writer or agent token' },
        mtls: { type: 'mutualTLS', description: 'a client certificate from --client-ca; O=anchorage:writers writes' },
      },
    },
  };
}
