/** Shared pieces of the list screens: filters kept in the URL, the filter form, table heads, paged tables. */
import type { ComponentChildren } from 'preact';
import { query } from '../api';
import { useUrlDraft } from '../hooks';
import { navigate, useLocation } from '../router';
import type { Profile } from '../types';
import { Pager } from './pager';

export type Filters<K extends string> = Record<K, string>;

/**
 * Filters and offset read from the URL of `path`, with a draft for the form (reset from the URL only
 * when Back/Forward change it) and navigation to apply a draft or a page.
 */
export function useUrlFilters<K extends string>(keys: readonly K[], path: string) {
  const { params } = useLocation();
  const filtersFrom = (p: URLSearchParams) => Object.fromEntries(keys.map((k) => [k, p.get(k) ?? ''])) as Filters<K>;
  const applied = filtersFrom(params);
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  // Back and Forward change the URL: show the filters of the list shown
  const [draft, setDraft] = useUrlDraft<Filters<K>>(() => filtersFrom(params), params.toString());
  const set = (k: K) => (v: string) => setDraft((d: Filters<K>) => ({ ...d, [k]: v }));
  const go = (f: Filters<K>, off: number) => navigate(`${path}${query({ ...f, offset: off || undefined })}`);
  const anyFilter = keys.some((k) => applied[k]);
  const clear = () => {
    const empty = filtersFrom(new URLSearchParams());
    setDraft(empty);
    go(empty, 0);
  };
  return { applied, offset, draft, set, go, anyFilter, clear };
}

/** The search form of a list screen: its fields in a grid, then the submit button and "Clear filters" when any filter applies. */
export function FilterForm(props: {
  label: string;
  testId: string;
  submitLabel: string;
  anyFilter: boolean;
  onSubmit: () => void;
  onClear: () => void;
  children: ComponentChildren;
}) {
  return (
    <form
      class="card filters-card"
      role="search"
      aria-label={props.label}
      data-testid={props.testId}
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      <div class="filters-grid">{props.children}</div>
      <div class="form-actions">
        <button type="submit" class="primary" data-testid={`${props.testId}-submit`}>
          {props.submitLabel}
        </button>
        {props.anyFilter ? (
          <button type="button" class="secondary" onClick={props.onClear}>
            Clear filters
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** Options for a profile filter: "All profiles", then each profile's label. */
export function profileOptions(profiles: Profile[] | undefined): { value: string; label: string }[] {
  return [{ value: '', label: 'All profiles' }, ...(profiles ?? []).map((p) => ({ value: p.label, label: p.label }))];
}

/** A table head of column headers, with a last, visually hidden "Actions" header when the rows have actions. */
export function TableHead({ columns, actions }: { columns: string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {actions ? (
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

/** A page of results in a card: the table (busy while a newer page loads) and the pager under it. */
export function PagedTable(props: {
  testId: string;
  columns: string[];
  loading: boolean;
  page: { offset: number; limit: number; total: number };
  limit: number;
  what: string;
  onPage: (offset: number) => void;
  children: ComponentChildren;
}) {
  const { page } = props;
  return (
    <div class="card flush">
      <div class="table-wrap">
        <table data-testid={props.testId} aria-busy={props.loading ? 'true' : undefined}>
          <TableHead columns={props.columns} />
          <tbody>{props.children}</tbody>
        </table>
      </div>
      <Pager offset={page.offset} limit={page.limit || props.limit} total={page.total} what={props.what} onPage={props.onPage} />
    </div>
  );
}
