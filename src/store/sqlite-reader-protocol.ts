/** Messages between the SQLite store and its reader thread (sqlite-reader-worker.ts). */
import type { ReadCalls, ReadName } from './sqlite-reads.js';
import { StoreQueryError, StoreUnavailableError } from './store.js';

export interface ReaderInit {
  path: string;
  busyTimeoutMs: number;
}

export interface ReadRequest<N extends ReadName = ReadName> {
  id: number;
  name: N;
  args: Parameters<ReadCalls[N]>;
}

export type ReadWireError = { type: 'unavailable' | 'query' | 'range' | 'other'; message: string };

export type ReadReply = { id: number; value: unknown; error?: undefined } | { id: number; error: ReadWireError };

export function readErrorToWire(err: unknown): ReadWireError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof StoreUnavailableError) return { type: 'unavailable', message };
  if (err instanceof StoreQueryError) return { type: 'query', message };
  if (err instanceof RangeError) return { type: 'range', message };
  return { type: 'other', message };
}

export function readErrorFromWire(e: ReadWireError): Error {
  switch (e.type) {
    case 'unavailable':
      return new StoreUnavailableError(e.message);
    case 'query':
      return new StoreQueryError(e.message);
    case 'range':
      return new RangeError(e.message);
    case 'other':
      return new Error(`reader thread: ${e.message}`);
  }
}
