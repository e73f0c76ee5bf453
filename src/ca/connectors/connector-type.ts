/** What a CA connector type module exports (see ../registry.ts, which lists them). */
import type { Logger } from 'pino';
import type { NativeCrypto } from '../../pki/native-crypto.js';
import type { CaBackend } from '../ca-backend.js';
import type { Settings } from './config-fields.js';

/** What the composition root gives a connector when it opens one. */
export interface ConnectorContext {
  now: () => Date;
  /** Base URL of the CRLs (crl.publicUrl): issued certificates may point at `<base>/<id>.crl`. */
  crlPublicUrl: string | undefined;
  /** The OCSP responder settings (ocsp.*). */
  ocsp: { publicUrl: string | undefined; signer: 'delegated' | 'ca' } | undefined;
  /** The native ECDSA addon, for software signers (src/pki/native-crypto.ts). */
  native: NativeCrypto | undefined;
  logger?: Logger | undefined;
  /** Where secrets named by environment variable are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** What the Web RA shows about connectors of this type. */
export interface ConnectorAdminMetadata {
  /** Human name of the type (e.g. "Built-in CA"). */
  label: string;
  /** False where the CA decides key usage, EKU and validity itself (the profile form says so). */
  profileSetsCertificateContent: boolean;
  /**
   * False where the CA keeps its own revocation list (an upstream CA reached over EST, which has
   * no revocation operation): a revocation recorded here is not published in any CRL.
   */
  publishesCrls: boolean;
}

export interface ConnectorType<C extends { type: string } = { type: string }> {
  /** The `type:` value under `cas.<id>`. */
  readonly type: string;
  /**
   * Validate the settings under `cas.<id>` (path is `cas.<id>`); throws ConnectorConfigError naming
   * the field. Relative file paths are resolved with resolve (against the data directory).
   */
  parseConfig(settings: Settings, path: string, resolve: (file: string) => string): C;
  /** Private key files of this connector, checked for permissions at start (keyFilePermissions). */
  keyFiles(config: C): string[];
  open(id: string, config: C, context: ConnectorContext): CaBackend;
  readonly admin: ConnectorAdminMetadata;
}
