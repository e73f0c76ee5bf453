/**
 * Reading a connector's settings under `cas.<id>` of estuary.yaml, with errors that name the
 * field (the configuration loader turns ConnectorConfigError into its ConfigError).
 */
import { readFileSync } from 'node:fs';

export type Settings = Record<string, unknown>;

export class ConnectorConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectorConfigError';
  }
}

export function onlyKeys(obj: Settings, keys: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw new ConnectorConfigError(`${path}.${k}: unknown setting (allowed: ${keys.join(', ')})`);
  }
}

export function requiredString(obj: Settings, key: string, path: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') throw new ConnectorConfigError(`${path}.${key}: expected a non-empty string`);
  return v;
}

export function filePaths(obj: Settings, key: string, path: string): string[] {
  const v = obj[key] ?? [];
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'string')) throw new ConnectorConfigError(`${path}.${key}: expected a list of file paths`);
  return v as string[];
}

/**
 * A secret named by the configuration, never held in it: the first line of a file, or an
 * environment variable. `fileSetting` and `envSetting` name the fields for the error.
 */
export function readSecret(source: { file: string | undefined; env: string | undefined }, fileSetting: string, envSetting: string, env: NodeJS.ProcessEnv): string {
  if (source.env !== undefined) {
    const v = env[source.env];
    if (v === undefined || v === '') throw new ConnectorConfigError(`${envSetting}: the environment variable ${source.env} is not set`);
    return v;
  }
  try {
    // a trailing newline is not part of the secret
    return readFileSync(source.file!, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConnectorConfigError(`${fileSetting}: cannot read ${source.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
