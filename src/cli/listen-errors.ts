/**
 * A listener that cannot bind is one line naming the setting to change (exit 2 through ConfigError),
 * not a stack trace: the address in use, a privileged port, an address this machine does not have.
 */
import { ConfigError, urlHost, type ListenAddress } from './config.js';

export interface ListenSetting {
  /** The estuary.yaml setting, e.g. est.listen. */
  setting: string;
  /** The environment variable that overrides it, e.g. ESTUARY_EST_LISTEN. */
  env: string;
  /** The listener may be turned off (admin.listen, crl.listen). */
  canBeOff?: boolean;
}

export function listenError(err: unknown, address: ListenAddress, s: ListenSetting): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${urlHost(address.host)}:${address.port}`;
  const change = `set ${s.setting} in estuary.yaml (or ${s.env}) to ${s.canBeOff ? 'a free address, or off' : 'a free address'}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`${s.setting}: ${where} is already in use (another Estuary, or another service on this machine?); ${change}`, { cause: err });
    case 'EACCES':
      return new ConfigError(`${s.setting}: not allowed to listen on ${where} (ports below 1024 need privileges: use a port from 1024, or give node CAP_NET_BIND_SERVICE); ${change}`, { cause: err });
    case 'EADDRNOTAVAIL':
      return new ConfigError(`${s.setting}: ${address.host} is not an address of this machine; ${change}`, { cause: err });
    default:
      return err;
  }
}

/** Runs bind() and turns the errors above into a ConfigError naming the setting. */
export async function bindListener<T>(bind: () => Promise<T>, address: ListenAddress, s: ListenSetting): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    throw listenError(err, address, s);
  }
}
