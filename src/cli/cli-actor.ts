/**
 * Who a CLI command's audit events name: `cli:<operating-system user>`. Under sudo the user who
 * ran sudo (SUDO_USER) is the one accountable, so `cli:alice` rather than `cli:root`; the account
 * it ran as is kept when they differ (`cli:alice (as root)`).
 */
import { userInfo } from 'node:os';

const SANE_USER = /^[A-Za-z0-9._@-][A-Za-z0-9._@$-]{0,63}$/;

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown'; // a uid without a passwd entry (containers)
  }
}

export function cliActor(env: NodeJS.ProcessEnv = process.env, user: string = osUser()): string {
  const sudo = env.SUDO_USER;
  if (sudo && SANE_USER.test(sudo) && sudo !== user) return `cli:${sudo} (as ${user})`;
  return `cli:${user}`;
}
