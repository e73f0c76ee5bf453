/**
 * The fuzzer's inputs, by class: mutated CSRs, request body encodings, headers, multipart bodies,
 * paths and labels, and HTTP syntax the server's parser must refuse. Every input is derived from
 * the seed corpus and one iteration's PRNG, so it can be reproduced on its own.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pemBlocks } from '../pki/base64.js';
import { clone, mutateBytes, mutateTree, parseNodes, serialize, type DerNode } from './der-mutations.js';
import type { Rng } from './prng.js';
import type { RawRequest } from './raw-http.js';

export const INPUT_CLASSES = ['csr', 'body', 'headers', 'multipart', 'path', 'wire'] as const;
export type InputClass = (typeof INPUT_CLASSES)[number];

export interface Seed {
  name: string;
  key: KeyObject;
  der: Buffer;
  tree: DerNode[];
}

export interface FuzzInput {
  cls: InputClass;
  /** What was done, e.g. "resigned splice" or "content-type: APPLICATION/PKCS10". */
  variant: string;
  request: RawRequest;
}

export interface InputContext {
  seeds: readonly Seed[];
  /** "Basic …" of an account allowed to enroll. */
  authorization: string;
  /** "/.well-known/est" */
  prefix: string;
}

/** The seed corpus: files holding a test-only PRIVATE KEY and a CERTIFICATE REQUEST signed with it. */
export function loadSeeds(dir: string): Seed[] {
  const seeds = readdirSync(dir).filter((f) => f.endsWith('.pem')).sort().map((f) => {
    const text = readFileSync(join(dir, f), 'utf8');
    const [der] = pemBlocks(text, 'CERTIFICATE REQUEST');
    const [pkcs8] = pemBlocks(text, 'PRIVATE KEY');
    if (!der || !pkcs8) throw new Error(`${f}: expected a PRIVATE KEY and a CERTIFICATE REQUEST`);
    const tree = parseNodes(der);
    if (!tree) throw new Error(`${f}: the CSR is not DER`);
    return { name: f.replace(/\.pem$/, ''), key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), der, tree };
  });
  if (seeds.length === 0) throw new Error(`no seed CSRs (*.pem) in ${dir}`);
  return seeds;
}

/** base64 in 64-column lines, as EST clients send it (RFC 8951). */
export function base64Lines(der: Buffer, eol = '\n'): string {
  return (der.toString('base64').match(/.{1,64}/g) ?? []).join(eol) + eol;
}

function hashFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
  return 'sha256';
}

/** A mutated CSR: structure-aware (optionally signed again, to get past the signature check) and/or byte-level. */
export function mutatedCsr(ctx: InputContext, rng: Rng): { der: Buffer; variant: string } {
  const seed = rng.pick(ctx.seeds);
  const steps: string[] = [];
  let der: Buffer;
  if (rng.chance(0.6)) {
    const tree = clone(seed.tree);
    const resign = rng.chance(0.5) && tree[0]?.children?.[0] !== undefined;
    const target = resign ? [tree[0]!.children![0]!] : tree;
    for (let i = rng.range(1, 3); i > 0; i--) steps.push(mutateTree(target, ctx.seeds.map((s) => s.tree), rng));
    if (resign && target[0]) {
      // The request info mutated, then signed again with the seed's key: the server's checks after the signature see it.
      tree[0]!.children![0] = target[0];
      const info = serialize([target[0]]);
      const signature = sign(hashFor(seed.key), info, { key: seed.key, dsaEncoding: 'der' });
      const sigNode = tree[0]!.children![2];
      if (sigNode) sigNode.content = Buffer.concat([Buffer.from([0]), signature]);
      steps.unshift('resigned');
    }
    der = serialize(tree);
    if (rng.chance(0.2)) {
      const b = mutateBytes(der, rng);
      der = b.der;
      steps.push(b.kind);
    }
  } else {
    der = seed.der;
    for (let i = rng.range(1, 3); i > 0; i--) {
      const b = mutateBytes(der, rng);
      der = b.der;
      steps.push(b.kind);
    }
  }
  return { der, variant: steps.join('+') };
}

const ENROLL_OPS = ['simpleenroll', 'simpleenroll', 'simpleenroll', 'simplereenroll', 'serverkeygen'];

function post(ctx: InputContext, op: string, body: Buffer, headers: [string, string][] = []): RawRequest {
  return { method: 'POST', path: `${ctx.prefix}/${op}`, headers: [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ...headers], body };
}

function csrInput(ctx: InputContext, rng: Rng): FuzzInput {
  const m = mutatedCsr(ctx, rng);
  const op = rng.pick(ENROLL_OPS);
  return { cls: 'csr', variant: m.variant, request: post(ctx, op, Buffer.from(base64Lines(m.der, rng.chance(0.5) ? '\r\n' : '\n'), 'latin1')) };
}

function bodyInput(ctx: InputContext, rng: Rng): FuzzInput {
  const der = rng.chance(0.7) ? rng.pick(ctx.seeds).der : mutatedCsr(ctx, rng).der;
  const b64 = der.toString('base64');
  const variants: [string, () => Buffer | string][] = [
    ['one-line', () => b64],
    ['crlf-76', () => (b64.match(/.{1,76}/g) ?? []).join('\r\n')],
    ['spaces', () => b64.replace(/(.{8})/g, '$1 ')],
    ['tabs-and-blank-lines', () => `\n\n\t${b64.replace(/(.{16})/g, '$1\t\n')}\n\n`],
    ['url-safe-alphabet', () => b64.replace(/\+/g, '-').replace(/\//g, '_')],
    ['no-padding', () => b64.replace(/=+$/, '')],
    ['extra-padding', () => `${b64}====`],
    ['padding-inside', () => `${b64.slice(0, 20)}=${b64.slice(20)}`],
    ['invalid-chars', () => b64.replace(/A/g, '*')],
    ['nul-inside', () => Buffer.concat([Buffer.from(b64.slice(0, 30)), Buffer.from([0]), Buffer.from(b64.slice(30))])],
    ['non-ascii', () => `${b64.slice(0, 10)}é€\u{1f600}${b64.slice(10)}`],
    ['bom', () => `\ufeff${b64}`],
    ['pem-armor', () => `-----BEGIN CERTIFICATE REQUEST-----\n${base64Lines(der)}-----END CERTIFICATE REQUEST-----\n`],
    ['raw-der', () => der],
    ['empty', () => Buffer.alloc(0)],
    ['whitespace-only', () => ' \r\n\t \n'],
    ['double-base64', () => Buffer.from(b64).toString('base64')],
    ['base64-of-random', () => rng.bytes(rng.range(1, 2048)).toString('base64')],
    ['random-binary', () => rng.bytes(rng.range(1, 4096))],
    ['just-over-limit', () => 'A'.repeat(64 * 1024 + 1)],
    ['one-megabyte', () => Buffer.alloc(1024 * 1024, 0x41)],
    ['two-csrs', () => `${base64Lines(der)}${base64Lines(rng.pick(ctx.seeds).der)}`],
    ['truncated-base64', () => b64.slice(0, rng.int(b64.length))],
  ];
  const [name, make] = rng.pick(variants);
  const body = make();
  const cte = rng.chance(0.2) ? [['Content-Transfer-Encoding', rng.pick(['base64', 'BASE64', 'binary', '7bit', 'quoted-printable', 'garbage'])] as [string, string]] : [];
  return { cls: 'body', variant: name + (cte.length ? ` cte=${cte[0]![1]}` : ''), request: post(ctx, rng.pick(ENROLL_OPS), typeof body === 'string' ? Buffer.from(body, 'utf8') : body, cte) };
}

const CONTENT_TYPES = [
  '', 'application/pkcs10', 'APPLICATION/PKCS10', 'application/pkcs10; charset=utf-8', 'application/pkcs10;;;', 'application/pkcs10 ; x="y"',
  'application/pkcs7-mime', 'application/pkcs7-mime; smime-type=certs-only', 'text/plain', 'application/json', '*/*', 'application/',
  'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/pkcs10\t', 'x'.repeat(8000), 'application/pkcs10, text/plain',
  'appl\u00e9cation/pkcs10',
];

function basicOf(userPass: Buffer | string): string {
  return `Basic ${Buffer.from(userPass).toString('base64')}`;
}

function headersInput(ctx: InputContext, rng: Rng): FuzzInput {
  const body = Buffer.from(base64Lines(rng.pick(ctx.seeds).der));
  const kind = rng.int(4);
  if (kind === 0) {
    const ct = rng.pick(CONTENT_TYPES);
    const headers: [string, string][] = [['Authorization', ctx.authorization]];
    if (ct !== '' || rng.chance(0.5)) headers.push(['Content-Type', ct]);
    return { cls: 'headers', variant: `content-type ${JSON.stringify(ct.length > 40 ? `${ct.slice(0, 20)}…(${ct.length})` : ct)}`, request: { method: 'POST', path: `${ctx.prefix}/${rng.pick(ENROLL_OPS)}`, headers, body } };
  }
  if (kind === 1) {
    const auths: [string, string][] = [
      ['none', ''], ['scheme-only', 'Basic'], ['scheme-space', 'Basic '], ['bad-base64', 'Basic !!!***'], ['no-colon', basicOf('nocolon')],
      ['empty-pair', basicOf(':')], ['wrong-password', basicOf('est@estuary.local:wrong')], ['unknown-user', basicOf('nobody@example.com:x')],
      ['non-utf8', basicOf(Buffer.from([0xff, 0xfe, 0x3a, 0xc3, 0x28]))], ['bearer', 'Bearer abc.def.ghi'], ['lowercase-scheme', ctx.authorization.replace('Basic', 'basic')],
      ['trailing-junk', `${ctx.authorization} extra`], ['huge', `Basic ${'A'.repeat(12_000)}`], ['digest', 'Digest username="x", realm="y", nonce="z"'],
      ['long-user', basicOf(`${'u'.repeat(5000)}:p`)], ['nul-in-user', basicOf('est@estuary.local\u0000:x')],
    ];
    const [name, value] = rng.pick(auths);
    const headers: [string, string][] = [['Content-Type', 'application/pkcs10']];
    if (name !== 'none') headers.push(['Authorization', value]);
    return { cls: 'headers', variant: `authorization ${name}`, request: { method: 'POST', path: `${ctx.prefix}/simpleenroll`, headers, body } };
  }
  if (kind === 2) {
    const dups: [string, [string, string][]][] = [
      ['two-content-types', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Content-Type', 'text/plain']]],
      ['two-authorizations', [['Authorization', ctx.authorization], ['Authorization', basicOf('x:y')], ['Content-Type', 'application/pkcs10']]],
      ['two-authorizations-good-last', [['Authorization', basicOf('x:y')], ['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10']]],
      ['two-ctes', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Content-Transfer-Encoding', 'base64'], ['Content-Transfer-Encoding', 'binary']]],
      ['two-hosts', [['Host', 'a.example'], ['Host', 'b.example'], ['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10']]],
    ];
    const [name, headers] = rng.pick(dups);
    return { cls: 'headers', variant: `duplicated ${name}`, request: { method: 'POST', path: `${ctx.prefix}/simpleenroll`, headers, body } };
  }
  const others: [string, [string, string][], Buffer][] = [
    ['chunked-body', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Transfer-Encoding', 'chunked']], Buffer.from(`${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, 'latin1')],
    ['expect-100', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Expect', '100-continue']], body],
    ['accept-garbage', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Accept', 'x/y;q=abc, */*;q=-1']], body],
    ['many-headers', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ...Array.from({ length: 300 }, (_, i): [string, string] => [`X-F${i}`, 'v'])], body],
    ['keep-alive', [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10'], ['Connection', 'keep-alive, close']], body],
    ['get-with-body', [['Content-Type', 'application/pkcs10']], body],
  ];
  const [name, headers, b] = rng.pick(others);
  return { cls: 'headers', variant: name, request: { method: name === 'get-with-body' ? 'GET' : 'POST', path: `${ctx.prefix}/${name === 'get-with-body' ? 'cacerts' : 'simpleenroll'}`, headers, body: b } };
}

function multipartInput(ctx: InputContext, rng: Rng): FuzzInput {
  const csr = base64Lines(rng.pick(ctx.seeds).der, '\r\n');
  const boundary = rng.pick(['est', 'x'.repeat(200), '', '--', 'a b', 'é']);
  const part = (type: string, content: string): string => `--${boundary}\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`;
  const bodies: [string, string][] = [
    ['csr-part', `${part('application/pkcs10', csr)}--${boundary}--\r\n`],
    ['two-parts', `${part('application/pkcs10', csr)}${part('application/pkcs8', 'AAAA')}--${boundary}--\r\n`],
    ['no-closing', part('application/pkcs10', csr)],
    ['no-boundary-in-body', csr],
    ['nested', `${part(`multipart/mixed; boundary=${boundary}`, part('application/pkcs10', csr))}--${boundary}--\r\n`],
    ['empty', ''],
  ];
  const [name, body] = rng.pick(bodies);
  const type = rng.pick([`multipart/mixed; boundary=${boundary}`, 'multipart/mixed', `multipart/form-data; boundary="${boundary}"`, 'multipart/related; boundary=']);
  if (rng.chance(0.3)) {
    // A well-formed serverkeygen: its multipart answer is checked by the oracle.
    return { cls: 'multipart', variant: 'serverkeygen-answer', request: post(ctx, 'serverkeygen', Buffer.from(base64Lines(rng.pick(ctx.seeds).der))) };
  }
  return {
    cls: 'multipart',
    variant: `${name} as ${type.split(';')[0]}`,
    request: { method: 'POST', path: `${ctx.prefix}/${rng.pick(['simpleenroll', 'serverkeygen', 'simplereenroll'])}`, headers: [['Authorization', ctx.authorization], ['Content-Type', type]], body: Buffer.from(body, 'utf8') },
  };
}

// Valid request-target characters only (RFC 9112 §3.2): raw spaces, quotes or non-ASCII are HTTP syntax errors (class wire).
const LABEL_PIECES = ['default', 'a', '..', '.', '%2e%2e', '%2F', '%00', '%ff', '%', '%zz', '%C3%A9', '~', 'A'.repeat(64), 'x'.repeat(300), '', '%20', '*', "'", '%22', '%3Cscript%3E', '%5C', ';', 'default;x', 'default?x=1', '!$&()+,=@'];
const OPS = ['cacerts', 'simpleenroll', 'simplereenroll', 'serverkeygen', 'csrattrs', 'fullcmc', 'SimpleEnroll', 'CACERTS', 'simpleenroll/', 'unknown', '', 'cacerts%00', 'cacerts.json'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE'];

function pathInput(ctx: InputContext, rng: Rng): FuzzInput {
  const shape = rng.int(5);
  let path: string;
  if (shape === 0) path = `${ctx.prefix}/${rng.pick(OPS)}`;
  else if (shape === 1) path = `${ctx.prefix}/${rng.pick(LABEL_PIECES)}/${rng.pick(OPS)}`;
  else if (shape === 2) path = `${ctx.prefix}/${rng.pick(LABEL_PIECES)}/${rng.pick(LABEL_PIECES)}/${rng.pick(OPS)}`;
  else if (shape === 3) path = rng.pick(['/', '/.well-known', '/.well-known/', ctx.prefix, `${ctx.prefix}/`, `/${'a/'.repeat(2000)}`, `${ctx.prefix}//cacerts`, `${ctx.prefix}/./cacerts`, `${ctx.prefix}/../est/cacerts`, '*', `${ctx.prefix}/cacerts?${'q'.repeat(5000)}`, '/admin', '/crl']);
  else path = `${ctx.prefix}/${encodeURIComponent(rng.bytes(rng.range(1, 40)).toString('latin1'))}/${rng.pick(OPS)}`;
  const method = rng.pick(METHODS);
  const body = method === 'POST' || method === 'PUT' ? Buffer.from(base64Lines(rng.pick(ctx.seeds).der)) : Buffer.alloc(0);
  return { cls: 'path', variant: `${method} shape${shape}`, request: { method, path, headers: [['Authorization', ctx.authorization], ['Content-Type', 'application/pkcs10']], body } };
}

/** HTTP syntax errors: the server's HTTP parser refuses them before any EST code runs. */
function wireInput(ctx: InputContext, rng: Rng): FuzzInput {
  const body = base64Lines(rng.pick(ctx.seeds).der);
  const start = `POST ${ctx.prefix}/simpleenroll HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ctx.authorization}\r\nContent-Type: application/pkcs10\r\nConnection: close\r\n`;
  const raws: [string, string][] = [
    ['conflicting-content-lengths', `${start}Content-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`],
    ['content-length-and-chunked', `${start}Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`],
    ['negative-content-length', `${start}Content-Length: -1\r\n\r\n${body}`],
    ['bad-header-name', `${start}Bad Header: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['obs-fold', `${start}X-Folded: a\r\n b\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['bad-chunk-size', `${start}Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`],
    ['http-0.9', `GET ${ctx.prefix}/cacerts\r\n\r\n`],
    ['http-2.0-line', `GET ${ctx.prefix}/cacerts HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['no-host', `GET ${ctx.prefix}/cacerts HTTP/1.1\r\nConnection: close\r\n\r\n`],
    ['garbage-request-line', `${rng.bytes(40).toString('latin1')}\r\n\r\n`],
    ['huge-header-block', `GET ${ctx.prefix}/cacerts HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`],
    ['same-content-length-twice', `${start}Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['unknown-expectation', `${start}Expect: teapot\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['raw-space-in-target', `GET ${ctx.prefix}/a b/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['raw-non-ascii-in-target', `GET ${ctx.prefix}/\u00e9\u00ff/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['raw-quote-in-target', `GET ${ctx.prefix}/"<x>"/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['unknown-method', `FOO ${ctx.prefix}/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['nul-in-header', `GET ${ctx.prefix}/cacerts HTTP/1.1\r\nHost: x\r\nX-Nul: a\u0000b\r\nConnection: close\r\n\r\n`],
  ];
  const [name, raw] = rng.pick(raws);
  return { cls: 'wire', variant: name, request: { method: raw.startsWith('GET') ? 'GET' : 'POST', path: '', headers: [], body: Buffer.alloc(0), raw: Buffer.from(raw, 'latin1') } };
}

export function makeInput(cls: InputClass, ctx: InputContext, rng: Rng): FuzzInput {
  switch (cls) {
    case 'csr': return csrInput(ctx, rng);
    case 'body': return bodyInput(ctx, rng);
    case 'headers': return headersInput(ctx, rng);
    case 'multipart': return multipartInput(ctx, rng);
    case 'path': return pathInput(ctx, rng);
    case 'wire': return wireInput(ctx, rng);
  }
}
