/**
 * The signer seam: whatever makes the CA's signatures (certificates, CRLs, OCSP responses). The
 * local CA and everything above it see only this; a software key (./software-signer.ts) is one
 * implementation, a PKCS#11 key another. Nothing above a Signer may assume a node KeyObject.
 */
import type { TbsSigner } from '../../pki/certificate.js';

export interface Signer extends TbsSigner {
  /** RFC 5280 §4.1.1.2: the AlgorithmIdentifier (DER) of the signatures this signer makes. */
  readonly algorithmIdentifier: Buffer;
  /** SubjectPublicKeyInfo (DER) of the signing key. */
  readonly publicKey: Buffer;
  /** The signature value (DER for ECDSA, raw for RSA and Ed25519) over data. */
  sign(data: Buffer): Promise<Buffer>;
  /** Release what the signer holds (a token's sessions); software signers hold nothing. */
  close?(): void;
  /** Short description for logs and the Web RA (`software ec P-256 (native)`); never key material. */
  readonly description: string;
}

/** A software key also signs without waiting (benchmarks and tests use it directly). */
export type SyncSigner = Signer & { signSync(data: Buffer): Buffer };
