/**
 * RFC 7030 §4.4: the key a profile generates for a client that asks the server to make it.
 * Generation runs in the libuv thread pool (node:crypto's async generateKeyPair): an RSA-4096 key
 * takes seconds of CPU and must not stall every other request. A per-process cap on concurrent
 * generations keeps the pool (shared with other crypto and file I/O) from filling up.
 */
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import type { PublicKeyInfo } from '../pki/csr.js';
import type { KeyAlgorithmRule, Profile } from './model.js';

export interface GeneratedKey {
  info: PublicKeyInfo;
  spki: Buffer;
  /** PKCS#8 DER. Handed to the client once; never stored or logged. */
  pkcs8: Buffer;
}

/** The largest RSA key the server generates, whatever the profile's minimum says. */
export const MAX_GENERATED_RSA_BITS = 4096;
/** Concurrent generations per process by default (the thread pool has 4 threads by default). */
export const DEFAULT_KEYGEN_CONCURRENCY = 2;

/**
 * What a profile's first key rule makes: its first curve, or RSA at its minimum size (at least
 * 2048); a string (the reason) when that is more than MAX_GENERATED_RSA_BITS.
 */
export function generatedKeyInfo(profile: Profile): PublicKeyInfo | string {
  const rule: KeyAlgorithmRule = profile.keyAlgorithms[0] ?? { type: 'ec', curves: ['P-256'] };
  switch (rule.type) {
    case 'ec': {
      const curve = rule.curves[0] ?? 'P-256';
      return { type: 'ec', curve, bits: curve === 'P-521' ? 521 : Number(curve.slice(2)) };
    }
    case 'rsa': {
      const bits = Math.max(2048, rule.minBits);
      if (bits > MAX_GENERATED_RSA_BITS) {
        return `server-side key generation makes RSA keys of at most ${MAX_GENERATED_RSA_BITS} bits; profile "${profile.label}" requires ${bits}`;
      }
      return { type: 'rsa', bits };
    }
    case 'ed25519':
      return { type: 'ed25519', bits: 256 };
  }
}

function generate(info: PublicKeyInfo): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject): void => (err ? reject(err) : resolve(priv));
    switch (info.type) {
      case 'ec':
        generateKeyPair('ec', { namedCurve: info.curve }, done);
        break;
      case 'rsa':
        generateKeyPair('rsa', { modulusLength: info.bits }, done);
        break;
      case 'ed25519':
        generateKeyPair('ed25519', {}, done);
        break;
    }
  });
}

/** Generate the key `info` describes, off the event loop. */
export async function generateKey(info: PublicKeyInfo): Promise<GeneratedKey> {
  const privateKey = await generate(info);
  return {
    info,
    spki: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
  };
}

/** Counts generations in flight; `tryAcquire` says no when the cap is reached (the caller answers 503). */
export class KeygenLimiter {
  private inFlight = 0;

  constructor(readonly maxConcurrent: number = DEFAULT_KEYGEN_CONCURRENCY) {}

  get active(): number {
    return this.inFlight;
  }

  /** A release function, or undefined when `maxConcurrent` generations are already running. */
  tryAcquire(): (() => void) | undefined {
    if (this.inFlight >= this.maxConcurrent) return undefined;
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
    };
  }
}
