/** checkSchema: TypeBox schemas checked by ajv, each error naming its field in the words of the configuration files. */
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { checkSchema, SchemaError, withoutOwnParsers } from '../../src/schema/check.js';

const S = Type.Object({
  port: Type.Integer({ minimum: 1, maximum: 9, default: 5 }),
  name: Type.String({ minLength: 1, pattern: '\\S', default: 'n' }),
  mode: Type.Unsafe<string>({ type: 'string', enum: ['a', 'b'], default: 'a' }),
  level: Type.Unsafe<string>({ type: 'string', enum: ['x', 'y', 'z'], default: 'x' }),
  on: Type.Boolean({ default: false }),
  id: Type.Optional(Type.String({ pattern: '^[a-z]+$', errorMessage: 'lower-case letters only' })),
  inner: Type.Object({ n: Type.Number({ minimum: 0, default: 1 }) }, { additionalProperties: false, default: {} }),
  list: Type.Optional(Type.Array(Type.Object({ k: Type.String() }, { additionalProperties: false }), { minItems: 1 })),
  own: Type.Optional(Type.Object({ q: Type.Integer() }, { additionalProperties: false, ownParser: 'elsewhere' })),
}, { additionalProperties: false });

const message = (value: unknown, prefix = ''): string => {
  try {
    checkSchema(S, value, prefix);
  } catch (err) {
    expect(err).toBeInstanceOf(SchemaError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(value)}`);
};

describe('checkSchema', () => {
  it('fills defaults, nested ones too, on a copy', () => {
    const input = {};
    expect(checkSchema(S, input)).toEqual({ port: 5, name: 'n', mode: 'a', level: 'x', on: false, inner: { n: 1 } });
    expect(input).toEqual({});
  });

  it('names the field of each error, nested and in lists', () => {
    expect(message({ port: 0 })).toBe('port: expected an integer from 1 to 9, got 0');
    expect(message({ port: 'five' }, 'limits')).toBe('limits.port: expected an integer from 1 to 9, got "five"');
    expect(message({ name: '  ' })).toBe('name: expected a non-empty string');
    expect(message({ mode: 'c' })).toBe('mode: expected a or b, got "c"');
    expect(message({ level: 1 })).toBe('level: expected one of x, y, z, got 1');
    expect(message({ on: 'yes' })).toBe('on: expected true or false, got "yes"');
    expect(message({ id: 'A1' })).toBe('id: lower-case letters only');
    expect(message({ inner: 3 })).toBe('inner: expected a mapping');
    expect(message({ inner: { n: -1 } })).toBe('inner.n: expected a number ≥ 0, got -1');
    expect(message({ inner: { m: 1 } }, 'cfg')).toBe('cfg.inner.m: unknown setting (allowed: n)');
    expect(message({ colour: 1 })).toBe('colour: unknown setting (allowed: port, name, mode, level, on, id, inner, list, own)');
    expect(message({ list: [] })).toBe('list: expected a non-empty list');
    expect(message({ list: [{ k: 'a' }, { k: 2 }] })).toBe('list[1].k: expected a non-empty string');
    expect(message({ list: [{}] })).toBe('list[0].k: required');
  });

  it('leaves a part with its own parser to that parser', () => {
    expect(message({ own: { q: 'x' } })).toBe('own.q: expected an integer, got "x"');
    expect(checkSchema(withoutOwnParsers(S), { own: { q: 'x', r: 1 } })).toMatchObject({ own: { q: 'x', r: 1 } });
  });
});
