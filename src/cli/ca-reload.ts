/**
 * CA connectors follow estuary.yaml while the server runs: a CA added with `estuary ca create`,
 * `ca import` or `ca add` (or by hand) is opened, a changed one reopened, a removed one closed,
 * without a restart. The file is watched (the CLI replaces it by rename, so its directory is
 * watched), and SIGHUP asks for the same reload. A configuration that does not load, or a
 * connector that does not open, is logged and changes nothing: the CAs in service stay.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import type { AdminServerOptions } from '../admin/admin-server.js';
import { closable, signsOcsp, type CaBackend } from '../ca/ca-backend.js';
import { connectorType, type CaConfig } from '../ca/registry.js';
import { CONFIG_FILE, loadConfig, type Config } from './config.js';

type AdminCas = AdminServerOptions['cas'];

export interface CaReloadOptions {
  config: Config;
  /** Environment overrides the configuration was loaded with. */
  env: NodeJS.ProcessEnv;
  /** The live map every service reads its CAs from; changed in place. */
  cas: Map<string, CaBackend>;
  /** The Web RA's list of connectors; changed in place. */
  adminCas: AdminCas extends readonly (infer T)[] ? T[] : never;
  open(id: string, config: CaConfig): CaBackend;
  /** Told after the set of CAs changed (e.g. to learn new intermediates). */
  changed(): void;
  logger: Logger;
}

export interface CaReloader {
  /** Read estuary.yaml again now; resolves to the ids opened, reopened or closed. */
  reload(): Promise<string[]>;
  close(): void;
}

const same = (a: CaConfig | undefined, b: CaConfig | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

export function watchCaConfig(o: CaReloadOptions): CaReloader {
  let current = { ...o.config.cas };
  let running: Promise<string[]> | undefined;
  let again = false;

  async function apply(): Promise<string[]> {
    let next: Config;
    try {
      next = loadConfig(o.config.home, o.env);
    } catch (err) {
      o.logger.error({ reason: (err as Error).message }, 'estuary.yaml changed but does not load; the CAs in service stay as they are');
      return [];
    }
    const touched: string[] = [];
    for (const [id, settings] of Object.entries(next.cas)) {
      if (same(current[id], settings)) continue;
      let backend: CaBackend;
      try {
        backend = o.open(id, settings);
        // RFC 6960 §4.2.2.2: a delegated responder certificate before the first OCSP request
        if (signsOcsp(backend)) await backend.ocspResponder(new Date());
      } catch (err) {
        o.logger.error({ ca: id, reason: (err as Error).message }, 'CA connector could not be opened; the previous one (if any) stays in service');
        continue;
      }
      const old = o.cas.get(id);
      o.cas.set(id, backend);
      const entry = { id, type: settings.type, admin: connectorType(settings.type, `cas.${id}`).admin, backend };
      const at = o.adminCas.findIndex((c) => c.id === id);
      if (at >= 0) o.adminCas[at] = entry;
      else o.adminCas.push(entry);
      if (old && closable(old)) await old.close();
      current[id] = settings;
      touched.push(id);
      o.logger.info({ ca: id, type: settings.type }, old ? 'CA connector reopened' : 'CA connector added');
    }
    for (const id of Object.keys(current)) {
      if (next.cas[id]) continue;
      const old = o.cas.get(id);
      o.cas.delete(id);
      const at = o.adminCas.findIndex((c) => c.id === id);
      if (at >= 0) o.adminCas.splice(at, 1);
      if (old && closable(old)) await old.close();
      delete current[id];
      touched.push(id);
      o.logger.warn({ ca: id }, 'CA connector removed; profiles that name it answer 503 until they name another');
    }
    current = { ...current };
    if (touched.length > 0) o.changed();
    return touched;
  }

  /** One reload at a time; a change during one is read by another right after. */
  function reload(): Promise<string[]> {
    if (running) {
      again = true;
      return running;
    }
    running = apply().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void reload();
      }
    });
    return running;
  }

  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(o.config.home, (_event, file) => {
      if (file !== CONFIG_FILE) return;
      clearTimeout(timer);
      // the editor or the CLI may write in several steps
      timer = setTimeout(() => void reload(), 200);
    });
    watcher.on('error', (err) => o.logger.warn({ err }, 'estuary.yaml is no longer watched; send SIGHUP to reload CAs'));
  } catch (err) {
    o.logger.warn({ err }, 'estuary.yaml cannot be watched; send SIGHUP to reload CAs');
  }
  const onHup = (): void => void reload();
  process.on('SIGHUP', onHup);

  return {
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHup);
    },
  };
}
