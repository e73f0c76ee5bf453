/** Shared pieces of the list screens: filters kept in the URL, the filter form, table heads, paged tables. */
import type { ComponentChildren, VNode } from 'preact';
import { query } from '../api';
import { useUrlDraft, type Loaded } from '../hooks';
import { navigate, useLocation } from '../router';
import type { Page, Profile } from '../types';
import { SelectField } from './fields';
import { Empty, LoadError, Loading } from './page';
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

/** The "Profile" filter of a list screen: "All profiles", then each profile's label. */
export function ProfileFilter(props: { profiles: Profile[] | undefined; value: string; onChange: (label: string) => void }) {
  return (
    <SelectField
      label="Profile"
      name="profile"
      value={props.value}
      onChange={props.onChange}
      options={[{ value: '', label: 'All profiles' }, ...(props.profiles ?? []).map((p) => ({ value: p.label, label: p.label }))]}
    />
  );
}

/** The "Status" filter of a certificate list: any, valid, revoked or expired. */
export function CertificateStatusFilter(props: { value: string; onChange: (status: string) => void }) {
  return (
    <SelectField
      label="Status"
      name="status"
      value={props.value}
      onChange={props.onChange}
      options={[
        { value: '', label: 'Any status' },
        { value: 'valid', label: 'Valid' },
        { value: 'revoked', label: 'Revoked' },
        { value: 'expired', label: 'Expired' },
      ]}
    />
  );
}

/** A table head of column headers, with a last, visually hidden "Actions" header when the rows have actions. */
function TableHead({ columns, actions }: { columns: string[]; actions?: boolean }) {
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

/** A table of rows under a head of column headers (see TableHead). */
export function DataTable(props: {
  columns: string[];
  actions?: boolean;
  testId?: string;
  caption?: string;
  describedBy?: string;
  busy?: boolean;
  children: ComponentChildren;
}) {
  return (
    <table data-testid={props.testId} aria-describedby={props.describedBy} aria-busy={props.busy ? 'true' : undefined}>
      {props.caption ? <caption>{props.caption}</caption> : null}
      <TableHead columns={props.columns} actions={props.actions} />
      <tbody>{props.children}</tbody>
    </table>
  );
}

/**
 * The results part of a list screen: the load error, "Loading…", the empty message, or the page of rows in a card
 * (the table busy while a newer page loads) with the pager under it.
 */
export function PagedResults<T>(props: {
  loaded: Loaded<Page<T>>;
  empty: ComponentChildren;
  testId: string;
  columns: string[];
  limit: number;
  what: string;
  onPage: (offset: number) => void;
  row: (item: T) => VNode;
}) {
  const { data, error, loading, reload } = props.loaded;
  return (
    <>
      <LoadError error={error} onRetry={reload} />
      <Loading show={loading && !data} />
      {data && data.items.length === 0 ? <Empty>{props.empty}</Empty> : null}
      {data && data.items.length ? (
        <div class="card flush">
          <div class="table-wrap">
            <DataTable testId={props.testId} columns={props.columns} busy={loading}>
              {data.items.map(props.row)}
            </DataTable>
          </div>
          <Pager offset={data.offset} limit={data.limit || props.limit} total={data.total} atLeast={data.totalIsLowerBound === true} what={props.what} onPage={props.onPage} />
        </div>
      ) : null}
    </>
  );
}
