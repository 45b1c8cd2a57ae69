// A subset of CEL (the Common Expression Language, github.com/google/cel-spec) for CA policies, after
// cert-manager approver-policy's CEL validations: parsed once when a policy is set, evaluated per request
// with a step budget. Checked against cel-go (test/ca-cel.test.ts), which Kubernetes and approver-policy use.
//
// Supported: null, bool, int (64-bit, overflow is an error), double and string literals (quoted '…' or
// "…", raw r'…', the escapes \\ \' \" \n \t \r); lists [a, b] and maps {'k': v} with string keys;
// ! - * / % + - < <= > >= == != in && || ?: ; field selection (map.key) and indexing (list[i], map['k']);
// size(), startsWith(), endsWith(), contains(), matches() (ECMAScript regular expressions, the RE2 subset
// that both accept), string(), int(), double(); the macros all, exists, exists_one, map, filter over
// lists. Types as CEL has them: no implicit conversion (1 + 1.0 is an error), equality across numeric
// types (1 == 1.0), && and || absorb an error when the other side decides (false && error is false).
// Not supported (refused when the policy is set): uint and bytes literals, timestamps and durations,
// has(), message construction, extension libraries.

import { InputError } from '../common/errors.ts';

export type CelValue = null | boolean | bigint | number | string | CelValue[] | Map<string, CelValue>;

export class CelError extends Error {}

export const MAX_CEL_LENGTH = 2048;
const MAX_STEPS = 100_000;
const MAX_DEPTH = 64;
const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 63n - 1n;

type Node =
  | { k: 'lit'; v: CelValue }
  | { k: 'id'; name: string }
  | { k: 'list'; items: Node[] }
  | { k: 'map'; entries: [Node, Node][] }
  | { k: 'sel'; obj: Node; field: string }
  | { k: 'idx'; obj: Node; index: Node }
  | { k: 'call'; target?: Node; fn: string; args: Node[] }
  | { k: 'un'; op: '!' | '-'; x: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'cond'; c: Node; t: Node; f: Node };

// ---------- lexer ----------

type Tok = { t: 'num'; v: CelValue } | { t: 'str'; v: string } | { t: 'id'; v: string } | { t: 'op'; v: string } | { t: 'end' };

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':', '.', ',', '(', ')', '[', ']', '{', '}'];
const RESERVED = new Set([
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const num = /^(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)[uU]?/.exec(src.slice(i));
    if (num && !(c === '.' && out.at(-1)?.t === 'id')) {
      const text = num[0];
      if (/[uU]$/.test(text)) throw new CelError('uint literals are not supported');
      if (/^0x/i.test(text) || /^\d+$/.test(text)) {
        const v = BigInt(text);
        if (v > INT_MAX + 1n) throw new CelError(`integer literal ${text} is out of range`);
        out.push({ t: 'num', v });
      } else out.push({ t: 'num', v: Number(text) });
      i += text.length;
      continue;
    }
    const raw = (c === 'r' || c === 'R') && (src[i + 1] === '"' || src[i + 1] === "'");
    if (c === '"' || c === "'" || raw) {
      if (raw) i++;
      const q = src[i] as string;
      const triple = src.startsWith(q.repeat(3), i);
      const close = triple ? q.repeat(3) : q;
      i += close.length;
      let s = '';
      for (;;) {
        if (i >= src.length) throw new CelError('unterminated string literal');
        if (src.startsWith(close, i)) {
          i += close.length;
          break;
        }
        const ch = src[i] as string;
        if (!triple && ch === '\n') throw new CelError('newline in a string literal');
        if (ch === '\\' && !raw) {
          const e = src[i + 1];
          const map: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '`': '`', '?': '?' };
          if (e === undefined || map[e] === undefined) throw new CelError(`unsupported escape \\${e ?? ''}`);
          s += map[e];
          i += 2;
          continue;
        }
        s += ch;
        i++;
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    if ((c === 'b' || c === 'B') && (src[i + 1] === '"' || src[i + 1] === "'")) throw new CelError('bytes literals are not supported');
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelError(`unexpected character '${c}' at ${i}`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'end' });
  return out;
}

// ---------- parser ----------

class Parser {
  private p = 0;
  private depth = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }
  private peek(): Tok {
    return this.toks[this.p] as Tok;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private eat(v: string): boolean {
    if (this.isOp(v)) {
      this.p++;
      return true;
    }
    return false;
  }
  private want(v: string): void {
    if (!this.eat(v)) throw new CelError(`expected '${v}'`);
  }
  parse(): Node {
    const n = this.expr();
    if (this.peek().t !== 'end') throw new CelError('unexpected text after the expression');
    return n;
  }
  private expr(): Node {
    if (++this.depth > MAX_DEPTH) throw new CelError(`expression nested deeper than ${MAX_DEPTH}`);
    const c = this.or();
    let out = c;
    if (this.eat('?')) {
      const t = this.or();
      this.want(':');
      out = { k: 'cond', c, t, f: this.expr() };
    }
    this.depth--;
    return out;
  }
  private or(): Node {
    let l = this.and();
    while (this.eat('||')) l = { k: 'bin', op: '||', l, r: this.and() };
    return l;
  }
  private and(): Node {
    let l = this.rel();
    while (this.eat('&&')) l = { k: 'bin', op: '&&', l, r: this.rel() };
    return l;
  }
  private rel(): Node {
    let l = this.add();
    for (;;) {
      const t = this.peek();
      const op = t.t === 'op' && ['<', '<=', '>', '>=', '==', '!='].includes(t.v) ? t.v : t.t === 'id' && t.v === 'in' ? 'in' : undefined;
      if (!op) return l;
      this.p++;
      l = { k: 'bin', op, l, r: this.add() };
    }
  }
  private add(): Node {
    let l = this.mul();
    for (;;) {
      if (this.eat('+')) l = { k: 'bin', op: '+', l, r: this.mul() };
      else if (this.eat('-')) l = { k: 'bin', op: '-', l, r: this.mul() };
      else return l;
    }
  }
  private mul(): Node {
    let l = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && (t.v === '*' || t.v === '/' || t.v === '%')) {
        this.p++;
        l = { k: 'bin', op: t.v, l, r: this.unary() };
      } else return l;
    }
  }
  private unary(): Node {
    if (this.eat('!')) return { k: 'un', op: '!', x: this.unary() };
    if (this.isOp('-')) {
      this.p++;
      const t = this.peek();
      // -9223372036854775808 is a literal, not the negation of an out-of-range one.
      if (t.t === 'num' && typeof t.v === 'bigint') {
        this.p++;
        return this.postfix({ k: 'lit', v: -t.v });
      }
      return { k: 'un', op: '-', x: this.unary() };
    }
    return this.postfix(this.primary());
  }
  private args(close: string): Node[] {
    const out: Node[] = [];
    if (this.eat(close)) return out;
    for (;;) {
      out.push(this.expr());
      if (this.eat(close)) return out;
      this.want(',');
      if (this.eat(close)) return out;
    }
  }
  private postfix(n: Node): Node {
    for (;;) {
      if (this.eat('.')) {
        const t = this.peek();
        if (t.t !== 'id') throw new CelError('expected a field or method name after .');
        this.p++;
        if (this.eat('(')) n = { k: 'call', target: n, fn: t.v, args: this.args(')') };
        else n = { k: 'sel', obj: n, field: t.v };
      } else if (this.eat('[')) {
        const index = this.expr();
        this.want(']');
        n = { k: 'idx', obj: n, index };
      } else return n;
    }
  }
  private primary(): Node {
    const t = this.peek();
    this.p++;
    if (t.t === 'num') {
      if (typeof t.v === 'bigint' && t.v > INT_MAX) throw new CelError(`integer literal ${t.v} is out of range`);
      return { k: 'lit', v: t.v };
    }
    if (t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (RESERVED.has(t.v) || t.v === 'in') throw new CelError(`reserved word '${t.v}'`);
      if (this.eat('(')) return { k: 'call', fn: t.v, args: this.args(')') };
      return { k: 'id', name: t.v };
    }
    if (t.t === 'op') {
      if (t.v === '(') {
        const e = this.expr();
        this.want(')');
        return e;
      }
      if (t.v === '[') return { k: 'list', items: this.args(']') };
      if (t.v === '{') {
        const entries: [Node, Node][] = [];
        if (this.eat('}')) return { k: 'map', entries };
        for (;;) {
          const key = this.expr();
          this.want(':');
          entries.push([key, this.expr()]);
          if (this.eat('}')) break;
          this.want(',');
          if (this.eat('}')) break;
        }
        return { k: 'map', entries };
      }
    }
    throw new CelError(t.t === 'end' ? 'unexpected end of expression' : `unexpected '${(t as { v: unknown }).v}'`);
  }
}

// ---------- static types ----------
//
// What cel-go's checker refuses before evaluation: operands whose types are both known and differ (1 == 1.0,
// 1 < 'a', [1] == [1.0], a ternary whose branches differ). Values read from `request` are dyn, so their
// comparisons are decided when evaluated (heterogeneous equality, numbers compared across types).

type CelType = string; // int, double, string, bool, null, dyn, list(T), map(string,T)

const known = (t: CelType): boolean => !t.includes('dyn');
const elemOf = (t: CelType): CelType => (t.startsWith('list(') ? t.slice(5, -1) : t.startsWith('map(') ? 'string' : 'dyn');

function unify(ts: CelType[]): CelType {
  const u = [...new Set(ts)];
  return u.length === 1 ? (u[0] as CelType) : 'dyn';
}

function check(n: Node, scope: Map<string, CelType>): CelType {
  const mismatch = (op: string, a: CelType, b: CelType) => {
    if (known(a) && known(b) && a !== b) throw new CelError(`found no matching overload for '${op}' applied to '(${a}, ${b})'`);
  };
  switch (n.k) {
    case 'lit':
      return typeName(n.v) === 'null_type' ? 'null' : typeName(n.v);
    case 'id':
      return scope.get(n.name) ?? 'dyn';
    case 'list':
      return `list(${n.items.length ? unify(n.items.map((x) => check(x, scope))) : 'dyn'})`;
    case 'map': {
      for (const [k] of n.entries) mismatch('{}', check(k, scope), 'string');
      return `map(string,${n.entries.length ? unify(n.entries.map(([, v]) => check(v, scope))) : 'dyn'})`;
    }
    case 'sel': {
      const t = check(n.obj, scope);
      return t.startsWith('map(') ? t.slice(11, -1) : 'dyn';
    }
    case 'idx': {
      const t = check(n.obj, scope);
      check(n.index, scope);
      return t.startsWith('list(') ? elemOf(t) : t.startsWith('map(') ? t.slice(11, -1) : 'dyn';
    }
    case 'un': {
      const t = check(n.x, scope);
      if (n.op === '!') {
        mismatch('!_', t, 'bool');
        return 'bool';
      }
      return t;
    }
    case 'cond': {
      mismatch('_?_:_', check(n.c, scope), 'bool');
      const a = check(n.t, scope);
      const b = check(n.f, scope);
      mismatch('_?_:_', a, b);
      return a === b ? a : 'dyn';
    }
    case 'bin': {
      const a = check(n.l, scope);
      const b = check(n.r, scope);
      if (n.op === '&&' || n.op === '||') {
        mismatch(n.op, a, 'bool');
        mismatch(n.op, b, 'bool');
        return 'bool';
      }
      if (n.op === 'in') {
        if (b.startsWith('list(') || b.startsWith('map(')) mismatch('@in', a, elemOf(b));
        return 'bool';
      }
      mismatch(n.op, a, b);
      if (['==', '!=', '<', '<=', '>', '>='].includes(n.op)) return 'bool';
      return a === b ? a : 'dyn';
    }
    case 'call': {
      if (n.target && MACROS.has(n.fn)) {
        const range = check(n.target, scope);
        const v = n.args[0];
        if (v?.k !== 'id') return 'dyn';
        const inner = new Map(scope);
        inner.set(v.name, elemOf(range));
        const types = n.args.slice(1).map((a) => check(a, inner));
        if (n.fn === 'map') return `list(${types.at(-1) ?? 'dyn'})`;
        if (n.fn === 'filter') return range.startsWith('list(') ? range : 'list(dyn)';
        return 'bool';
      }
      if (n.target) check(n.target, scope);
      for (const a of n.args) check(a, scope);
      const result: Record<string, CelType> = {
        size: 'int',
        startsWith: 'bool',
        endsWith: 'bool',
        contains: 'bool',
        matches: 'bool',
        string: 'string',
        int: 'int',
        double: 'double',
      };
      return result[n.fn] ?? 'dyn';
    }
  }
}

// ---------- evaluation ----------

const typeName = (v: CelValue): string =>
  v === null
    ? 'null_type'
    : typeof v === 'boolean'
      ? 'bool'
      : typeof v === 'bigint'
        ? 'int'
        : typeof v === 'number'
          ? 'double'
          : typeof v === 'string'
            ? 'string'
            : Array.isArray(v)
              ? 'list'
              : 'map';

const noOverload = (fn: string, ...vs: CelValue[]) => new CelError(`no such overload: ${fn}(${vs.map(typeName).join(', ')})`);

function checkInt(v: bigint): bigint {
  if (v < INT_MIN || v > INT_MAX) throw new CelError('integer overflow');
  return v;
}

function equals(a: CelValue, b: CelValue): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
    return Number(a) === Number(b) && (typeof a === 'number' ? Number.isFinite(a) || a === b : true);
  }
  if (typeName(a) !== typeName(b)) return false;
  if (Array.isArray(a)) {
    const bl = b as CelValue[];
    return a.length === bl.length && a.every((x, i) => equals(x, bl[i] as CelValue));
  }
  if (a instanceof Map) {
    const bm = b as Map<string, CelValue>;
    if (a.size !== bm.size) return false;
    for (const [k, v] of a) if (!bm.has(k) || !equals(v, bm.get(k) as CelValue)) return false;
    return true;
  }
  return a === b;
}

function compare(a: CelValue, b: CelValue, op: string): boolean {
  const num = (x: CelValue) => typeof x === 'bigint' || typeof x === 'number';
  let c: number;
  if (num(a) && num(b)) {
    if (typeof a === 'bigint' && typeof b === 'bigint') c = a < b ? -1 : a > b ? 1 : 0;
    else {
      const x = Number(a);
      const y = Number(b);
      if (Number.isNaN(x) || Number.isNaN(y)) return false;
      c = x < y ? -1 : x > y ? 1 : 0;
    }
  } else if (typeof a === 'string' && typeof b === 'string') c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === 'boolean' && typeof b === 'boolean') c = Number(a) - Number(b);
  else throw noOverload(op, a, b);
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
}

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

class Evaluator {
  private steps = 0;
  private readonly vars: Map<string, CelValue>;
  constructor(vars: Map<string, CelValue>) {
    this.vars = vars;
  }
  eval(n: Node): CelValue {
    if (++this.steps > MAX_STEPS) throw new CelError(`evaluation over its budget of ${MAX_STEPS} steps`);
    switch (n.k) {
      case 'lit':
        return n.v;
      case 'id': {
        if (!this.vars.has(n.name)) throw new CelError(`undeclared reference to '${n.name}'`);
        return this.vars.get(n.name) as CelValue;
      }
      case 'list':
        return n.items.map((x) => this.eval(x));
      case 'map': {
        const m = new Map<string, CelValue>();
        for (const [kn, vn] of n.entries) {
          const k = this.eval(kn);
          if (typeof k !== 'string') throw new CelError('map keys must be strings here');
          m.set(k, this.eval(vn)); // a repeated key: the last one wins, as in cel-go
        }
        return m;
      }
      case 'sel': {
        const o = this.eval(n.obj);
        if (!(o instanceof Map)) throw new CelError(`type '${typeName(o)}' does not support field selection`);
        if (!o.has(n.field)) throw new CelError(`no such key: ${n.field}`);
        return o.get(n.field) as CelValue;
      }
      case 'idx': {
        const o = this.eval(n.obj);
        const i = this.eval(n.index);
        if (Array.isArray(o)) {
          const j = typeof i === 'bigint' ? i : typeof i === 'number' && Number.isInteger(i) ? BigInt(i) : undefined;
          if (j === undefined) throw noOverload('_[_]', o, i);
          if (j < 0n || j >= BigInt(o.length)) throw new CelError(`index out of range: ${j}`);
          return o[Number(j)] as CelValue;
        }
        if (o instanceof Map) {
          if (typeof i !== 'string' || !o.has(i)) throw new CelError(`no such key: ${String(i)}`);
          return o.get(i) as CelValue;
        }
        throw noOverload('_[_]', o, i);
      }
      case 'un': {
        const x = this.eval(n.x);
        if (n.op === '!') {
          if (typeof x !== 'boolean') throw noOverload('!_', x);
          return !x;
        }
        if (typeof x === 'bigint') return checkInt(-x);
        if (typeof x === 'number') return -x;
        throw noOverload('-_', x);
      }
      case 'cond': {
        const c = this.eval(n.c);
        if (typeof c !== 'boolean') throw noOverload('_?_:_', c);
        return this.eval(c ? n.t : n.f);
      }
      case 'bin':
        return this.binary(n.op, n.l, n.r);
      case 'call':
        return this.call(n);
    }
  }

  /** && and || are commutative over errors: the side that decides wins, else the error stands. */
  private logic(op: string, ln: Node, rn: Node): CelValue {
    const side = (x: Node): CelValue | CelError => {
      try {
        return this.eval(x);
      } catch (e) {
        if (e instanceof CelError && !/budget/.test(e.message)) return e;
        throw e;
      }
    };
    const decide = op === '||';
    const l = side(ln);
    if (l === decide) return decide;
    const r = side(rn);
    if (r === decide) return decide;
    if (l instanceof CelError) throw l;
    if (r instanceof CelError) throw r;
    if (typeof l !== 'boolean' || typeof r !== 'boolean') throw noOverload(op === '||' ? '_||_' : '_&&_', l, r);
    return !decide;
  }

  private binary(op: string, ln: Node, rn: Node): CelValue {
    if (op === '&&' || op === '||') return this.logic(op, ln, rn);
    const l = this.eval(ln);
    const r = this.eval(rn);
    switch (op) {
      case '==':
        return equals(l, r);
      case '!=':
        return !equals(l, r);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return compare(l, r, op);
      case 'in':
        if (Array.isArray(r)) return r.some((x) => equals(x, l));
        if (r instanceof Map) return typeof l === 'string' && r.has(l);
        throw noOverload('@in', l, r);
    }
    if (typeof l === 'bigint' && typeof r === 'bigint') {
      if ((op === '/' || op === '%') && r === 0n) throw new CelError(op === '/' ? 'division by zero' : 'modulus by zero');
      if (op === '+') return checkInt(l + r);
      if (op === '-') return checkInt(l - r);
      if (op === '*') return checkInt(l * r);
      if (op === '/') return checkInt(l / r);
      return l % r;
    }
    if (typeof l === 'number' && typeof r === 'number' && op !== '%') {
      return op === '+' ? l + r : op === '-' ? l - r : op === '*' ? l * r : l / r;
    }
    if (op === '+' && typeof l === 'string' && typeof r === 'string') return l + r;
    if (op === '+' && Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
    throw noOverload(`_${op}_`, l, r);
  }

  private call(n: Extract<Node, { k: 'call' }>): CelValue {
    if (n.target && MACROS.has(n.fn)) return this.macro(n);
    const target = n.target ? this.eval(n.target) : undefined;
    const args = n.args.map((a) => this.eval(a));
    const all = target === undefined ? args : [target, ...args];
    const [a, b] = all;
    const one = all.length === 1;
    const two = all.length === 2;
    switch (n.fn) {
      case 'size':
        if (one && typeof a === 'string') return BigInt([...a].length);
        if (one && Array.isArray(a)) return BigInt(a.length);
        if (one && a instanceof Map) return BigInt(a.size);
        break;
      case 'startsWith':
      case 'endsWith':
      case 'contains':
        if (n.target && two && typeof a === 'string' && typeof b === 'string')
          return n.fn === 'startsWith' ? a.startsWith(b) : n.fn === 'endsWith' ? a.endsWith(b) : a.includes(b);
        break;
      case 'matches':
        if (two && typeof a === 'string' && typeof b === 'string') {
          let re: RegExp;
          try {
            re = new RegExp(b, 'u');
          } catch (e) {
            throw new CelError(`invalid regular expression: ${(e as Error).message}`);
          }
          return re.test(a);
        }
        break;
      case 'string':
        if (!n.target && one) {
          if (typeof a === 'string') return a;
          if (typeof a === 'bigint') return a.toString();
          if (typeof a === 'boolean') return String(a);
          if (typeof a === 'number') return String(a);
        }
        break;
      case 'int':
        if (!n.target && one) {
          if (typeof a === 'bigint') return a;
          if (typeof a === 'number') {
            if (!Number.isFinite(a) || a <= -(2 ** 63) || a >= 2 ** 63) throw new CelError('double out of int range');
            return BigInt(Math.trunc(a));
          }
          if (typeof a === 'string') {
            if (!/^[+-]?\d+$/.test(a)) throw new CelError(`cannot convert '${a}' to int`);
            const v = BigInt(a);
            if (v < INT_MIN || v > INT_MAX) throw new CelError('integer overflow');
            return v;
          }
        }
        break;
      case 'double':
        if (!n.target && one) {
          if (typeof a === 'number') return a;
          if (typeof a === 'bigint') return Number(a);
          if (typeof a === 'string') {
            const v = Number(a);
            if (a.trim() === '' || Number.isNaN(v)) throw new CelError(`cannot convert '${a}' to double`);
            return v;
          }
        }
        break;
      default:
        throw new CelError(`undeclared reference to '${n.fn}'`);
    }
    throw noOverload(n.fn, ...all);
  }

  private macro(n: Extract<Node, { k: 'call' }>): CelValue {
    const range = this.eval(n.target as Node);
    const items = Array.isArray(range) ? range : range instanceof Map ? [...range.keys()] : undefined;
    if (!items) throw noOverload(n.fn, range);
    const v = n.args[0];
    const arity = n.fn === 'map' ? [2, 3] : [2];
    if (v?.k !== 'id' || !arity.includes(n.args.length)) throw new CelError(`${n.fn}() takes a variable name and an expression`);
    const saved = this.vars.has(v.name) ? this.vars.get(v.name) : undefined;
    const had = this.vars.has(v.name);
    const body = (x: CelValue, node: Node): CelValue => {
      this.vars.set(v.name, x);
      return this.eval(node);
    };
    try {
      const pred = n.args[1] as Node;
      if (n.fn === 'map') {
        if (n.args.length === 3) return items.filter((x) => this.bool(body(x, pred), n.fn)).map((x) => body(x, n.args[2] as Node));
        return items.map((x) => body(x, pred));
      }
      if (n.fn === 'filter') return items.filter((x) => this.bool(body(x, pred), n.fn));
      if (n.fn === 'exists_one') return items.filter((x) => this.bool(body(x, pred), n.fn)).length === 1;
      // all / exists: an error is absorbed when another element decides, as && and || do.
      const decide = n.fn === 'exists';
      let err: CelError | undefined;
      for (const x of items) {
        try {
          if (this.bool(body(x, pred), n.fn) === decide) return decide;
        } catch (e) {
          if (e instanceof CelError && !/budget/.test(e.message)) err ??= e;
          else throw e;
        }
      }
      if (err) throw err;
      return !decide;
    } finally {
      if (had) this.vars.set(v.name, saved as CelValue);
      else this.vars.delete(v.name);
    }
  }

  private bool(x: CelValue, fn: string): boolean {
    if (typeof x !== 'boolean') throw noOverload(fn, x);
    return x;
  }
}

export interface CelProgram {
  source: string;
  eval(vars: Record<string, CelValue>): CelValue;
}

/** Parse an expression; a syntax error or an unsupported construct is an InputError naming the expression. */
export function compileCel(source: string): CelProgram {
  if (source.length > MAX_CEL_LENGTH) throw new InputError(`CEL expression over ${MAX_CEL_LENGTH} characters`);
  let ast: Node;
  try {
    ast = new Parser(lex(source)).parse();
    check(ast, new Map([['request', 'dyn']]));
  } catch (e) {
    if (e instanceof CelError) throw new InputError(`CEL expression ${JSON.stringify(source)}: ${e.message}`);
    throw e;
  }
  return {
    source,
    eval: (vars) => new Evaluator(new Map(Object.entries(vars))).eval(ast),
  };
}

/** Plain data as CEL values: objects become maps, numbers that are integers stay doubles unless given as bigint. */
export function toCel(v: unknown): CelValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'bigint' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v instanceof Map) return v as Map<string, CelValue>;
  return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]));
}
