/**
 * The client certificate as a TLS-terminating proxy forwards it in a request header, read
 * tolerantly (design habit 4): URL-encoded PEM (nginx `$ssl_client_escaped_cert`), PEM whose line
 * breaks became spaces or tabs (proxies that cannot put a newline in a header value), or bare
 * base64 DER (HAProxy `%[ssl_c_der,base64]`). Several PEM blocks are a chain, leaf first.
 */
import { Base64Error, decodeBase64Body, pemBlocks } from '../pki/base64.js';
import { parsedCertificate } from '../pki/parsed-certificate.js';

export class ForwardedCertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwardedCertificateError';
  }
}

/** PEM blocks (line breaks or not: the base64 reader skips any whitespace) or bare base64 DER. */
function certificateDers(text: string, header: string): Buffer[] {
  try {
    if (!text.includes('-----BEGIN')) return [decodeBase64Body(text)];
    const ders = pemBlocks(text);
    if (ders.length === 0) throw new ForwardedCertificateError(`${header}: a PEM value without a complete CERTIFICATE block`);
    return ders;
  } catch (err) {
    if (err instanceof Base64Error) throw new ForwardedCertificateError(`${header}: expected a PEM certificate or base64 DER, and it is neither`);
    throw err;
  }
}

/**
 * The certificate chain in a header value, leaf first (DER); [] for an absent or empty value (no
 * client certificate). Throws ForwardedCertificateError, naming `header`, for a value that is
 * not a certificate: a proxy that forwards garbage is misconfigured, and is told so.
 */
export function parseForwardedCertificate(value: string | string[] | undefined, header: string): Buffer[] {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new ForwardedCertificateError(`${header}: the header appears more than once`);
    value = value[0];
  }
  let text = (value ?? '').trim();
  if (text === '') return [];
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw new ForwardedCertificateError(`${header}: not valid URL encoding (RFC 3986 §2.1)`);
    }
  }
  const ders = certificateDers(text, header);
  for (const der of ders) {
    try {
      parsedCertificate(der);
    } catch {
      throw new ForwardedCertificateError(`${header}: the value is not an X.509 certificate`);
    }
  }
  return ders;
}
