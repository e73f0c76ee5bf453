/** "Showing 26–50 of 120" (or "of more than 10,000" when the count stopped there) with Previous / Next for offset paging. */
export function Pager(props: { offset: number; limit: number; total: number; atLeast?: boolean; onPage: (offset: number) => void; what: string }) {
  const { offset, limit, total, atLeast } = props;
  const first = total === 0 ? 0 : offset + 1;
  const last = atLeast ? offset + limit : Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={`${props.what} pages`} data-testid="pager">
      <span aria-live="polite">
        {total === 0 ? `No ${props.what}` : `Showing ${first}–${last} of ${atLeast ? `more than ${total.toLocaleString('en')}` : total} ${props.what}`}
      </span>
      <span class="pager-buttons">
        <button type="button" class="secondary" disabled={offset <= 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
          Previous
        </button>
        <button type="button" class="secondary" disabled={offset + limit >= total && !atLeast} onClick={() => props.onPage(offset + limit)}>
          Next
        </button>
      </span>
    </nav>
  );
}
