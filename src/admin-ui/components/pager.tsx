/** "Showing 26–50 of 120" with Previous / Next for offset paging. */
export function Pager(props: { offset: number; limit: number; total: number; onPage: (offset: number) => void; what: string }) {
  const { offset, limit, total } = props;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={`${props.what} pages`} data-testid="pager">
      <span aria-live="polite">
        {total === 0 ? `No ${props.what}` : `Showing ${first}–${last} of ${total} ${props.what}`}
      </span>
      <span class="pager-buttons">
        <button type="button" class="secondary" disabled={offset <= 0} onClick={() => props.onPage(Math.max(0, offset - limit))}>
          Previous
        </button>
        <button type="button" class="secondary" disabled={offset + limit >= total} onClick={() => props.onPage(offset + limit)}>
          Next
        </button>
      </span>
    </nav>
  );
}
