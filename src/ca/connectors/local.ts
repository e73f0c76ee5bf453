/**
 * The `local` connector type: the built-in CA, a software key under the data directory
 * (src/ca/local-ca.ts), signing through a software Signer chosen here.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pemBlocks } from '../../pki/base64.js';
import { createLocalCa } from '../local-ca.js';
import { softwareSigner } from '../signers/software-signer.js';
import { filePaths, onlyKeys, requiredString } from './config-fields.js';
import type { ConnectorType } from './connector-type.js';

export interface LocalCaConfig {
  type: 'local';
  /** Issuing CA certificate (PEM; the first certificate is used). */
  certificate: string;
  /** Its private key (PEM). */
  key: string;
  /** Further certificates up to and including the root (PEM files). */
  chain: string[];
}

function readChain(files: readonly string[]): Buffer[] {
  return files.flatMap((f) => pemBlocks(readFileSync(f, 'utf8')));
}

export const localConnector: ConnectorType<LocalCaConfig> = {
  type: 'local',
  parseConfig(settings, path, resolve) {
    onlyKeys(settings, ['type', 'certificate', 'key', 'chain'], path);
    const chain = filePaths(settings, 'chain', path);
    return { type: 'local', certificate: resolve(requiredString(settings, 'certificate', path)), key: resolve(requiredString(settings, 'key', path)), chain: chain.map(resolve) };
  },
  keyFiles: (config) => [config.key],
  open(id, config, context) {
    const key = createPrivateKey(readFileSync(config.key));
    const chain = [...readChain([config.certificate]).slice(0, 1), ...readChain(config.chain)];
    const crlUrl = context.crlPublicUrl ? `${context.crlPublicUrl}/${id}.crl` : undefined;
    const ocspUrl = context.ocsp?.publicUrl ? `${context.ocsp.publicUrl}/${id}` : undefined;
    // The native P-256/P-384 fast path when the composition root hands in the loaded addon, else node:crypto.
    return createLocalCa({
      id, signer: softwareSigner(key, context.native), softwareSigner: (k) => softwareSigner(k, context.native), chain,
      now: context.now, random: randomBytes, ...(crlUrl ? { crlUrl } : {}), ...(ocspUrl ? { ocspUrl } : {}),
      ...(context.ocsp ? { ocspSigner: context.ocsp.signer } : {}),
    });
  },
  admin: {
    label: 'Built-in CA',
    profileSetsCertificateContent: true,
    publishesCrls: true,
  },
};
