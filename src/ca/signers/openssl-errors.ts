/**
 * A PKCS#11 module loaded into this process may use node's own OpenSSL (node exports its symbols;
 * SoftHSM2 binds to them) and leave errors on the thread's OpenSSL error queue when an operation
 * fails. node reads that queue after its own calls: the next TLS read that waits for more data on
 * any connection then fails (ERR_SSL_..., the connection is dropped), or an unrelated crypto call
 * throws the stale error. Measured with SoftHSM2 2.6: C_Sign with a key of another type than the
 * mechanism answers CKR_GENERAL_ERROR and leaves "asn1_item_embed_d2i: too small" behind.
 */
import { createSecureContext } from 'node:tls';

/** Empty the OpenSSL error queue of this thread (creating a TLS context clears it); after a failed token call. */
export function clearOpenSslErrors(): void {
  createSecureContext({});
}
