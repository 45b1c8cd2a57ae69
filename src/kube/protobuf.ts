// Kubernetes' protobuf wire format, read by hand for the two lists a cluster scan reads in bulk: SecretList and
// ConfigMapList (what client-go asks built-in types for: `Accept: application/vnd.kubernetes.protobuf`). An
// answer is the 4-byte magic `k8s\0`, then a runtime.Unknown {typeMeta = 1, raw = 2, contentEncoding = 3,
// contentType = 4} whose `raw` is the list {metadata (ListMeta) = 1, items = 2}. Field numbers are those of
// k8s.io/api core/v1, apimachinery meta/v1 and runtime `generated.proto` (v0.36):
//   Secret {metadata = 1, data = 2 (map<string, bytes>), type = 3, stringData = 4, immutable = 5}
//   ConfigMap {metadata = 1, data = 2 (map<string, string>), binaryData = 3 (map<string, bytes>), immutable = 4}
//   ObjectMeta {name = 1, namespace = 3, uid = 5, resourceVersion = 6, labels = 11, …, managedFields = 17}
//   ListMeta {selfLink = 1, resourceVersion = 2, continue = 3, remainingItemCount = 4}
//   Status {metadata = 1, status = 2, message = 3, reason = 4, details = 5, code = 6}
// Only what a reader of certificates needs is materialised: names, uid, resourceVersion, type, labels, and each
// data value as the bytes on the wire (no base64: protobuf carries `bytes` raw). Annotations, managedFields and
// everything else are skipped by their length prefix. The answer streams: the list's metadata comes before its
// items (fields are written in number order), each item is decoded alone once its last byte is in, and only the
// item being read is held. Every length prefix is checked against its budget and against the message around it:
// a malformed item is an error for that item (its neighbours are still read), a malformed list is an error for
// the page. docs/architecture.md says why this is hand-written.

/** The media type of Kubernetes' protobuf encoding. */
export const PROTOBUF_MEDIA_TYPE = 'application/vnd.kubernetes.protobuf';
/** The magic every protobuf answer starts with. */
const MAGIC = Buffer.from('k8s\u0000', 'latin1');
/** Most bytes of one item (as the JSON reader: etcd keeps objects under 1.5 MiB). */
export const MAX_PROTO_ITEM_BYTES = 8 * 1024 * 1024;
/** Most bytes of the list's metadata and of the envelope's small fields. */
const MAX_META_BYTES = 1024 * 1024;

export class ProtobufError extends Error {}

export interface ProtoObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
}

/**
 * A Secret or a ConfigMap as read from protobuf. Values (and the item) are views into the stream's buffers, valid
 * only during the `onItem` call: the buffer of an item that spanned chunks is reused for the next one (one buffer
 * per page, not one per large item: a page of 256 KiB opaque Secrets otherwise leaves tens of MB of dead buffers
 * outside the JavaScript heap, which its garbage collector counts late). Copy what is kept.
 */
export interface ProtoObject {
  metadata: ProtoObjectMeta;
  /** A Secret's type ('' for a ConfigMap). */
  type: string;
  /** A Secret's `data` (the bytes themselves) or a ConfigMap's `data` (UTF-8 text as bytes), in the server's order. */
  data: [key: string, value: Buffer][];
  /** A ConfigMap's `binaryData` (empty for a Secret). */
  binaryData: [key: string, value: Buffer][];
}

export type ProtoKind = 'Secret' | 'ConfigMap';

const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;

/** A bounded reader over `buf[pos, end)`. */
class Reader {
  pos: number;
  readonly buf: Buffer;
  readonly end: number;
  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const b = this.buf[this.pos++] as number;
      // Past 2^53 the value is not exact; nothing read here is that large (lengths are checked below).
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }
  /** A length-delimited field's extent, checked against the message around it. */
  len(): number {
    const n = this.varint();
    if (n > this.end - this.pos) throw new ProtobufError(`a length of ${n} bytes runs past the end of its message`);
    return n;
  }
  string(): string {
    const n = this.len();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.len();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_64:
        this.advance(8);
        return;
      case WIRE_LEN: {
        const n = this.len(); // not `this.pos += this.len()`: that adds to pos as it was before the length
        this.pos += n;
        return;
      }
      case WIRE_32:
        this.advance(4);
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`);
    }
  }
  private advance(n: number): void {
    if (n > this.end - this.pos) throw new ProtobufError('truncated fixed-width field');
    this.pos += n;
  }
}

/** A map entry {key = 1, value = 2} at the reader's length prefix. */
function entry(r: Reader): [string, Buffer] {
  const n = r.len();
  const end = r.pos + n;
  const e = new Reader(r.buf, r.pos, end);
  let key = '';
  let value: Buffer = EMPTY;
  while (e.pos < end) {
    const tag = e.varint();
    const wire = tag & 7;
    if (tag >>> 3 === 1 && wire === WIRE_LEN) key = e.string();
    else if (tag >>> 3 === 2 && wire === WIRE_LEN) value = e.bytes();
    else e.skip(wire);
  }
  r.pos = end;
  return [key, value];
}
const EMPTY = Buffer.alloc(0);

function objectMeta(r: Reader): ProtoObjectMeta {
  const n = r.len();
  const end = r.pos + n;
  const m = new Reader(r.buf, r.pos, end);
  const out: ProtoObjectMeta = { name: '', namespace: '', uid: '', resourceVersion: '' };
  while (m.pos < end) {
    const tag = m.varint();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire !== WIRE_LEN) {
      m.skip(wire);
      continue;
    }
    if (field === 1) out.name = m.string();
    else if (field === 3) out.namespace = m.string();
    else if (field === 5) out.uid = m.string();
    else if (field === 6) out.resourceVersion = m.string();
    else if (field === 11) {
      const [k, v] = entry(m);
      out.labels ??= {};
      out.labels[k] = v.toString('utf8');
    } else m.skip(wire); // annotations, managedFields, ownerReferences, …: passed over by length
  }
  r.pos = end;
  return out;
}

/** One Secret or ConfigMap from its encoded bytes (an item of the list, without a length prefix). */
export function decodeObject(kind: ProtoKind, buf: Buffer, start = 0, end = buf.length): ProtoObject {
  const r = new Reader(buf, start, end);
  const out: ProtoObject = { metadata: { name: '', namespace: '', uid: '', resourceVersion: '' }, type: '', data: [], binaryData: [] };
  const secret = kind === 'Secret';
  while (r.pos < end) {
    const tag = r.varint();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire !== WIRE_LEN) r.skip(wire);
    else if (field === 1) out.metadata = objectMeta(r);
    else if (field === 2) out.data.push(entry(r));
    else if (field === 3) {
      if (secret) out.type = r.string();
      else out.binaryData.push(entry(r));
    } else r.skip(wire); // a Secret's stringData is never returned by the server; skipped if it were
  }
  return out;
}

/** The metadata name of an item, as far as it can be read (for the error about a malformed item). */
function nameOf(buf: Buffer): string | undefined {
  try {
    const r = new Reader(buf, 0, buf.length);
    while (r.pos < buf.length) {
      const tag = r.varint();
      if (tag === ((1 << 3) | WIRE_LEN)) {
        const m = objectMeta(r);
        return m.namespace ? `${m.namespace}/${m.name}` : m.name;
      }
      r.skip(tag & 7);
    }
  } catch {}
  return undefined;
}

/** A Status object in protobuf (an error answer): its message, reason and code; undefined when it is not one. */
export function decodeStatus(buf: Buffer): { message?: string; reason?: string; code?: number } | undefined {
  try {
    if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) return undefined;
    const r = new Reader(buf, 4, buf.length);
    let raw: Buffer | undefined;
    let kind = '';
    while (r.pos < buf.length) {
      const tag = r.varint();
      if (tag === ((1 << 3) | WIRE_LEN)) kind = typeMetaKind(r.bytes());
      else if (tag === ((2 << 3) | WIRE_LEN)) raw = r.bytes();
      else r.skip(tag & 7);
    }
    if (kind !== 'Status' || !raw) return undefined;
    const s = new Reader(raw, 0, raw.length);
    const out: { message?: string; reason?: string; code?: number } = {};
    while (s.pos < raw.length) {
      const tag = s.varint();
      if (tag === ((3 << 3) | WIRE_LEN)) out.message = s.string();
      else if (tag === ((4 << 3) | WIRE_LEN)) out.reason = s.string();
      else if (tag === ((6 << 3) | WIRE_VARINT)) out.code = s.varint();
      else s.skip(tag & 7);
    }
    return out;
  } catch {
    return undefined;
  }
}

function typeMetaKind(b: Buffer): string {
  const r = new Reader(b, 0, b.length);
  let kind = '';
  while (r.pos < b.length) {
    const tag = r.varint();
    if (tag === ((2 << 3) | WIRE_LEN)) kind = r.string();
    else r.skip(tag & 7);
  }
  return kind;
}

function listMeta(b: Buffer): { continue?: string; resourceVersion?: string } {
  const r = new Reader(b, 0, b.length);
  const out: { continue?: string; resourceVersion?: string } = {};
  while (r.pos < b.length) {
    const tag = r.varint();
    if (tag === ((2 << 3) | WIRE_LEN)) out.resourceVersion = r.string();
    else if (tag === ((3 << 3) | WIRE_LEN)) out.continue = r.string();
    else r.skip(tag & 7);
  }
  return out;
}

/** Where a body being collected goes. */
type Sink = 'typeMeta' | 'listMeta' | 'item' | 'skip';

/**
 * A protobuf LIST answer read as it arrives (the twin of src/k8s/list-stream.ts for JSON): `onHead` gets the
 * list's metadata (its `continue` token) as soon as it is in, `onItem` each decoded item, `onBadItem` each item
 * that does not decode (with its name when that much is readable). Throws ProtobufError when the answer itself
 * is malformed (no magic, a length past its end, an item over budget, the wrong kind).
 */
export class ProtoListStream {
  onHead?: (head: { metadata: { continue?: string; resourceVersion?: string } }) => void;
  onBadItem?: (index: number, reason: string, name?: string) => void;
  count = 0;
  private readonly kind: ProtoKind;
  private readonly onItem: (item: ProtoObject) => void;
  private magic = 0;
  /** Header bytes (a tag and a length) split across chunks. */
  private carry: Buffer = EMPTY;
  /** Bytes left of the envelope's `raw` (the list); -1 while outside it. */
  private inList = -1;
  private listSeen = false;
  private head: { continue?: string; resourceVersion?: string } = {};
  /** The body being collected. */
  private sink?: Sink;
  private body?: Buffer;
  private filled = 0;
  private need = 0;
  /** The buffer items that span chunks are gathered in, grown as needed and reused. */
  private scratch: Buffer = EMPTY;

  constructor(kind: ProtoKind, onItem: (item: ProtoObject) => void) {
    this.kind = kind;
    this.onItem = onItem;
  }

  write(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.magic < 4) {
        if (chunk[pos] !== MAGIC[this.magic]) throw new ProtobufError('not a Kubernetes protobuf answer (no k8s\\0 magic)');
        this.magic++;
        pos++;
        continue;
      }
      if (this.sink) {
        const take = Math.min(this.need - this.filled, n - pos);
        this.listed(take);
        if (this.sink === 'skip') {
          this.filled += take;
          pos += take;
          if (this.filled === this.need) this.sink = undefined;
        } else if (!this.body && take === this.need) {
          // The whole body is in this chunk: read it where it is.
          this.finishBody(chunk.subarray(pos, pos + take));
          pos += take;
        } else {
          if (!this.body) {
            if (this.scratch.length < this.need) this.scratch = Buffer.allocUnsafe(Math.max(this.need, 2 * this.scratch.length, 4096));
            this.body = this.scratch.subarray(0, this.need);
          }
          chunk.copy(this.body, this.filled, pos, pos + take);
          this.filled += take;
          pos += take;
          if (this.filled === this.need) {
            const b = this.body;
            this.body = undefined;
            this.finishBody(b);
          }
        }
        this.leaveIfDone();
        continue;
      }
      // A field header: a tag and, for a length-delimited field, its length (at most 20 bytes).
      const carried = this.carry.length;
      const window = carried ? Buffer.concat([this.carry, chunk.subarray(pos, pos + 20)]) : chunk;
      const from = carried ? 0 : pos;
      const limit = this.inList >= 0 ? Math.min(window.length, from + this.inList) : window.length;
      const h = header(window, from, limit);
      if (!h) {
        if (this.inList >= 0 && limit - from >= this.inList) throw new ProtobufError('a field header runs past the end of the list');
        // Not all of it is here yet (a header is at most 20 bytes: header() throws on a longer varint).
        this.carry = Buffer.from(window.subarray(from));
        return;
      }
      pos += h.next - from - carried; // this chunk's bytes the header took
      this.carry = EMPTY;
      this.listed(h.next - from);
      this.field(h.field, h.wire, h.value);
      this.leaveIfDone();
    }
  }

  /** `k` bytes of the list were consumed (nothing when outside it). */
  private listed(k: number): void {
    if (this.inList < 0) return;
    this.inList -= k;
    if (this.inList < 0) throw new ProtobufError('a field runs past the end of the list');
  }

  /** Back to the envelope once the list's last field is read. */
  private leaveIfDone(): void {
    if (this.inList === 0 && !this.sink) this.inList = -1;
  }

  private field(field: number, wire: number, value: number): void {
    if (wire === WIRE_VARINT) return;
    if (wire === WIRE_64 || wire === WIRE_32) {
      this.collect('skip', wire === WIRE_64 ? 8 : 4);
      return;
    }
    if (wire !== WIRE_LEN) throw new ProtobufError(`unsupported wire type ${wire}`);
    if (this.inList >= 0) {
      if (value > this.inList) throw new ProtobufError(`a length of ${value} bytes runs past the end of the list`);
      if (field === 1) {
        if (value > MAX_META_BYTES) throw new ProtobufError(`the list's metadata is over ${MAX_META_BYTES} bytes`);
        this.collect('listMeta', value);
        return;
      }
      if (field === 2) {
        if (value > MAX_PROTO_ITEM_BYTES) throw new ProtobufError(`an object in the LIST answer is over ${MAX_PROTO_ITEM_BYTES} bytes`);
        this.collect('item', value);
        return;
      }
      this.collect('skip', value);
      return;
    }
    // The envelope (runtime.Unknown).
    if (field === 2) {
      if (this.listSeen) throw new ProtobufError('two lists in one answer');
      this.listSeen = true;
      if (value > 0) this.inList = value;
      return;
    }
    if (field === 1) {
      if (value > MAX_META_BYTES) throw new ProtobufError(`the type metadata is over ${MAX_META_BYTES} bytes`);
      this.collect('typeMeta', value);
      return;
    }
    if (field === 3 && value > 0) throw new ProtobufError('an encoded (compressed) answer is not supported');
    this.collect('skip', value);
  }

  private collect(sink: Sink, need: number): void {
    if (need === 0) {
      if (sink !== 'skip') this.finishBody(EMPTY, sink);
      return;
    }
    this.sink = sink;
    this.need = need;
    this.filled = 0;
  }

  private finishBody(b: Buffer, sink = this.sink): void {
    this.sink = undefined;
    if (sink === 'typeMeta') {
      const kind = typeMetaKind(b);
      if (kind !== `${this.kind}List`)
        throw new ProtobufError(`expected a ${this.kind}List, the answer is a ${kind || 'object of no kind'}`);
    } else if (sink === 'listMeta') {
      this.head = listMeta(b);
      this.onHead?.({ metadata: this.head });
    } else if (sink === 'item') {
      const i = this.count++;
      let item: ProtoObject;
      try {
        item = decodeObject(this.kind, b);
      } catch (e) {
        if (!(e instanceof ProtobufError) || !this.onBadItem) throw e;
        this.onBadItem(i, e.message, nameOf(b));
        return;
      }
      this.onItem(item);
    }
  }

  /** The list's metadata, once the answer is complete. */
  end(): { metadata: { continue?: string; resourceVersion?: string } } {
    if (this.magic < 4 || this.sink || this.carry.length || this.inList >= 0 || !this.listSeen)
      throw new ProtobufError('the LIST answer ended early');
    return { metadata: this.head };
  }
}

/** A field header at `buf[from, limit)`: undefined when it is not all there yet. */
function header(buf: Buffer, from: number, limit: number): { field: number; wire: number; value: number; next: number } | undefined {
  const r = new Reader(buf, from, limit);
  let tag: number;
  let value = 0;
  try {
    tag = r.varint();
    const wire = tag & 7;
    if (wire === WIRE_LEN || wire === WIRE_VARINT) value = r.varint();
  } catch (e) {
    if (e instanceof ProtobufError && e.message === 'truncated varint') return undefined;
    throw e;
  }
  if (tag >>> 3 === 0) throw new ProtobufError('field number 0');
  return { field: tag >>> 3, wire: tag & 7, value, next: r.pos };
}
