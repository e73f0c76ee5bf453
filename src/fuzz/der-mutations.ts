/**
 * Mutations of DER (X.690) for the fuzzer: a tolerant tree of TLVs, re-serialised with correct
 * lengths after semantic mutations (splice, duplicate, delete, retag, odd contents), and raw
 * byte-level damage (bit flips, truncation, broken length and tag octets) on top.
 */
import type { Rng } from './prng.js';

export interface DerNode {
  tag: number;
  /** Children of a constructed node that parsed as TLVs; otherwise the content bytes. */
  children?: DerNode[];
  content?: Buffer;
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Parses a sequence of TLVs (one-byte tags, definite lengths); undefined when it is not one. */
export function parseNodes(buf: Buffer, depth = 0): DerNode[] | undefined {
  const nodes: DerNode[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) return undefined;
    const tag = buf[at]!;
    if ((tag & 0x1f) === 0x1f) return undefined;
    let len = buf[at + 1]!;
    let head = 2;
    if (len & 0x80) {
      const k = len & 0x7f;
      if (k === 0 || k > 4 || at + 2 + k > buf.length) return undefined;
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + buf[at + 2 + i]!;
      head += k;
    }
    if (at + head + len > buf.length) return undefined;
    const content = buf.subarray(at + head, at + head + len);
    const children = tag & 0x20 && depth < 64 ? parseNodes(content, depth + 1) : undefined;
    nodes.push(children ? { tag, children } : { tag, content: Buffer.from(content) });
    at += head + len;
  }
  return nodes;
}

export function serialize(nodes: readonly DerNode[]): Buffer {
  return Buffer.concat(nodes.map((n) => {
    const content = n.children ? serialize(n.children) : (n.content ?? Buffer.alloc(0));
    return Buffer.concat([Buffer.from([n.tag]), encodeLength(content.length), content]);
  }));
}

export function clone(nodes: readonly DerNode[]): DerNode[] {
  return nodes.map((n) => (n.children ? { tag: n.tag, children: clone(n.children) } : { tag: n.tag, content: Buffer.from(n.content ?? []) }));
}

interface Place {
  list: DerNode[];
  index: number;
}

function places(list: DerNode[], out: Place[] = []): Place[] {
  list.forEach((n, index) => {
    out.push({ list, index });
    if (n.children) places(n.children, out);
  });
  return out;
}

const TAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1e, 0x30, 0x31, 0x80, 0x81, 0x82, 0x86, 0x87, 0xa0, 0xa3, 0xff];

function oddContent(rng: Rng): Buffer {
  switch (rng.int(9)) {
    case 0: return Buffer.alloc(0);
    case 1: return Buffer.from([0x00]);
    case 2: return Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    case 3: return Buffer.alloc(rng.range(1000, 20_000), 0x41);
    case 4: return Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x00, 0x0a]); // invalid UTF-8, NUL, LF
    case 5: return Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]); // an OID arc that never ends small
    case 6: return Buffer.from([0x00, 0x00, 0x01]); // non-minimal integer
    case 7: return Buffer.from('*.example.com\u0000.evil', 'utf8');
    default: return rng.bytes(rng.range(1, 64));
  }
}

export const TREE_MUTATIONS = ['splice', 'duplicate', 'delete', 'swap', 'retag', 'content', 'wrap', 'deep-nest'] as const;
export type TreeMutation = (typeof TREE_MUTATIONS)[number];

/** One semantic mutation of `nodes` in place; `donors` are other trees to splice from. */
export function mutateTree(nodes: DerNode[], donors: readonly DerNode[][], rng: Rng, kind: TreeMutation = rng.pick(TREE_MUTATIONS)): TreeMutation {
  const all = places(nodes);
  if (all.length === 0) return kind;
  const p = rng.pick(all);
  const node = p.list[p.index]!;
  switch (kind) {
    case 'splice': {
      const donorPlaces = places(clone(rng.pick(donors)));
      const d = rng.pick(donorPlaces);
      p.list[p.index] = d.list[d.index]!;
      break;
    }
    case 'duplicate':
      p.list.splice(p.index, 0, ...clone([node]));
      break;
    case 'delete':
      p.list.splice(p.index, 1);
      break;
    case 'swap': {
      const other = rng.int(p.list.length);
      [p.list[p.index], p.list[other]] = [p.list[other]!, node];
      break;
    }
    case 'retag':
      node.tag = rng.chance(0.3) ? node.tag ^ 0x20 : rng.pick(TAGS);
      if (!(node.tag & 0x20) && node.children) {
        node.content = serialize(node.children);
        delete node.children;
      }
      break;
    case 'content':
      delete node.children;
      node.content = oddContent(rng);
      break;
    case 'wrap':
      p.list[p.index] = { tag: rng.pick([0x30, 0x31, 0xa0, 0x04]), children: [node] };
      break;
    case 'deep-nest': {
      let inner: DerNode = node;
      for (let i = rng.range(50, 1000); i > 0; i--) inner = { tag: 0x30, children: [inner] };
      p.list[p.index] = inner;
      break;
    }
  }
  return kind;
}

export const BYTE_MUTATIONS = ['bit-flip', 'byte-set', 'truncate', 'append', 'length', 'tag', 'insert'] as const;
export type ByteMutation = (typeof BYTE_MUTATIONS)[number];

/** Offsets of TLV headers in `der`, found by walking it (tolerant: stops where it breaks). */
function headerOffsets(der: Buffer): number[] {
  const out: number[] = [];
  const walk = (from: number, to: number, depth: number): void => {
    let at = from;
    while (at + 2 <= to && depth < 64) {
      out.push(at);
      const tag = der[at]!;
      let len = der[at + 1]!;
      let head = 2;
      if (len & 0x80) {
        const k = len & 0x7f;
        if (k === 0 || k > 4) return;
        len = 0;
        for (let i = 0; i < k && at + 2 + i < to; i++) len = len * 256 + der[at + 2 + i]!;
        head += k;
      }
      if (at + head + len > to) return;
      if (tag & 0x20) walk(at + head, at + head + len, depth + 1);
      at += head + len;
    }
  };
  walk(0, der.length, 0);
  return out;
}

/** Byte-level damage: the DER no longer parses, or parses into something else. */
export function mutateBytes(der: Buffer, rng: Rng, kind: ByteMutation = rng.pick(BYTE_MUTATIONS)): { der: Buffer; kind: ByteMutation } {
  const b = Buffer.from(der);
  if (b.length === 0) return { der: rng.bytes(rng.range(1, 16)), kind };
  switch (kind) {
    case 'bit-flip':
      for (let i = rng.range(1, 8); i > 0; i--) {
        const at = rng.int(b.length);
        b[at] = b[at]! ^ (1 << rng.int(8));
      }
      return { der: b, kind };
    case 'byte-set':
      for (let i = rng.range(1, 4); i > 0; i--) b[rng.int(b.length)] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0x81, 0xff]);
      return { der: b, kind };
    case 'truncate':
      return { der: b.subarray(0, rng.int(b.length)), kind };
    case 'append':
      return { der: Buffer.concat([b, rng.chance(0.5) ? rng.bytes(rng.range(1, 64)) : b]), kind };
    case 'insert': {
      const at = rng.int(b.length);
      return { der: Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 8)), b.subarray(at)]), kind };
    }
    case 'length': {
      const at = rng.pick(headerOffsets(b));
      const oldLen = b[at + 1]!;
      const skip = oldLen & 0x80 ? 2 + (oldLen & 0x7f) : 2;
      const forms = [
        Buffer.from([0x80]), // indefinite (BER, not DER)
        Buffer.from([0x00]),
        Buffer.from([0x7f]),
        Buffer.from([0x81, 0x05]), // long form for a short length (not DER)
        Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0xff]),
        Buffer.from([(oldLen & 0x7f) + rng.pick([-1, 1, 2])]),
      ];
      return { der: Buffer.concat([b.subarray(0, at + 1), rng.pick(forms), b.subarray(Math.min(b.length, at + skip))]), kind };
    }
    case 'tag': {
      const at = rng.pick(headerOffsets(b));
      b[at] = rng.chance(0.2) ? 0x1f : rng.chance(0.5) ? b[at]! ^ 0x20 : rng.pick(TAGS);
      return { der: rng.chance(0.1) ? Buffer.concat([b.subarray(0, at + 1), Buffer.from([0x81, 0x80, 0x01]), b.subarray(at + 1)]) : b, kind };
    }
  }
}
