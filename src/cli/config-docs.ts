/**
 * The configuration references generated into README.md from the schemas:
 * `npm run docs:config` writes them; test/unit/config-reference.test.ts checks they are current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { configReference, readBlock, replaceBlock } from '../schema/reference.js';
import { RenewConfigSchema } from '../client/renew-config-schema.js';
import { ConfigSchema } from './config-schema.js';

/** Each generated block of the README: its name (in the markers) and its schema. */
export const CONFIG_REFERENCES: readonly { name: string; schema: TSchema }[] = [
  { name: 'estuary.yaml', schema: ConfigSchema },
  { name: 'renewal agent configuration', schema: RenewConfigSchema },
];

/** The README text with every generated block current. */
export function withConfigReferences(readme: string): string {
  return CONFIG_REFERENCES.reduce((text, r) => replaceBlock(text, r.name, configReference(r.schema)), readme);
}

/** The names of the blocks that differ from what the schemas generate. */
export function staleConfigReferences(readme: string): string[] {
  return CONFIG_REFERENCES.filter((r) => readBlock(readme, r.name) !== configReference(r.schema)).map((r) => r.name);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2] ?? 'README.md';
  const before = readFileSync(file, 'utf8');
  const after = withConfigReferences(before);
  if (after !== before) writeFileSync(file, after);
  console.log(`${file}: ${after === before ? 'configuration reference already current' : 'configuration reference written'} (${CONFIG_REFERENCES.map((r) => r.name).join(', ')})`);
}
