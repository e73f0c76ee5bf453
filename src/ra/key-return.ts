/** RFC 7030 §4.4.1.2 / §4.4.2: how a server-generated key travels back encrypted. */
import { certificateFields } from '../pki/certificate.js';
import { algorithmsFromCapabilities, envelopeFor } from '../pki/enveloped-data.js';
import { signKeyPackage, type KeyPackageSigner } from '../pki/key-package.js';
import { OID } from '../pki/oids.js';
import type { Credentials } from './authenticators.js';
import { RaError } from './errors.js';

/**
 * RFC 7030 §4.4.1.2: an encrypted key is returned to the TLS client certificate the request
 * came with (the handshake proved its key); the identifier, when the certificate has one, must name it.
 */
export function recipientFor(keyId: Buffer, creds: Credentials): Buffer {
  const leaf = creds.clientChain?.[0];
  if (!leaf) throw new RaError('bad-request', 'an encrypted server-generated key (AsymmetricDecryptKeyIdentifier) needs a TLS client certificate to encrypt to');
  const ski = certificateFields(leaf).extensions.get(OID.subjectKeyIdentifier);
  const skiValue = ski && ski.length > 2 ? ski.subarray(2) : undefined;
  if (skiValue && keyId.length > 0 && !skiValue.equals(keyId)) {
    throw new RaError('bad-request', 'AsymmetricDecryptKeyIdentifier does not name the TLS client certificate\'s key');
  }
  return leaf;
}

/**
 * RFC 7030 §4.4.2 / RFC 5958 §4: the key as an AsymmetricKeyPackage in a SignedData signed by
 * this server, in an EnvelopedData to the client's certificate, with the content encryption and
 * key wrap the client's SMIMECapabilities ask for (RFC 8551 §2.7.1), AES-256 otherwise.
 */
export async function encryptedKey(pkcs8: Buffer, recipient: Buffer, now: Date, capabilities: string[] | undefined, signer: KeyPackageSigner): Promise<Buffer> {
  const signed = signKeyPackage(pkcs8, signer, now);
  return envelopeFor(recipient, signed, { contentType: OID.signedData, ...algorithmsFromCapabilities(capabilities) });
}
