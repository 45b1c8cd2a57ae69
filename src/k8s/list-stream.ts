// A Kubernetes LIST answer read as it arrives: each element of the top-level `items` array is handed on
// (parsed on its own) as soon as its last byte is in, and the rest of the object (kind, metadata with its
// `continue` token) is kept as a small skeleton. A page of 500 Secrets with large opaque values is then
// never held whole, neither as bytes nor as text nor as parsed objects: only the object being read is.
// Strings are skipped with a native search for the closing quote, so a 1 MiB value costs a few searches.

/** Most bytes of one item (etcd's object limit is 1.5 MiB; JSON escaping can double it). */
export const MAX_ITEM_BYTES = 8 * 1024 * 1024;
/** Most bytes of everything outside `items`. */
const MAX_SKELETON_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class ListStream<T> {
  private readonly onItem: (item: T) => void;
  /** Called once, when `items` begins, with everything before it (Kubernetes writes metadata first). */
  onHead?: (head: Record<string, unknown>) => void;
  /** The object around `items`, with `items` left empty. */
  private skeleton: Buffer[] = [];
  private skeletonBytes = 0;
  /** Bytes of the item being read, from earlier chunks. */
  private item: Buffer[] = [];
  private itemBytes = 0;
  private depth = 0;
  private inString = false;
  /** Inside the top-level `items` array (depth 2 there). */
  private inItems = false;
  /** The last string at depth 1, and whether a ':' followed it (it was a key). */
  private key: Buffer[] = [];
  private keyOpen = false;
  private lastKey = '';
  private itemsDone = false;
  count = 0;

  constructor(onItem: (item: T) => void) {
    this.onItem = onItem;
  }

  write(chunk: Buffer): void {
    let pos = 0;
    let itemStart = this.itemBytes > 0 || this.item.length ? 0 : -1;
    let keepFrom = this.inItems ? -1 : 0; // skeleton bytes of this chunk start here (-1: none pending)
    const n = chunk.length;
    while (pos < n) {
      if (this.inString) {
        const q = chunk.indexOf(QUOTE, pos);
        if (q < 0) {
          if (this.keyOpen) this.key.push(chunk.subarray(pos));
          this.escapedTail = trailingBackslashes(chunk, n, this.escapedTail, pos);
          pos = n;
          break;
        }
        // A quote preceded by an odd number of backslashes is escaped (the run may begin in an earlier chunk).
        const run = backslashesBefore(chunk, q, pos, this.escapedTail);
        this.escapedTail = 0;
        if (this.keyOpen) this.key.push(chunk.subarray(pos, q));
        pos = q + 1;
        if (run % 2 === 1) {
          if (this.keyOpen) this.key.push(chunk.subarray(q, q + 1));
          continue;
        }
        this.inString = false;
        if (this.keyOpen) {
          this.keyOpen = false;
          this.lastKey = Buffer.concat(this.key).toString('utf8');
          this.key = [];
        }
        continue;
      }
      const c = chunk[pos] as number;
      if (c === QUOTE) {
        this.inString = true;
        this.escapedTail = 0;
        if (this.depth === 1 && !this.inItems) {
          this.keyOpen = true;
          this.key = [];
        }
      } else if (c === 0x7b || c === 0x5b) {
        // { or [
        if (this.inItems && this.depth === 2) itemStart = pos;
        if (c === 0x5b && this.depth === 1 && this.lastKey === 'items' && !this.itemsDone) {
          // The skeleton keeps `[`; the items are read out of it.
          this.pushSkeleton(chunk.subarray(keepFrom, pos + 1));
          keepFrom = -1;
          this.inItems = true;
          if (this.onHead) {
            let head: Record<string, unknown> | undefined;
            try {
              head = JSON.parse(`${Buffer.concat(this.skeleton).toString('utf8')}]}`) as Record<string, unknown>;
            } catch {
              head = undefined; // not the shape Kubernetes writes: the end will tell
            }
            if (head) this.onHead(head);
          }
        }
        this.depth++;
      } else if (c === 0x7d || c === 0x5d) {
        // } or ]
        this.depth--;
        if (this.inItems && this.depth === 2 && itemStart >= 0) {
          this.emit(chunk.subarray(itemStart, pos + 1));
          itemStart = -1;
        } else if (this.inItems && this.depth === 1) {
          // The end of `items`: the skeleton resumes at `]`.
          this.inItems = false;
          this.itemsDone = true;
          keepFrom = pos;
        }
      }
      pos++;
    }
    if (this.inItems && itemStart >= 0) {
      const rest = chunk.subarray(itemStart);
      this.itemBytes += rest.length;
      if (this.itemBytes > MAX_ITEM_BYTES) throw new Error(`an object in the LIST answer is over ${MAX_ITEM_BYTES} bytes`);
      this.item.push(Buffer.from(rest));
    }
    if (keepFrom >= 0) this.pushSkeleton(chunk.subarray(keepFrom));
  }

  /** A string's trailing backslashes at the end of the previous chunk (for an escaped quote split across chunks). */
  private escapedTail = 0;

  private pushSkeleton(b: Buffer): void {
    this.skeletonBytes += b.length;
    if (this.skeletonBytes > MAX_SKELETON_BYTES) throw new Error(`the LIST answer outside its items is over ${MAX_SKELETON_BYTES} bytes`);
    this.skeleton.push(Buffer.from(b));
  }

  private emit(last: Buffer): void {
    const bytes = this.item.length ? Buffer.concat([...this.item, last]) : last;
    this.item = [];
    this.itemBytes = 0;
    if (bytes.length > MAX_ITEM_BYTES) throw new Error(`an object in the LIST answer is over ${MAX_ITEM_BYTES} bytes`);
    this.count++;
    this.onItem(JSON.parse(bytes.toString('utf8')) as T);
  }

  /** The object without its items (`items: []`), once the answer is complete. */
  end(): Record<string, unknown> {
    if (this.depth !== 0 || this.inString) throw new Error('the LIST answer ended early');
    return JSON.parse(Buffer.concat(this.skeleton).toString('utf8')) as Record<string, unknown>;
  }
}

/** How many backslashes run up to `q` (exclusive) in this chunk, plus `carried` when the run reaches `from`. */
function backslashesBefore(chunk: Buffer, q: number, from: number, carried: number): number {
  let i = q - 1;
  let run = 0;
  while (i >= from && chunk[i] === BACKSLASH) {
    run++;
    i--;
  }
  return i < from ? run + carried : run;
}

/** Trailing backslashes of a chunk that ends inside a string (the run may continue one from before). */
function trailingBackslashes(chunk: Buffer, n: number, carried: number, from: number): number {
  let i = n - 1;
  let run = 0;
  while (i >= from && chunk[i] === BACKSLASH) {
    run++;
    i--;
  }
  return i < from ? run + carried : run;
}
