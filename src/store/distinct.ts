/** Items with the same key listed once, the first kept (a row found by two branches of a UNION ALL). */
export function distinct<T>(items: T[], key: (item: T) => string | number): T[] {
  const seen = new Set<string | number>();
  return items.filter((i) => !seen.has(key(i)) && seen.add(key(i)));
}
