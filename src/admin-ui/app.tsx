/** The shell: session bootstrap, sign-in, navigation, routes and the status regions. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, setSession, setUnauthenticatedHandler } from './api';
import { Badge } from './components/badge';
import { match, navigate, useLocation } from './router';
import { AccountsScreen } from './screens/accounts';
import { ApiTokensScreen } from './screens/api-tokens';
import { AuditScreen } from './screens/audit';
import { CertificateDetailScreen } from './screens/certificate-detail';
import { CaConnectorsScreen } from './screens/ca-connectors';
import { CertificatesScreen } from './screens/certificates';
import { DashboardScreen } from './screens/dashboard';
import { MyCertificatesScreen } from './screens/my-certificates';
import { PasswordScreen } from './screens/password';
import { ProfileEditScreen } from './screens/profile-edit';
import { ProfilesScreen } from './screens/profiles';
import { RequestDetailScreen } from './screens/request-detail';
import { RequestsScreen } from './screens/requests';
import { WebhooksScreen } from './screens/webhooks';
import { Logo, SignIn } from './screens/sign-in';
import { OwnAccountScreen } from './screens/own-account';
import { SessionContext } from './session';
import { announce, clearStatus, useStatusMessage } from './status';
import type { Role, Session } from './types';

const NAV: ReadonlyArray<{ href: string; label: string; testId: string; roles?: readonly Role[] }> = [
  { href: '/', label: 'Dashboard', testId: 'nav-dashboard' },
  { href: '/profiles', label: 'Certification profiles', testId: 'nav-profiles' },
  { href: '/accounts', label: 'Accounts', testId: 'nav-accounts' },
  { href: '/requests', label: 'Pending requests', testId: 'nav-requests' },
  { href: '/certificates', label: 'Certificates', testId: 'nav-certificates' },
  { href: '/audit', label: 'Audit log', testId: 'nav-audit' },
  { href: '/cas', label: 'CA connectors', testId: 'nav-cas', roles: ['admin', 'officer'] },
  { href: '/tokens', label: 'API tokens', testId: 'nav-tokens', roles: ['admin'] },
  { href: '/webhooks', label: 'Webhooks', testId: 'nav-webhooks' },
  { href: '/password', label: 'My password', testId: 'nav-password' },
];

/** An EST account signed in for self-service sees its own certificates and its password only. */
const SELF_NAV: typeof NAV = [
  { href: '/', label: 'My certificates', testId: 'nav-my-certificates' },
  { href: '/password', label: 'My password', testId: 'nav-password' },
];

function SelfRoute({ path }: { path: string }): ComponentChildren {
  if (path === '/password') return <PasswordScreen />;
  return <MyCertificatesScreen />;
}

function Route({ path }: { path: string }): ComponentChildren {
  let m: Record<string, string> | undefined;
  if (path === '/' || path === '') return <DashboardScreen />;
  if (path === '/profiles') return <ProfilesScreen />;
  if (path === '/profiles/new') return <ProfileEditScreen label={undefined} />;
  if ((m = match('/profiles/:label', path))) return <ProfileEditScreen key={m.label} label={m.label!} />;
  if (path === '/accounts') return <AccountsScreen />;
  if (path === '/requests') return <RequestsScreen />;
  if ((m = match('/requests/:id', path))) return <RequestDetailScreen key={m.id} id={m.id!} />;
  if (path === '/certificates') return <CertificatesScreen />;
  if ((m = match('/certificates/:serial', path))) return <CertificateDetailScreen key={m.serial} serial={m.serial!} />;
  if (path === '/audit') return <AuditScreen />;
  if (path === '/cas') return <CaConnectorsScreen />;
  if (path === '/password') return <PasswordScreen />;
  if (path === '/account') return <OwnAccountScreen />;
  if (path === '/tokens') return <ApiTokensScreen />;
  if (path === '/webhooks') return <WebhooksScreen />;
  return (
    <div class="page-head">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        <a href="/">Go to the dashboard</a>
      </p>
    </div>
  );
}

function isActive(href: string, path: string): boolean {
  return href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
}

function StatusRegions() {
  const message = useStatusMessage();
  useEffect(() => {
    if (!message || message.kind === 'error') return;
    const t = window.setTimeout(clearStatus, 10_000);
    return () => window.clearTimeout(t);
  }, [message]);
  const polite = message && message.kind !== 'error' ? message : null;
  const alert = message && message.kind === 'error' ? message : null;
  return (
    <div class="status-area">
      <div role="status" aria-live="polite" data-testid="status" class={polite ? `toast ${polite.kind}` : 'toast-empty'}>
        {polite ? <span>{polite.text}</span> : null}
        {polite ? <DismissButton /> : null}
      </div>
      <div role="alert" data-testid="status-error" class={alert ? 'toast error' : 'toast-empty'}>
        {alert ? <span>{alert.text}</span> : null}
        {alert ? <DismissButton /> : null}
      </div>
    </div>
  );
}

function DismissButton() {
  return (
    <button type="button" class="icon-button" aria-label="Dismiss message" onClick={clearStatus}>
      ×
    </button>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const first = useRef(true);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    // a new screen: put keyboard and screen-reader focus on its heading
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);
  return (
    <SessionContext.Provider value={session}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button type="button" class="menu-button icon-button" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>
          <span class="visually-hidden">Menu</span>
          <span aria-hidden="true">☰</span>
        </button>
        <a href="/" class="brand">
          <Logo />
          <span>Estuary</span>
          <span class="brand-sub">Web RA</span>
        </a>
        <div class="user" data-testid="current-user">
          {session.role === 'est' ? (
            <span class="user-email">{session.email}</span>
          ) : (
            <a href="/account" class="user-email" data-testid="own-account" title="Your account and two-step sign-in">
              {session.email}
            </a>
          )}
          <Badge status={session.role} label={session.role === 'est' ? 'self-service' : session.role} />
          <button type="button" class="secondary small" onClick={onSignOut} data-testid="sign-out">
            Sign out
          </button>
        </div>
      </header>
      <div class="layout">
        <nav id="main-nav" aria-label="Main" class={menuOpen ? 'sidenav open' : 'sidenav'}>
          <ul>
            {(session.role === 'est' ? SELF_NAV : NAV).filter((n) => !n.roles || n.roles.includes(session.role)).map((n) => (
              <li key={n.href}>
                <a href={n.href} data-testid={n.testId} aria-current={isActive(n.href, path) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {session.role === 'est' ? <SelfRoute path={path} /> : <Route path={path} />}
        </main>
      </div>
    </SessionContext.Provider>
  );
}

export function App() {
  const [session, setSessionState] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      setSession(null);
      setSessionState((s) => {
        if (s) setExpired(true);
        return null;
      });
    });
    api.get<Session>('/api/session').then(
      (s) => {
        setSession(s);
        setSessionState(s);
      },
      () => setSessionState(null),
    );
  }, []);

  const signedIn = (s: Session) => {
    setSession(s);
    setExpired(false);
    clearStatus();
    setSessionState(s);
  };

  const signOut = async () => {
    try {
      await api.del('/api/session');
    } catch (e) {
      announce(describeError(e), 'error');
    }
    setSession(null);
    setSessionState(null);
    clearStatus();
    navigate('/', { replace: true });
  };

  return (
    <>
      {session === undefined ? (
        <main id="main" class="booting" aria-busy="true">
          <p>Loading…</p>
        </main>
      ) : session === null ? (
        <SignIn onSignedIn={signedIn} expired={expired} />
      ) : (
        <Shell session={session} onSignOut={signOut} />
      )}
      <StatusRegions />
    </>
  );
}
