/** A status word with a colour; the word itself carries the meaning. */
export function Badge({ status, label }: { status: string; label?: string }) {
  return <span class={`badge badge-${status.replace(/[^a-z-]/gi, '')}`}>{label ?? status}</span>;
}
