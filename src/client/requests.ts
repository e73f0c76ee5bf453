/**
 * The certification requests the client sends, built from what the caller and the server's
 * /csrattrs ask for. Shared by `estuary client` and the renew agent.
 */
import { certificateFields, extension } from '../pki/certificate.js';
import { buildCsr, extensionOid, type CsrInput, type CsrSans } from '../pki/csr-builder.js';
import { OID, oidName } from '../pki/oids.js';
import { pathFirst } from './chain-path.js';
import { csrTemplate, type CsrTemplate } from './csr-template.js';
import type { CsrFactory, EnrollResult, EstClient } from './est-client.js';
import type { ClientKeyPair } from './keys.js';

export type CsrBase = Omit<CsrInput, 'challengePassword'>;

export const EMPTY_TEMPLATE: CsrTemplate = { challengePassword: false, extensions: [], unsupported: [], subject: [], fromTemplate: false };

/** RFC 7030 §4.5: what the server asks a CSR to hold; an empty template when not asked to look. */
export async function serverTemplate(client: EstClient, follow: boolean, warn: (message: string) => void): Promise<CsrTemplate> {
  if (!follow) return EMPTY_TEMPLATE;
  const template = csrTemplate(await client.csrattrs());
  if (template.unsupported.length > 0) warn(`the server asks for attributes this client cannot fill: ${template.unsupported.join(', ')}`);
  return template;
}

/**
 * What a new request holds: the caller's names plus what /csrattrs fixed (RFC 7030 §4.5.2,
 * RFC 9908 template names go beside the caller's), its hash and the extensions it asks for.
 */
export function requestBase(
  o: { key: ClientKeyPair; subject: string; sans: CsrSans; template: CsrTemplate; extraAttributes?: CsrInput['extraAttributes'] },
  warn: (message: string) => void,
): CsrBase {
  const { template } = o;
  const sans: CsrSans = {};
  for (const type of ['dns', 'ip', 'email', 'uri'] as const) {
    const names = [...(template.sans?.[type] ?? []), ...(o.sans[type] ?? [])];
    if (names.length > 0) sans[type] = [...new Set(names)];
  }
  const hasSans = Object.keys(sans).length > 0;
  const extensions = hasSans ? template.extensions.filter((e) => !isSanExtension(e)) : template.extensions;
  if (extensions.length < template.extensions.length) warn('the server\'s subjectAltName extension was replaced by the names given here');
  let subject = o.subject;
  const fixed = template.subject.filter((a) => a.value !== undefined);
  if (!subject && fixed.length > 0) subject = fixed.map((a) => `${a.type}=${a.value}`).join(', ');
  const wanted = template.subject.filter((a) => a.value === undefined).map((a) => oidName(a.type));
  if (wanted.length > 0 && !o.subject) warn(`the server asks for these subject attributes: ${wanted.join(', ')} (give --subject)`);
  return {
    privateKey: o.key.privateKey,
    publicKey: o.key.publicKey,
    subject,
    sans,
    ...(template.hash ? { hash: template.hash } : {}),
    ...(o.extraAttributes ? { extraAttributes: o.extraAttributes } : {}),
    extraExtensions: extensions,
  };
}

/**
 * RFC 7030 §3.5: the CSR carries the TLS channel binding of the connection it travels on in
 * challengePassword (tls-unique under TLS 1.2, tls-exporter under TLS 1.3); without one, none.
 * The factory is called again for each connection the request is sent on.
 */
export function csrFactory(base: CsrBase, pop: boolean): CsrFactory {
  return ({ channelBinding }) => buildCsr(pop && channelBinding ? { ...base, challengePassword: channelBinding.toString('base64') } : base);
}

/**
 * RFC 7030 §4.2.2: a renewal repeats the Subject and subjectAltName of the certificate being
 * renewed, byte for byte; the key is the current one or a new one (rekey).
 */
export function renewalCsr(certDer: Buffer, key: ClientKeyPair, template: CsrTemplate, pop: boolean): CsrFactory {
  return csrFactory(renewalBase(certDer, key, template), pop);
}

export function renewalBase(certDer: Buffer, key: ClientKeyPair, template: CsrTemplate): CsrBase {
  const fields = certificateFields(certDer);
  const san = fields.subjectAltName ? [extension(OID.subjectAltName, false, fields.subjectAltName)] : [];
  return {
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    subject: fields.subject,
    ...(template.hash ? { hash: template.hash } : {}),
    extraExtensions: [...san, ...template.extensions.filter((e) => !isSanExtension(e))],
  };
}

function isSanExtension(ext: Buffer): boolean {
  return extensionOid(ext) === OID.subjectAltName;
}

/**
 * The CA chain to store beside a certificate: what the server sent with it, else its /cacerts
 * (RFC 7030 §4.1.3: the issuing CA and what links it to the root), on the same trusted session,
 * in path order from the certificate (chain-path.ts).
 */
export async function chainFor(result: EnrollResult, client: EstClient): Promise<Buffer[]> {
  const bag = result.extraCertificates.length > 0 ? result.extraCertificates : await client.cacerts();
  return pathFirst(result.certificate, bag);
}
