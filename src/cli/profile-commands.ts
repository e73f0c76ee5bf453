/** `estuary profile add|list|show|set`. */
import type { Command } from 'commander';
import { defaultProfile } from '../ra/default-profile.js';
import { describeTrustAnchor, newLabelError } from '../ra/profile-validation.js';
import type { Profile } from '../ra/model.js';
import { popLinkingThroughProxy } from '../ra/pop-linking.js';
import { estBaseUrl, type Config } from './config.js';
import { CliError, print, printField, printJson, printTable, withStore, type HomeOption } from './context.js';
import { applyProfileFlags, formatKeyAlgorithms, type ProfileFlags } from './profile-options.js';
import { registerProfileLifecycleCommands } from './profile-lifecycle-commands.js';
import { formatValidity } from '../ra/validity.js';
import { cliActor } from './cli-actor.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function profileOptions(cmd: Command): Command {
  return cmd
    .option('--enable', 'enable EST on this profile')
    .option('--disable', 'disable EST on this profile (its URLs answer 404)')
    .option('--ca <id>', 'CA connector that issues for this profile')
    .option('--auth <mechanism>', 'basic | tls-client-cert | basic+tls-client-cert')
    .option('--trust-anchors <file>', 'PEM bundle of the device CA that TLS client certificates must chain to')
    .option('--clear-trust-anchors', 'remove all client trust anchors')
    .option('--validity <duration>', 'validity of issued certificates: 30d, 8h, 90m, 1d12h (1m to 3650d; clamped to the CA\'s own)')
    .option('--validity-days <n>', 'validity of issued certificates in whole days (as --validity Nd)')
    .option('--key-algorithms <list>', 'allowed keys, e.g. ec:P-256/P-384,rsa:2048,ed25519 (RSA bounds: rsa:2048-4096:e=3)')
    .option('--key-usage <list>', 'key usage of issued certificates, e.g. digitalSignature,keyEncipherment')
    .option('--eku <list>', 'extended key usage of issued certificates, e.g. serverAuth,clientAuth')
    .option('--accounts <list>', 'EST account emails allowed on this profile (empty: every EST account)')
    .option('--csr-attrs <list>', 'attributes announced by /csrattrs, e.g. challengePassword')
    .option('--approval <mode>', 'auto, or manual: requests wait (202) for an officer')
    .option('--approvals <n>', '1, or 2 for four-eyes: two different officers must approve a held request')
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
    .option('--wildcards <on|off>', 'on: wildcard DNS names (*.example.com) may be issued, as SAN or CN (default off)')
    .option('--max-sans <n>', 'most subjectAltName entries per certificate (default 100)')
    .option('--max-rdns <n>', 'most RDNs in a subject (default 32)')
    .option('--max-subject-bytes <n>', 'most bytes of the DER subject (default 1024)')
    .option('--client-binding <mode>', 'TLS client certificate profiles: match (default: the subject and SANs must be the certificate\'s), anchor-names (within the names set per trust anchor) or free (no binding)')
    .option('--binding-attributes <list>', 'match: only these subject attributes must equal the certificate\'s, e.g. CN,serialNumber (empty: the whole subject)')
    .option('--anchor-names <sha256=names>', 'anchor-names: the names certificates under the trust anchor with this SHA-256 fingerprint may request, e.g. AB:CD…=dev-*,dns:*.devices.example.com (repeatable; empty names remove the anchor)', collect, [])
    .option('--anchor-subject-pattern <sha256/attr=regex>', 'anchor-names: a pattern a subject attribute other than CN must match for that anchor (repeatable)', collect, [])
    .option('--clear-anchor-names', 'remove the names of every trust anchor')
    .option('--pop-linking <mode>', 'proof-of-possession linking (RFC 7030 §3.5): optional (default) checks that a non-empty CSR challengePassword is the TLS channel binding; required also refuses its absence; off never looks at it (for clients whose challengePassword carries something else)')
    .option('--renewal-supersede <on|off>', 'revoke a renewed certificate (reason superseded) when its successor is issued')
    .option('--renewal-once <on|off>', 'a certificate can be renewed only once (its successor renews further)')
    .option('--renewal-window <percent>', 'simplereenroll only within the last N% of a certificate\'s life (0: any time)')
    .option('--crl-unavailable <policy>', 'refuse (default) or allow a device certificate whose CRL cannot be had fresh; either is audited')
    .option('--anchor-crl <sha256=url>', 'CRL URL for the certificates a trust anchor issued, by the anchor\'s SHA-256 fingerprint (repeatable; an empty URL removes it)', collect, [])
    .option('--clear-anchor-crls', 'remove all per-anchor CRL URLs')
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

/** Proxy mode (est.proxy) and PoP linking: a warning beside the setting when it cannot work as configured. */
function popLinkingWarning(config: Config, p: Profile): { popLinkingWarning?: string } {
  const note = config.est.proxy ? popLinkingThroughProxy(p.popLinking) : undefined;
  return note ? { popLinkingWarning: note } : {};
}

function profileView(config: Config, p: Profile): Record<string, unknown> {
  return {
    label: p.label,
    enabled: p.enabled,
    ca: p.ca,
    auth: p.auth,
    estUrls: profileUrls(config, p.label),
    clientTrustAnchors: p.clientTrustAnchors.map(anchorSummary),
    validity: formatValidity(p.validitySeconds),
    keyAlgorithms: formatKeyAlgorithms(p.keyAlgorithms),
    keyUsage: p.keyUsage,
    extendedKeyUsage: p.extendedKeyUsage,
    allowedAccounts: p.allowedAccounts,
    csrAttrs: p.csrAttrs,
    approval: p.approval,
    approvals: p.approvals,
    retryAfterSeconds: p.retryAfterSeconds,
    pendingTtlHours: p.pendingTtlHours,
    popLinking: p.popLinking,
    ...popLinkingWarning(config, p),
    namePolicy: p.namePolicy,
    ...(p.auth === 'basic' ? {} : { clientNameBinding: describeClientBinding(p) }),
    renewal: p.renewal,
    deviceRevocation: p.deviceRevocation,
    ...(p.retiredAt ? { retiredAt: p.retiredAt.toISOString() } : {}),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** How names bind to the TLS client certificate, in words; `free` says plainly that nothing binds. */
export function describeClientBinding(p: Profile): string {
  const b = p.namePolicy.clientBinding;
  switch (b.mode) {
    case 'match':
      return `match: ${b.attributes.length ? `subject ${b.attributes.join(', ')}` : 'the subject'} and every SAN must be the client certificate's own (id-kp-cmcRA certificates exempt)`;
    case 'anchor-names':
      return `anchor-names: names within those set for the client certificate's trust anchor (${b.anchors.length} configured)`;
    case 'free':
      return 'free: NOT bound, any client certificate may request any name the name policy allows';
  }
}

function printProfile(config: Config, p: Profile, json: boolean | undefined): void {
  const view = profileView(config, p);
  if (json) return printJson(view);
  for (const [k, v] of Object.entries(view)) {
    if (k === 'clientTrustAnchors') {
      print(`${k}:${p.clientTrustAnchors.length ? '' : ' (none)'}`);
      for (const a of v as ReturnType<typeof anchorSummary>[]) print(`  - ${a.subject}  sha256=${a.sha256}  notAfter=${a.notAfter}`);
    } else if (k === 'popLinkingWarning') print(`  WARNING: ${String(v)}`);
    else printField(k, v);
  }
}

export function registerProfileCommands(program: Command): void {
  const profile = program.command('profile').description('manage certification profiles (EST labels; works while the server runs)');

  profileOptions(profile.command('add <label>').description('create a certification profile, starting from the defaults'))
    .action(async (label: string, opts: ProfileFlags & HomeOption & { json?: boolean }) => {
      const labelProblem = newLabelError(label);
      if (labelProblem) throw new CliError(labelProblem);
      await withStore(opts, async (store, config) => {
        const p = applyProfileFlags(defaultProfile(label, Object.keys(config.cas)[0]!), opts, Object.keys(config.cas));
        const created = await store.createProfile(p);
        await store.appendAudit({ actor: cliActor(), action: 'profile.add', profile: label, outcome: 'success', serial: null, detail: null });
        printProfile(config, created, opts.json);
      });
    });

  profileOptions(profile.command('set <label>').description('change settings of a profile; takes effect on the next request'))
    .action(async (label: string, opts: ProfileFlags & HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const current = await store.getProfile(label);
        if (!current) throw new CliError(`no profile "${label}"`);
        if (current.retiredAt) throw new CliError(`profile "${label}" is retired and cannot be changed; clone it (estuary profile clone ${label} NEW) to issue under new settings`);
        const next = applyProfileFlags(current, opts, Object.keys(config.cas));
        await store.updateProfile(next);
        await store.appendAudit({ actor: cliActor(), action: 'profile.set', profile: label, outcome: 'success', serial: null, detail: null });
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

  registerProfileLifecycleCommands(profile, (config, p, json) => printProfile(config, p, json));

  profile
    .command('list')
    .description('list profiles')
    .option('--json', 'print JSON')
    .option('--home <dir>', 'data directory')
    .action(async (opts: HomeOption & { json?: boolean }) => {
      await withStore(opts, async (store, config) => {
        const all = await store.listProfiles();
        if (opts.json) return printJson(all.map((p) => ({ ...profileView(config, p), default: p.label === config.est.defaultProfile })));
        const status = (p: Profile): string => (p.retiredAt ? 'retired' : p.enabled ? 'enabled' : 'disabled');
        const label = (p: Profile): string => (p.label === config.est.defaultProfile ? `${p.label} (default)` : p.label);
        printTable(['LABEL', 'EST', 'AUTH', 'CA', 'VALIDITY', 'URL'], all.map((p) => [label(p), status(p), p.auth, p.ca, formatValidity(p.validitySeconds), profileUrls(config, p.label)[0]!]));
      });
    });
}
