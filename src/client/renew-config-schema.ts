/**
 * The schema of the renewal agent's configuration (`estuary client renew --config FILE`), TypeBox
 * (JSON Schema): renew-config.ts validates with it and then checks what a schema cannot say (URLs,
 * settings that go together, renewAt's syntax, duplicates); the README reference is generated from it.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CLIENT_KEY_TYPES } from './keys.js';

const text = (description: string, extra: object = {}) => Type.String({ minLength: 1, pattern: '\\S', description, ...extra });
const opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const seconds = (min: number, def: number, description: string) => Type.Number({ minimum: min, default: def, unit: 'seconds', description });
const names = (description: string) =>
  opt(Type.Union([Type.String(), Type.Array(Type.String({ minLength: 1, pattern: '\\S' }))], { errorMessage: 'expected a list of strings', description }));

export const RENEW_ENTRY_NAME_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

const trust = Type.Object({
  ca: opt(text('explicit trust anchors (PEM file)')),
  implicit: opt(bool(false, 'true: the system trust store')),
}, { additionalProperties: false, requiredHint: '{ ca: FILE } (explicit trust anchors) or { implicit: true }', description: 'how the server is trusted: exactly one of ca or implicit' });

const auth = Type.Object({
  useCertificate: bool(true, 'reenroll authenticates with the current certificate'),
  user: opt(text('HTTP Basic user; the password comes from passwordFile (never inline)')),
  passwordFile: opt(text('file holding the HTTP Basic password')),
  clientCert: opt(text('another TLS client certificate (e.g. for a fresh enroll), with clientKey')),
  clientKey: opt(text('the private key of clientCert')),
}, { additionalProperties: false, default: {}, description: 'credentials' });

export const RenewEntrySchema = Type.Object({
  name: text('unique name of the entry: letters, digits, . _ - (at most 64)', { pattern: RENEW_ENTRY_NAME_PATTERN, errorMessage: 'letters, digits, ".", "_" and "-" only (at most 64)' }),
  server: text('https:// URL of the EST server', { example: 'https://est.example.com:8443' }),
  label: opt(text('EST label: /.well-known/est/<label>/…')),
  trust,
  auth,
  cert: text('the certificate kept alive (replaced atomically, mode 0644)'),
  key: text('its private key (PKCS#8 PEM, mode 0600)'),
  chain: opt(text('the CA chain, written on each renewal')),
  renewAt: opt(Type.String({ errorMessage: 'expected a string such as "66%" or "30d"', description: '% of the lifetime elapsed, or a duration before expiry: 30d, 12h, 15m, 90s. Left out: two thirds of the lifetime' })),
  rekey: bool(false, 'a new key on each renewal (false: the same key, RFC 7030 §4.2.2)'),
  keyType: opt(Type.Unsafe<(typeof CLIENT_KEY_TYPES)[number]>({ type: 'string', enum: [...CLIENT_KEY_TYPES], description: 'key type for rekey and fresh enrollments. Left out: that of the current key' })),
  keyPasswordFile: opt(text('the key file is (to be) encrypted with the passphrase in this file')),
  postRenew: opt(text('command run with sh -c (in the configuration\'s directory) after the files are replaced', { example: 'systemctl reload nginx' })),
  postRenewTimeoutSeconds: seconds(1, 300, 'how long postRenew may run'),
  maxWaitSeconds: seconds(0, 300, 'how long to wait on 202 + Retry-After'),
  enrollIfExpired: bool(false, 'an expired (or missing) certificate is enrolled afresh (/simpleenroll) with auth.user or auth.clientCert'),
  subject: opt(text('subject of a fresh enrollment. Left out: that of the current certificate', { example: 'CN=web01.example.com' })),
  dns: names('DNS names of a fresh enrollment'),
  ip: names('IP addresses of a fresh enrollment'),
  email: names('email addresses of a fresh enrollment'),
  uri: names('URIs of a fresh enrollment'),
}, { additionalProperties: false, description: 'one certificate to keep renewed' });

export const RenewConfigSchema = Type.Object({
  entries: Type.Optional(Type.Array(RenewEntrySchema, { minItems: 1, errorMessage: 'expected a list of at least one certificate to keep renewed', description: 'the certificates to keep renewed' })),
  retry: Type.Object({
    initialSeconds: seconds(1, 30, 'first backoff after a failed attempt (exponential, with jitter)'),
    maxSeconds: seconds(1, 3600, 'longest backoff, at least initialSeconds'),
    jitter: Type.Unsafe<'full' | 'decorrelated'>({ type: 'string', enum: ['full', 'decorrelated'], default: 'full', description: 'full or decorrelated jitter' }),
  }, { additionalProperties: false, default: {}, description: 'backoff after a failed attempt' }),
}, { additionalProperties: false, description: 'the renewal agent\'s configuration; relative paths are relative to its directory' });
