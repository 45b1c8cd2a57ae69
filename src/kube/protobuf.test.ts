// The protobuf reader (protobuf.ts) on bytes the real kube-apiserver wrote (test/cluster/harness.ts), checked
// field by field against the same server's JSON for the same objects (the oracle); fed in chunks of every size;
// through KubeClient.listEach with pagination; a protobuf error Status; and hostile input built from the real
// bytes (truncated, a length past the end, a huge length, a malformed item among good ones).
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, waitFor } from '../../test/cluster/harness.ts';
import { KubeClient } from './client.ts';
import { LiteKubeConfig } from './kubeconfig.ts';
import {
  decodeObject,
  decodeStatus,
  PROTOBUF_MEDIA_TYPE,
  ProtobufError,
  type ProtoKind,
  ProtoListStream,
  type ProtoObject,
} from './protobuf.ts';

const NS = `proto13-${process.pid}`;
let c: Cluster;
let tls: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

function get(path: string, accept: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${c.apiUrl}${path}`, { agent, ...tls, headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
function send(method: string, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${c.apiUrl}${path}`, { method, agent, ...tls, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

type JsonObject = {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
};

/** Decode a whole answer through the stream, fed `step` bytes at a time. */
function streamed(kind: ProtoKind, bytes: Buffer, step: number) {
  const items: ProtoObject[] = [];
  const bad: { i: number; reason: string; name?: string }[] = [];
  // Values are views valid during the call: copied, as a caller that keeps them must.
  const s = new ProtoListStream(kind, (o) =>
    items.push({
      ...o,
      data: o.data.map(([k, v]) => [k, Buffer.from(v)]),
      binaryData: o.binaryData.map(([k, v]) => [k, Buffer.from(v)]),
    }),
  );
  let head: unknown;
  s.onHead = (h) => {
    head = h;
  };
  s.onBadItem = (i, reason, name) => bad.push({ i, reason, ...(name !== undefined && { name }) });
  for (let p = 0; p < bytes.length; p += step) s.write(bytes.subarray(p, p + step));
  const end = s.end();
  return { items, bad, head, end };
}

/** The protobuf item compared with the server's JSON of the same object, field by field. */
function expectSame(kind: ProtoKind, p: ProtoObject, j: JsonObject): void {
  expect(p.metadata.name).toBe(j.metadata.name);
  expect(p.metadata.namespace).toBe(j.metadata.namespace);
  expect(p.metadata.uid).toBe(j.metadata.uid);
  expect(p.metadata.resourceVersion).toBe(j.metadata.resourceVersion);
  expect(p.metadata.labels ?? {}).toEqual(j.metadata.labels ?? {});
  if (kind === 'Secret') {
    expect(p.type).toBe(j.type);
    expect(Object.fromEntries(p.data.map(([k, v]) => [k, v.toString('base64')]))).toEqual(j.data ?? {});
    expect(p.binaryData).toEqual([]);
  } else {
    expect(Object.fromEntries(p.data.map(([k, v]) => [k, v.toString('utf8')]))).toEqual(j.data ?? {});
    expect(Object.fromEntries(p.binaryData.map(([k, v]) => [k, v.toString('base64')]))).toEqual(j.binaryData ?? {});
  }
}

// A tiny protobuf writer for the hostile cases (re-framing the server's own item bytes).
const varint = (n: number): Buffer => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
};
const field = (no: number, body: Buffer): Buffer => Buffer.concat([varint((no << 3) | 2), varint(body.length), body]);
/** Split a real answer into its typeMeta, list metadata and item bytes. */
function parts(answer: Buffer): { typeMeta: Buffer; listMeta: Buffer; items: Buffer[] } {
  const out: { typeMeta: Buffer; listMeta: Buffer; items: Buffer[] } = { typeMeta: Buffer.alloc(0), listMeta: Buffer.alloc(0), items: [] };
  const read = (b: Buffer, each: (no: number, body: Buffer) => void): void => {
    let p = 0;
    const v = (): number => {
      let n = 0;
      let m = 1;
      for (;;) {
        const x = b[p++] as number;
        n += (x & 0x7f) * m;
        m *= 128;
        if (x < 0x80) return n;
      }
    };
    while (p < b.length) {
      const tag = v();
      expect(tag & 7).toBe(2);
      const len = v();
      each(tag >>> 3, b.subarray(p, p + len));
      p += len;
    }
  };
  read(answer.subarray(4), (no, body) => {
    if (no === 1) out.typeMeta = body;
    if (no === 2)
      read(body, (n2, b2) => {
        if (n2 === 1) out.listMeta = b2;
        if (n2 === 2) out.items.push(b2);
      });
  });
  return out;
}
const frame = (typeMeta: Buffer, list: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from('k8s\u0000', 'latin1'),
    field(1, typeMeta),
    field(2, list),
    field(3, Buffer.alloc(0)),
    field(4, Buffer.alloc(0)),
  ]);

let secretsProto: Buffer;
let secretsJson: JsonObject[];
let mapsProto: Buffer;
let mapsJson: JsonObject[];

beforeAll(async () => {
  c = await startCluster();
  const kc = LiteKubeConfig.load({ kubeconfig: c.admin });
  const opts: typeof tls = {};
  await kc.applyToHTTPSOptions(opts as never);
  tls = { ca: opts.ca, cert: opts.cert, key: opts.key };
  expect(await send('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).toBe(201);
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const secrets = [
    {
      metadata: { name: 'tls', labels: { app: 'web', 'example.com/tier': 'front' }, annotations: { note: 'x'.repeat(5000) } },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), 'tls.key': randomBytes(121) },
    },
    {
      metadata: { name: 'bytes' },
      type: 'Opaque',
      data: { every, empty: Buffer.alloc(0), 'key_with.dots-and_underscores.pem': randomBytes(3) },
    },
    { metadata: { name: 'nothing' }, type: 'example.com/custom' },
    { metadata: { name: 'large' }, data: { payload: randomBytes(300 * 1024) } },
    { metadata: { name: 'many' }, data: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, randomBytes(i)])) },
  ];
  for (const s of secrets) {
    const data = s.data ? Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, v.toString('base64')])) : undefined;
    expect(await send('POST', `/api/v1/namespaces/${NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', ...s, ...(data && { data }) })).toBe(
      201,
    );
  }
  const maps = [
    {
      metadata: { name: 'pem', labels: { a: 'b' } },
      data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', text: 'Grüße, 世界 ✓' },
    },
    { metadata: { name: 'binary' }, binaryData: { 'ca.der': every.toString('base64'), blob: randomBytes(70_000).toString('base64') } },
    { metadata: { name: 'empty' } },
  ];
  for (const m of maps) {
    expect(await send('POST', `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', ...m })).toBe(201);
  }
  // kube-controller-manager publishes kube-root-ca.crt in each namespace soon after start: wait for ours.
  await waitFor(
    'kube-root-ca.crt in our namespace',
    async () => (await get(`/api/v1/namespaces/${NS}/configmaps/kube-root-ca.crt`, 'application/json')).status === 200,
  );
  // Both encodings of each list, from the same state (nothing writes to the namespace meanwhile).
  const sp = await get(`/api/v1/namespaces/${NS}/secrets`, PROTOBUF_MEDIA_TYPE);
  expect(sp.status).toBe(200);
  expect(sp.type).toBe(PROTOBUF_MEDIA_TYPE);
  secretsProto = sp.body;
  secretsJson = (JSON.parse((await get(`/api/v1/namespaces/${NS}/secrets`, 'application/json')).body.toString()) as { items: JsonObject[] })
    .items;
  const mp = await get('/api/v1/configmaps', PROTOBUF_MEDIA_TYPE);
  expect(mp.type).toBe(PROTOBUF_MEDIA_TYPE);
  mapsProto = mp.body;
  mapsJson = (JSON.parse((await get('/api/v1/configmaps', 'application/json')).body.toString()) as { items: JsonObject[] }).items;
});

afterAll(async () => {
  agent.destroy();
  await c?.stop();
});

describe('protobuf LIST answers of the real API server, against its JSON', () => {
  it('decodes every Secret and ConfigMap as the JSON answer has it, fed in chunks of any size', () => {
    expect(secretsJson.length).toBe(5);
    expect(mapsJson.some((m) => m.metadata.name === 'kube-root-ca.crt')).toBe(true);
    for (const step of [1, 3, 7, 64, 1000, 16_384, 1 << 30]) {
      const s = streamed('Secret', secretsProto, step);
      expect(s.bad).toEqual([]);
      expect(s.items.map((x) => x.metadata.name)).toEqual(secretsJson.map((x) => x.metadata.name));
      s.items.forEach((x, i) => {
        expectSame('Secret', x, secretsJson[i] as JsonObject);
      });
      const m = streamed('ConfigMap', mapsProto, step);
      expect(m.bad).toEqual([]);
      // Ours, by name: other ConfigMaps may change between the two requests (kube-root-ca.crt may appear in
      // our namespace between them: compared when both answers have it).
      const ours = m.items.filter((x) => x.metadata.namespace === NS);
      expect(ours.map((x) => x.metadata.name)).toEqual(expect.arrayContaining(['binary', 'empty', 'pem']));
      for (const x of ours) {
        const j = mapsJson.find((y) => y.metadata.namespace === NS && y.metadata.name === x.metadata.name);
        if (x.metadata.name !== 'kube-root-ca.crt' || j) expectSame('ConfigMap', x, j as JsonObject);
      }
      expect(m.items.filter((x) => x.metadata.name === 'kube-root-ca.crt').length).toBeGreaterThan(0);
    }
  });

  it('pages with limit/continue through KubeClient.listEach, items as in one JSON list', async () => {
    const client = new KubeClient(LiteKubeConfig.load({ kubeconfig: c.admin }), { qps: 0 });
    try {
      const items: ProtoObject[] = [];
      const json: unknown[] = [];
      const pages: number[] = [];
      const r = await client.listEach<JsonObject>(`/api/v1/namespaces/${NS}/secrets`, {
        pageSize: 2,
        onItem: (x) => json.push(x),
        onPage: (n) => pages.push(n),
        protobuf: { kind: 'Secret', onItem: (x) => items.push({ ...x, data: x.data.map(([k, v]) => [k, Buffer.from(v)]) }) },
      });
      expect(json).toEqual([]);
      expect(r.items).toBe(5);
      expect(pages).toEqual([2, 4, 5]);
      items.forEach((x, i) => {
        expectSame('Secret', x, secretsJson[i] as JsonObject);
      });
      // A resource the server has no protobuf for (a custom resource) answers JSON: it goes to onItem.
      const group = `${NS}.example.com`;
      expect(
        await send('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: `widgets.${group}` },
          spec: {
            group,
            scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
            versions: [
              {
                name: 'v1',
                served: true,
                storage: true,
                schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            ],
          },
        }),
      ).toBe(201);
      await waitFor(
        'the Widget API',
        async () =>
          (await send('POST', `/apis/${group}/v1/namespaces/${NS}/widgets`, {
            apiVersion: `${group}/v1`,
            kind: 'Widget',
            metadata: { name: 'w' },
          })) === 201,
      );
      const widgets: JsonObject[] = [];
      const protos: unknown[] = [];
      await client.listEach<JsonObject>(`/apis/${group}/v1/widgets`, {
        onItem: (x) => widgets.push(x),
        protobuf: { kind: 'Secret', onItem: (x) => protos.push(x) },
      });
      expect(protos).toEqual([]);
      expect(widgets.map((w) => w.metadata.name)).toEqual(['w']);
      // A built-in list of the wrong kind is refused by name, not misread.
      await expect(
        client.listEach(`/api/v1/namespaces/${NS}/configmaps`, { onItem: () => {}, protobuf: { kind: 'Secret', onItem: () => {} } }),
      ).rejects.toThrow(/expected a SecretList, the answer is a ConfigMapList/);
    } finally {
      client.close();
    }
  });

  it('reads an error Status in protobuf as the JSON one says it', async () => {
    const path = `/api/v1/namespaces/${NS}/secrets/absent`;
    const p = await get(path, PROTOBUF_MEDIA_TYPE);
    const j = JSON.parse((await get(path, 'application/json')).body.toString()) as { message: string; reason: string; code: number };
    expect(p.status).toBe(404);
    expect(p.type).toBe(PROTOBUF_MEDIA_TYPE);
    expect(decodeStatus(p.body)).toEqual({ message: j.message, reason: j.reason, code: j.code });
    expect(decodeStatus(Buffer.from('{"kind":"Status"}'))).toBeUndefined();
    // Through the client: the ApiError carries the server's message.
    const client = new KubeClient(LiteKubeConfig.load({ kubeconfig: c.admin }), { qps: 0 });
    try {
      const err = await client
        .listEach('/api/v1/namespaces/absent-ns/secrets/x/y', { onItem: () => {}, protobuf: { kind: 'Secret', onItem: () => {} } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((err as { code?: number }).code).toBe(404);
      expect((err as Error).message).not.toMatch(/k8s\u0000/);
    } finally {
      client.close();
    }
  });
});

describe('hostile protobuf (built from the real bytes)', () => {
  it('a truncated answer is an error at every length, never a wrong list', () => {
    const whole = streamed('Secret', secretsProto, 1 << 30);
    const cuts = new Set<number>();
    for (let n = 0; n < 400; n++) cuts.add(n);
    for (let n = 400; n < secretsProto.length; n += 997) cuts.add(n);
    for (let n = secretsProto.length - 64; n < secretsProto.length; n++) cuts.add(n);
    for (const n of cuts) {
      for (const step of [n || 1, n < 4000 ? 13 : 4093]) {
        let err: unknown;
        let got: ReturnType<typeof streamed> | undefined;
        try {
          got = streamed('Secret', secretsProto.subarray(0, n), step);
        } catch (e) {
          err = e;
        }
        // Protobuf does not mark its own end: a cut after the list, inside the envelope's trailing empty
        // contentEncoding and contentType (4 bytes), is a complete list (HTTP's framing reports the cut).
        if (n >= secretsProto.length - 4 && got) expect(got).toEqual(whole);
        else expect(err, `cut at ${n}`).toBeInstanceOf(ProtobufError);
      }
    }
    expect(whole.items.length).toBe(5);
  });

  it('lengths past the end, huge lengths, long varints and wrong kinds are clear errors', () => {
    const { typeMeta, listMeta, items } = parts(secretsProto);
    const good = (it: Buffer[]): Buffer => frame(typeMeta, Buffer.concat([field(1, listMeta), ...it.map((x) => field(2, x))]));
    // Re-framed, the real parts decode as the real answer.
    expect(streamed('Secret', good(items), 5).items.length).toBe(5);
    const fail = (b: Buffer, re: RegExp): void => {
      for (const step of [1, 9, 1 << 30]) expect(() => streamed('Secret', b, step), `step ${step}`).toThrow(re);
    };
    // An item whose length prefix claims more than the list holds.
    const list = Buffer.concat([field(1, listMeta), Buffer.from([0x12]), varint(1e6), items[0] as Buffer]);
    fail(frame(typeMeta, list), /runs past the end of the list/);
    // A huge length (over the item budget), with the list claiming to be that large too.
    const huge = Buffer.concat([
      Buffer.from('k8s\u0000', 'latin1'),
      field(1, typeMeta),
      Buffer.from([0x12]),
      varint(2 ** 40),
      Buffer.from([0x12]),
      varint(2 ** 36),
    ]);
    expect(() => {
      const s = new ProtoListStream('Secret', () => {});
      s.write(huge);
    }).toThrow(/over 8388608 bytes/);
    // The envelope's own length past the end of the answer: ends early.
    fail(
      Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), field(1, typeMeta), Buffer.from([0x12]), varint(1e6), field(1, listMeta)]),
      /ended early/,
    );
    // An 11-byte varint.
    fail(Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), Buffer.alloc(11, 0xff), Buffer.from([1])]), /varint longer than 10 bytes/);
    // Not protobuf at all; the wrong kind; a compressed answer; a group wire type.
    fail(Buffer.from('{"kind":"SecretList"}'), /no k8s\\0 magic/);
    expect(() => streamed('ConfigMap', secretsProto, 100)).toThrow(/expected a ConfigMapList, the answer is a SecretList/);
    fail(Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), field(1, typeMeta), field(3, Buffer.from('gzip'))]), /compressed/);
    fail(Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), Buffer.from([0x0b])]), /wire type 3/);
  });

  it('a malformed item is an error for that item, named when its name is readable; its neighbours are read', () => {
    const { typeMeta, listMeta, items } = parts(secretsProto);
    const [a, b, ...rest] = items as [Buffer, Buffer, ...Buffer[]];
    // b's data entry claims a length past the item's end: its metadata (field 1, first) still reads.
    const bBad = Buffer.concat([b, Buffer.from([0x12]), varint(5000), Buffer.from('short')]);
    // A bare garbage item, and one cut inside its metadata.
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const cut = a.subarray(0, 10);
    const list = Buffer.concat([field(1, listMeta), ...[a, bBad, garbage, cut, ...rest].map((x) => field(2, x))]);
    for (const step of [1, 17, 1 << 30]) {
      const r = streamed('Secret', frame(typeMeta, list), step);
      expect(r.items.map((x) => x.metadata.name)).toEqual([a, ...rest].map((x) => decodeObject('Secret', x).metadata.name));
      expect(r.bad.map((x) => x.i)).toEqual([1, 2, 3]);
      expect(r.bad[0]?.name).toBe(`${NS}/${decodeObject('Secret', b).metadata.name}`);
      expect(r.bad[0]?.reason).toMatch(/runs past the end of its message/);
      expect(r.bad[1]?.name).toBeUndefined();
      expect(r.bad[2]?.reason).toMatch(/past the end|truncated/);
    }
    // Without onBadItem the page fails with that error.
    const s = new ProtoListStream('Secret', () => {});
    expect(() => s.write(frame(typeMeta, list))).toThrow(ProtobufError);
  });
});
