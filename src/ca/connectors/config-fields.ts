/**
 * Reading a connector's settings under `cas.<id>` of estuary.yaml, with errors that name the
 * field (the configuration loader turns ConnectorConfigError into its ConfigError).
 */
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
