/** admin.clientCertificateCa: the CA bundle whose client certificates may sign in to the Web RA, read and checked at startup. */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { pemBlocks, toPem } from '../pki/base64.js';
import { ConfigError } from './config.js';

/** The bundle's certificates (PEM, one each); a ConfigError naming the setting when it is unreadable, empty or not certificates. */
export function loadAdminClientCa(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`admin.clientCertificateCa: cannot read ${path}: ${(err as Error).message}`);
  }
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new ConfigError(`admin.clientCertificateCa: ${path} holds no PEM certificate`);
  return blocks.map((der, i) => {
    try {
      const cert = new X509Certificate(der);
      if (!cert.ca) throw new Error('it is not a CA certificate (basicConstraints cA)');
      return toPem('CERTIFICATE', der);
    } catch (err) {
      throw new ConfigError(`admin.clientCertificateCa: certificate ${i + 1} of ${path}: ${(err as Error).message}`);
    }
  });
}
