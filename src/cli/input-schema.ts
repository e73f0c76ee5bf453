/**
 * The CLI checks profile and account input against the Web RA API's JSON schemas
 * (src/admin/schemas.ts) as well, so that both surfaces accept the same values.
 */
import type { TSchema } from '@sinclair/typebox';
import type { FieldError } from '../ra/profile-validation.js';
import { checkSchema, SchemaError } from '../schema/check.js';

/**
 * The first field of `value` the API schema refuses, named without list indexes (e.g. extendedKeyUsage),
 * or undefined. `value` is checked as JSON, the way the API receives it (a stored profile's dates as strings).
 */
export function inputSchemaError(schema: object, value: unknown): FieldError | undefined {
  try {
    checkSchema(schema as TSchema, JSON.parse(JSON.stringify(value)));
    return undefined;
  } catch (err) {
    if (!(err instanceof SchemaError)) throw err;
    const message = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    return { field: err.field.replace(/\[\d+\]/g, ''), message };
  }
}
