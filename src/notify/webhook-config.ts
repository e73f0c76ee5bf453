/**
 * The `webhooks:` section of estuary.yaml (every setting optional):
 *
 *   webhooks:
 *     maxAttempts: 8           # attempts of one delivery before it is marked failed
 *     timeoutSeconds: 10       # per attempt (connect, send, response head)
 *     retrySeconds: 30         # delay before the 2nd attempt; doubles on each further failure
 *     retryMaxSeconds: 3600    # the delay stops growing here
 *     pollSeconds: 2           # how often an instance looks for due deliveries
 *     scanMinutes: 60          # how often expiring certificates are looked for (and old deliveries forgotten)
 *     retentionDays: 30        # delivered and failed deliveries are kept this long
 *     expiringDays: [30, 7]    # cert.expiring thresholds of endpoints added without their own
 *     trustAnchors: FILE       # extra PEM CA certificates for https endpoints (besides the system's)
 *     secretKeyFile: webhooks.key  # the key that seals the endpoints' secrets (webhook-secrets.ts)
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from './webhook-dispatcher.js';
import { SECRET_KEY_FILE } from './webhook-secrets.js';

export interface WebhookConfig {
  settings: WebhookSettings;
  secretKeyFile: string;
}

const KEYS = ['maxAttempts', 'timeoutSeconds', 'retrySeconds', 'retryMaxSeconds', 'pollSeconds', 'scanMinutes', 'retentionDays', 'expiringDays', 'trustAnchors', 'secretKeyFile'];

export function parseWebhookConfig(raw: Record<string, unknown>, resolve: (path: string) => string, fail: (message: string) => Error): WebhookConfig {
  for (const k of Object.keys(raw)) if (!KEYS.includes(k)) throw fail(`webhooks.${k}: unknown setting (allowed: ${KEYS.join(', ')})`);
  const num = (key: string, fallback: number, min: number, max: number, integer = false): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw fail(`webhooks.${key}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw[key])}`);
    }
    return v;
  };
  const d = DEFAULT_WEBHOOK_SETTINGS;
  const days = raw.expiringDays ?? d.expiringDays;
  if (!Array.isArray(days) || days.length === 0 || days.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 365)) {
    throw fail(`webhooks.expiringDays: expected a list of whole numbers of days from 1 to 365, got ${JSON.stringify(raw.expiringDays)}`);
  }
  let ca: string | undefined;
  if (raw.trustAnchors !== undefined) {
    if (typeof raw.trustAnchors !== 'string') throw fail('webhooks.trustAnchors: expected a file name');
    try {
      ca = readFileSync(resolve(raw.trustAnchors), 'utf8');
    } catch (err) {
      throw fail(`webhooks.trustAnchors: cannot read ${resolve(raw.trustAnchors)}: ${(err as Error).message}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw fail(`webhooks.trustAnchors: ${resolve(raw.trustAnchors)} holds no PEM certificate`);
  }
  const keyFile = raw.secretKeyFile ?? SECRET_KEY_FILE;
  if (typeof keyFile !== 'string' || keyFile.trim() === '') throw fail('webhooks.secretKeyFile: expected a file name');
  return {
    settings: {
      maxAttempts: num('maxAttempts', d.maxAttempts, 1, 100, true),
      timeoutMs: num('timeoutSeconds', d.timeoutMs / 1000, 0.1, 300) * 1000,
      retryBaseMs: num('retrySeconds', d.retryBaseMs / 1000, 0.1, 86_400) * 1000,
      retryMaxMs: num('retryMaxSeconds', d.retryMaxMs / 1000, 0.1, 7 * 86_400) * 1000,
      pollMs: num('pollSeconds', d.pollMs / 1000, 0.05, 3600) * 1000,
      scanMs: num('scanMinutes', d.scanMs / 60_000, 0.01, 24 * 60) * 60_000,
      expiringDays: [...new Set(days as number[])].sort((a, b) => b - a),
      batch: d.batch,
      retentionMs: num('retentionDays', d.retentionMs / 86_400_000, 1, 3650, true) * 86_400_000,
      ca,
    },
    secretKeyFile: resolve(keyFile),
  };
}
