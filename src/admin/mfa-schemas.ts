/** The JSON schemas of the second-factor routes (api-mfa.ts), in the OpenAPI document like the rest of schemas.ts. */
import { ADMIN_ROLES } from '../ra/model.js';
import { named, SessionInfo } from './schemas.js';

const obj = (properties: Record<string, object>, required: string[] = []) => ({
  type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}),
});
const dateTime = (description: string) => ({ type: 'string', format: 'date-time', description });

export const SecondFactorCode = named('SecondFactorCode', obj({
  code: { type: 'string', minLength: 6, maxLength: 32, description: 'the 6-digit code of the authenticator app, or an unused recovery code (e.g. k3xq7-mpa2d)' },
}, ['code']));

export const TotpCode = named('TotpCode', obj({
  code: { type: 'string', minLength: 6, maxLength: 16, description: 'the current 6-digit code of the authenticator app' },
}, ['code']));

export const SignInNextStep = named('SignInNextStep', obj({
  next: { enum: ['code', 'enrol'], description: '`code`: send the second factor to POST /api/session/code; `enrol`: this role requires a second factor, enrol one with POST /api/session/enrolment' },
  expiresAt: dateTime('the second step must be done by then'),
}, ['next', 'expiresAt']));

export const MfaEnrolment = named('MfaEnrolment', obj({
  secret: { type: 'string', description: 'the TOTP secret (base32), shown this once, for apps that cannot scan' },
  uri: { type: 'string', description: 'otpauth://totp/… (RFC 6238: SHA-1, 6 digits, 30 s)' },
  qrCode: { type: 'string', description: 'the URI as a QR code: an SVG image as a data: URL' },
}, ['secret', 'uri', 'qrCode']));

const recoveryCodes = { type: 'array', items: { type: 'string' }, description: 'one-time recovery codes, shown this once; the server keeps only their hashes' };

export const MfaConfirmed = named('MfaConfirmed', obj({ recoveryCodes }, ['recoveryCodes']));

export const SignedInWithEnrolment = named('SignedInWithEnrolment', obj({
  ...(SessionInfo as { properties: Record<string, object> }).properties,
  recoveryCodes,
}, [...(SessionInfo as { required: string[] }).required, 'recoveryCodes']));

export const MfaStatus = named('MfaStatus', obj({
  enrolled: { type: 'boolean', description: 'a confirmed second factor' },
  required: { type: 'boolean', description: 'the account\'s role requires one' },
  confirmedAt: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
  recoveryCodesLeft: { type: 'integer' },
}, ['enrolled', 'required', 'confirmedAt', 'recoveryCodesLeft']));

export const MfaPolicy = named('MfaPolicy', obj({
  requiredRoles: { type: 'array', uniqueItems: true, maxItems: ADMIN_ROLES.length, items: { enum: ADMIN_ROLES }, description: 'accounts of these roles must have a second factor: without one they enrol at their next sign-in' },
}, ['requiredRoles']));
