/** The heading row of a screen, and small shared pieces of screens. */
import type { ComponentChildren } from 'preact';
import { usePageTitle } from '../hooks';

export function PageHeader({ title, children, lead }: { title: string; children?: ComponentChildren; lead?: ComponentChildren }) {
  usePageTitle(title);
  return (
    <div class="page-head">
      <div>
        <h1 tabIndex={-1}>{title}</h1>
        {lead ? <p class="lead">{lead}</p> : null}
      </div>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

export function LoadError({ error, onRetry }: { error: string | undefined; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="notice error" role="alert" data-testid="load-error">
      <span>{error}</span>
      {onRetry ? (
        <button type="button" class="link-button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ show }: { show: boolean }) {
  return show ? (
    <p class="loading" aria-busy="true">
      Loading…
    </p>
  ) : null;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
