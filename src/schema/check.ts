/**
 * Configuration and input schemas (TypeBox, i.e. JSON Schema) validated with ajv, the validator
 * fastify already uses for the Web RA API, with errors that name the field the way the
 * configuration files have always named them: `est.authThrottle.lockMinutes: expected an integer
 * from 1 to 1440, got 0`, `crl.colour: unknown setting (allowed: …)`.
 *
 * Defaults written in the schema are filled in (on a copy; the input is not changed). A schema may
 * carry `errorMessage` (a string): it replaces the generic message for a value that fails it, e.g.
 * a pattern.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';

/** A value that does not match its schema: the message names the field. */
export class SchemaError extends Error {
  constructor(
    message: string,
    /** The field as named in the message, e.g. est.authThrottle.lockMinutes ('' for the root). */
    readonly field: string,
  ) {
    super(message);
    this.name = 'SchemaError';
  }
}

// The Web RA's options where they matter (admin-server.ts): no coercion, defaults, oneOf by discriminator.
const ajv = new Ajv({ allErrors: false, useDefaults: true, coerceTypes: false, strict: true, strictRequired: false, verbose: true, discriminator: true });
// RFC 3339 date-time and full-date, the formats the API schemas use
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i);
ajv.addFormat('date', /^\d{4}-\d\d-\d\d$/);
// Annotations of our schemas: text for messages and the generated configuration reference.
ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
ajv.addKeyword({ keyword: 'example', schemaType: ['string', 'number', 'boolean', 'array', 'object'] });
ajv.addKeyword({ keyword: 'envOverride', schemaType: 'string' });
ajv.addKeyword({ keyword: 'ownParser', schemaType: 'string' });
// `unit`: what a number counts ("expected a number of seconds ≥ 1"); `requiredHint`: said when it is missing.
ajv.addKeyword({ keyword: 'unit', schemaType: 'string' });
ajv.addKeyword({ keyword: 'requiredHint', schemaType: 'string' });

const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** `a.b[2].c` from a JSON pointer and a prefix. */
function fieldName(prefix: string, pointer: string, extra?: string): string {
  let out = prefix;
  const parts = pointer === '' ? [] : pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

const got = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** One alternative or a list: "refuse or warn", "one of a, b, c". */
export function choices(values: readonly unknown[]): string {
  const shown = values.map((v) => String(v));
  return shown.length === 2 ? `${shown[0]} or ${shown[1]}` : `one of ${shown.join(', ')}`;
}

function integerRange(s: Record<string, unknown>): string {
  const min = s.minimum as number | undefined;
  const max = s.maximum as number | undefined;
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min !== undefined) return `an integer of at least ${min}`;
  if (max !== undefined) return `an integer of at most ${max}`;
  return 'an integer';
}

function numberRange(s: Record<string, unknown>): string {
  const min = s.minimum as number | undefined;
  const unit = typeof s.unit === 'string' ? ` of ${s.unit}` : '';
  return min !== undefined ? `a number${unit} ≥ ${min}` : `a number${unit}`;
}

/** The message of one ajv error, in the words of the configuration files. */
function describe(e: ErrorObject, prefix: string): SchemaError {
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((parent.properties ?? {}) as object);
    const field = fieldName(prefix, e.instancePath, key);
    return new SchemaError(`${field}: unknown setting (allowed: ${allowed.join(', ')})`, field);
  }
  if (e.keyword === 'required') {
    const key = (e.params as { missingProperty: string }).missingProperty;
    const field = fieldName(prefix, e.instancePath, key);
    const sub = ((parent.properties ?? {}) as Record<string, Record<string, unknown>>)[key];
    const hint = sub?.requiredHint ?? sub?.errorMessage;
    return new SchemaError(`${field}: required${typeof hint === 'string' ? `: ${hint}` : ''}`, field);
  }
  const field = fieldName(prefix, e.instancePath);
  if (typeof parent.errorMessage === 'string') return new SchemaError(`${field}: ${parent.errorMessage}`, field);
  const data = e.data;
  if (Array.isArray(parent.enum)) return new SchemaError(`${field}: expected ${choices(parent.enum)}, got ${got(data)}`, field);
  switch (parent.type) {
    case 'object':
      return new SchemaError(`${field}: expected a mapping`, field);
    case 'integer':
      return new SchemaError(`${field}: expected ${integerRange(parent)}, got ${got(data)}`, field);
    case 'number':
      return new SchemaError(`${field}: expected ${numberRange(parent)}, got ${got(data)}`, field);
    case 'boolean':
      return new SchemaError(`${field}: expected true or false, got ${got(data)}`, field);
    case 'string':
      if (e.keyword === 'format') return new SchemaError(`${field}: expected ${parent.format}, got ${got(data)}`, field);
      if (e.keyword === 'maxLength') return new SchemaError(`${field}: expected at most ${parent.maxLength} characters`, field);
      if (e.keyword === 'pattern' && parent.pattern !== '\\S') return new SchemaError(`${field}: ${got(data)} does not match ${parent.pattern}`, field);
      return new SchemaError(`${field}: expected a non-empty string`, field);
    case 'array':
      if (e.keyword === 'minItems' && parent.minItems === 1) return new SchemaError(`${field}: expected a non-empty list`, field);
      if (e.keyword === 'maxItems') return new SchemaError(`${field}: expected at most ${parent.maxItems} entries, got ${(data as unknown[]).length}`, field);
      if (e.keyword === 'uniqueItems') return new SchemaError(`${field}: lists an entry twice`, field);
      return new SchemaError(`${field}: expected a list`, field);
  }
  return new SchemaError(`${field}: ${e.message ?? 'invalid'}`, field);
}

/**
 * The schema as validated here: a part marked `ownParser` (a module that validates it itself, the
 * schema only documenting it) accepts anything.
 */
export function withoutOwnParsers(schema: TSchema): TSchema {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node !== 'object' || node === null) return node;
    if ('ownParser' in node) return 'default' in node ? { default: (node as { default: unknown }).default } : {};
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
  };
  return walk(schema) as TSchema;
}

/**
 * A copy of `value` without the null numbers and booleans (`validityHours:` written without a value):
 * they take their defaults, as estuary.yaml has always read them. Strings and sections stay null
 * (and are refused, naming the field).
 */
export function withoutNullNumbers(schema: TSchema, value: unknown): unknown {
  const s = schema as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof s.properties !== 'object') return value;
  const properties = s.properties as Record<string, Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const sub = properties[k];
    if (v === null && sub && (sub.type === 'integer' || sub.type === 'number' || sub.type === 'boolean')) continue;
    out[k] = sub ? withoutNullNumbers(sub as TSchema, v) : v;
  }
  return out;
}

/**
 * Validate `value` against `schema`; returns a copy with the schema's defaults filled in, or throws
 * a SchemaError naming the first field that does not match. `prefix` names the value's own place
 * (e.g. `database`); without it, fields are named from the root.
 */
export function checkSchema<T = unknown>(schema: TSchema, value: unknown, prefix = ''): T {
  const copy = value === undefined ? undefined : structuredClone(value);
  const validate = compile(schema);
  if (validate(copy)) return copy as T;
  // the last error: after an anyOf's branches, the anyOf itself (whose schema says what was expected)
  throw describe(validate.errors!.at(-1)!, prefix);
}
