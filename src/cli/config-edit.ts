/**
 * Changing estuary.yaml from the CLI (`estuary ca add`): the document is edited in place with the
 * yaml library's document model, so the operator's comments and layout survive, and the result is
 * validated as a whole before it replaces the file.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { CONFIG_FILE, ConfigError, validateConfig } from './config.js';

/** Set (add or replace) `cas.<id>` to these settings; throws ConfigError when the result would not load. */
export function setCaConnector(home: string, id: string, settings: Record<string, unknown>): void {
  const file = join(home, CONFIG_FILE);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length > 0) throw new ConfigError(`${file}: ${doc.errors[0]!.message}`);
  doc.setIn(['cas', id], doc.createNode(settings));
  const text = doc.toString();
  try {
    validateConfig(parseDocument(text).toJS(), home);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file} was not changed: ${err.message}`);
    throw err;
  }
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: statSync(file).mode & 0o777 });
  renameSync(temp, file);
}
