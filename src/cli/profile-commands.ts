/** `estuary profile add|list|show|set`. */
import type { Command } from 'commander';
import { defaultProfile } from '../ra/default-profile.js';
import { describeTrustAnchor, PROFILE_LABEL } from '../ra/profile-validation.js';
import type { Profile } from '../store/store.js';
import { estBaseUrl, type Config } from './config.js';
import { CliError, print, printField, printJson, printTable, withStore, type HomeOption } from './context.js';
import { applyProfileFlags, formatKeyAlgorithms, type ProfileFlags } from './profile-options.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function profileOptions(cmd: Command): Command {
  return cmd
    .option('--enable', 'enable EST on this profile')
    .option('--disable', 'disable EST on this profile (its URLs answer 404)')
    .option('--ca <id>', 'CA connector that issues for this profile')
    .option('--auth <mechanism>', 'basic | tls-client-cert | basic+tls-client-cert')
    .option('--trust-anchors <file>', 'PEM bundle of the device CA that TLS client certificates must chain to')
    .option('--clear-trust-anchors', 'remove all client trust anchors')
    .option('--validity-days <n>', 'validity of issued certificates')
    .option('--key-algorithms <list>', 'allowed keys, e.g. ec:P-256/P-384,rsa:2048,ed25519')
    .option('--key-usage <list>', 'key usage of issued certificates, e.g. digitalSignature,keyEncipherment')
    .option('--eku <list>', 'extended key usage of issued certificates, e.g. serverAuth,clientAuth')
    .option('--accounts <list>', 'EST account emails allowed on this profile (empty: every EST account)')
    .option('--csr-attrs <list>', 'attributes announced by /csrattrs, e.g. challengePassword')
    .option('--approval <mode>', 'auto, or manual: requests wait (202) for an officer')
    .option('--retry-after <seconds>', 'Retry-After of a 202 under manual approval')
    .option('--pending-ttl-hours <n>', 'a held request expires after this many hours')
    .option('--subject-allowed <list>', 'subject attributes that may appear, e.g. CN,O,OU (empty: any)')
    .option('--subject-required <list>', 'subject attributes that must appear, e.g. CN')
    .option('--subject-pattern <attr=regex>', 'a regular expression the whole attribute value must match (repeatable)', collect, [])
    .option('--clear-subject-patterns', 'remove all subject patterns')
    .option('--san-types <list>', 'SAN types that may appear: dns, ip, email, uri (empty: all four)')
    .option('--san-required <list>', 'SAN types that must appear')
    .option('--dns-suffixes <list>', 'DNS names must be under these, e.g. .devices.example.com (empty: any)')
    .option('--ip-ranges <list>', 'IP SANs must be in these CIDR ranges, e.g. 10.0.0.0/8 (empty: any)')
    .option('--forbidden-name <regex>', 'no CN, DNS, email or URI name may match this (repeatable)', collect, [])
    .option('--clear-forbidden-names', 'remove all forbidden name patterns')
    .option('--crl-unavailable <policy>', 'refuse (default) or allow a device certificate whose CRL cannot be had fresh; either is audited')
    .option('--anchor-crl <sha256=url>', 'CRL URL for the certificates a trust anchor issued, by the anchor\'s SHA-256 fingerprint (repeatable; an empty URL removes it)', collect, [])
    .option('--clear-anchor-crls', 'remove all per-anchor CRL URLs')
    .option('--pop-linking <mode>', 'off, optional or required: the CSR challengePassword carries the TLS channel binding (RFC 7030 §3.5)')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory');
}

export function profileUrls(config: Config, label: string): string[] {
  const base = estBaseUrl(config);
  return label === config.est.defaultProfile ? [`${base}/${label}`, base] : [`${base}/${label}`];
}

function anchorSummary(pem: string): { subject: string; sha256: string; notAfter: string } {
  const { subject, fingerprintSha256, notAfter } = describeTrustAnchor(pem);
  return { subject, sha256: fingerprintSha256, notAfter };
}

function profileView(config: Config, p: Profile): Record<string, unknown> {
  return {
    label: p.label,
    enabled: p.enabled,
    ca: p.ca,
    auth: p.auth,
    estUrls: profileUrls(config, p.label),
    clientTrustAnchors: p.clientTrustAnchors.map(anchorSummary),
    validityDays: p.validityDays,
    keyAlgorithms: formatKeyAlgorithms(p.keyAlgorithms),
    keyUsage: p.keyUsage,
    extendedKeyUsage: p.extendedKeyUsage,
    allowedAccounts: p.allowedAccounts,
    csrAttrs: p.csrAttrs,
    approval: p.approval,
    retryAfterSeconds: p.retryAfterSeconds,
    pendingTtlHours: p.pendingTtlHours,
    popLinking: p.popLinking,
    namePolicy: p.namePolicy,
    deviceRevocation: p.deviceRevocation,
    updatedAt: p.updatedAt.toISOString(),
  };
}

function printProfile(config: Config, p: Profile, json: boolean | undefined): void {
  const view = profileView(config, p);
  if (json) return printJson(view);
  for (const [k, v] of Object.entries(view)) {
    if (k === 'clientTrustAnchors') {
      print(`${k}:${p.clientTrustAnchors.length ? '' : ' (none)'}`);
      for (const a of v as ReturnType<typeof anchorSummary>[]) print(`  - ${a.subject}  sha256=${a.sha256}  notAfter=${a.notAfter}`);
    } else printField(k, v);
  }
}

export function registerProfileCommands(program: Command): void {
  const profile = program.command('profile').description('manage certification profiles (EST labels; works while the server runs)');

  profileOptions(profile.command('add <label>').description('create a certification profile, starting from the defaults'))
    .action(async (label: string, opts: ProfileFlags & HomeOption & { json?: boolean }) => {
      if (!PROFILE_LABEL.test(label)) throw new CliError(`"${label}" is not a valid label (letters, digits, . _ -; up to 64)`);
      await withStore(opts, async (store, config) => {
        const p = applyProfileFlags(defaultProfile(label, Object.keys(config.cas)[0]!), opts, Object.keys(config.cas));
        const created = await store.createProfile(p);
        await store.appendAudit({ actor: 'cli', action: 'profile.add', profile: label, outcome: 'success', serial: null, detail: null });
        printProfile(config, created, opts.json);
      });
    });

  profileOptions(profile.command('set <label>').description('change settings of a profile; takes effect on the next request'))
    .action(async (label: string, opts: ProfileFlags & HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const current = await store.getProfile(label);
        if (!current) throw new CliError(`no profile "${label}"`);
        const next = applyProfileFlags(current, opts, Object.keys(config.cas));
        await store.updateProfile(next);
        await store.appendAudit({ actor: 'cli', action: 'profile.set', profile: label, outcome: 'success', serial: null, detail: null });
        printProfile(config, (await store.getProfile(label))!, opts.json);
      });
    });

  profile
    .command('show <label>')
    .description('show a profile, its EST URL and its trust anchors')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (label: string, opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const p = await store.getProfile(label);
        if (!p) throw new CliError(`no profile "${label}"`);
        printProfile(config, p, opts.json);
      });
    });

  profile
    .command('list')
    .description('list profiles')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const all = await store.listProfiles();
        if (opts.json) return printJson(all.map((p) => profileView(config, p)));
        printTable(['LABEL', 'EST', 'AUTH', 'CA', 'URL'], all.map((p) => [p.label, p.enabled ? 'enabled' : 'disabled', p.auth, p.ca, profileUrls(config, p.label)[0]!]));
      });
    });
}
