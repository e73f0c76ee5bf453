/**
 * The CA connector types. Adding a type is one module (its type name, config validation, factory
 * and Web RA metadata; see ./connectors/connector-type.ts) plus one line here: the configuration loader, the
 * runtime and the Web RA consult this registry.
 */
import type { CaBackend } from './ca-backend.js';
import { ConnectorConfigError, type Settings } from './connectors/config-fields.js';
import type { ConnectorContext, ConnectorType } from './connectors/connector-type.js';
import { estConnector, type EstCaConfig } from './connectors/est.js';
import { localConnector, type LocalCaConfig } from './connectors/local.js';

/** One entry per connector type. */
const TYPES = [localConnector, estConnector] as const;

/** The validated settings of any connector type (a union, discriminated by `type`). */
export type CaConfig = LocalCaConfig | EstCaConfig;

export const CONNECTOR_TYPE_NAMES: readonly string[] = TYPES.map((t) => t.type);

/** The connector type named `type`; ConnectorConfigError listing the known types otherwise. */
export function connectorType(type: string, path: string): ConnectorType<CaConfig> {
  const found = TYPES.find((t) => t.type === type);
  if (!found) throw new ConnectorConfigError(`${path}.type: "${type}" is not a known CA connector type (known: ${CONNECTOR_TYPE_NAMES.join(', ')})`);
  return found as ConnectorType<CaConfig>;
}

/** Validate `cas.<id>` by its `type` (default `local`). */
export function parseConnectorConfig(settings: Settings, path: string, resolve: (file: string) => string): CaConfig {
  const type = settings.type === undefined ? 'local' : settings.type;
  if (typeof type !== 'string' || type.trim() === '') throw new ConnectorConfigError(`${path}.type: expected a non-empty string`);
  return connectorType(type, path).parseConfig(settings, path, resolve);
}

export function openConnector(id: string, config: CaConfig, context: ConnectorContext): CaBackend {
  return connectorType(config.type, `cas.${id}`).open(id, config, context);
}

/** The settings of a built-in CA connector; an error naming the connector when it is of another type. */
export function localCaConfig(config: CaConfig | undefined, id: string): LocalCaConfig {
  if (config?.type !== 'local') throw new ConnectorConfigError(`cas.${id}: expected a built-in CA (type: local)${config ? `, found type: ${config.type}` : ', found none'}`);
  return config;
}

export function connectorAdmin(config: CaConfig): ConnectorType<CaConfig>['admin'] {
  return connectorType(config.type, 'cas').admin;
}

export function connectorKeyFiles(config: CaConfig): string[] {
  return connectorType(config.type, 'cas').keyFiles(config);
}
