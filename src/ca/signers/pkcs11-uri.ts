/**
 * PKCS#11 URIs (RFC 7512) naming a CA key in a token: `pkcs11:token=CA%20token;object=issuing;type=private`.
 * Only the attributes that select a private key are read; a PIN in the URI (pin-value) is refused,
 * since the PIN comes from a file or an environment variable and never from the configuration.
 */

export interface Pkcs11Uri {
  /** CKA_LABEL of the token (token=). */
  token: string | undefined;
  /** Token serial number (serial=), manufacturer (manufacturer=), model (model=). */
  serial: string | undefined;
  manufacturer: string | undefined;
  model: string | undefined;
  /** Slot by number (slot-id=, RFC 7512 errata / p11-kit). */
  slotId: number | undefined;
  /** CKA_LABEL of the key object (object=) and its CKA_ID (id=, percent-encoded bytes). */
  object: string | undefined;
  id: Buffer | undefined;
  /** type= when given; must be private (or absent) for a signing key. */
  type: string | undefined;
}

export class Pkcs11UriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pkcs11UriError';
  }
}

/** RFC 7512 §2.3: pk11-pchar values are percent-encoded UTF-8 (id= is raw bytes). */
function decodeBytes(value: string, attr: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Pkcs11UriError(`${attr}: bad percent-encoding "%${hex}"`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

const PATH_ATTRIBUTES = new Set(['token', 'serial', 'manufacturer', 'model', 'slot-id', 'object', 'id', 'type', 'library-description', 'library-manufacturer', 'library-version', 'slot-description', 'slot-manufacturer']);

export function isPkcs11Uri(text: string): boolean {
  return /^pkcs11:/i.test(text);
}

export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw new Pkcs11UriError(`"${text}" is not a PKCS#11 URI (pkcs11:token=...;object=...)`);
  const [path = '', query] = text.slice('pkcs11:'.length).split('?', 2);
  if (query !== undefined) {
    for (const part of query.split('&')) {
      const name = part.split('=', 1)[0]!.toLowerCase();
      // the PIN never travels in the configuration
      if (name === 'pin-value') throw new Pkcs11UriError('pin-value in a PKCS#11 URI is refused: give the PIN with pinFile or pinEnv');
    }
  }
  const uri: Pkcs11Uri = { token: undefined, serial: undefined, manufacturer: undefined, model: undefined, slotId: undefined, object: undefined, id: undefined, type: undefined };
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new Pkcs11UriError(`"${part}" is not attribute=value`);
    const name = part.slice(0, eq).toLowerCase();
    const raw = part.slice(eq + 1);
    if (!PATH_ATTRIBUTES.has(name)) throw new Pkcs11UriError(`unknown attribute "${name}"`);
    const text = (): string => decodeBytes(raw, name).toString('utf8');
    switch (name) {
      case 'token': uri.token = text(); break;
      case 'serial': uri.serial = text(); break;
      case 'manufacturer': uri.manufacturer = text(); break;
      case 'model': uri.model = text(); break;
      case 'object': uri.object = text(); break;
      case 'type': uri.type = text(); break;
      case 'id': uri.id = decodeBytes(raw, name); break;
      case 'slot-id': {
        if (!/^\d+$/.test(raw)) throw new Pkcs11UriError('slot-id: expected a number');
        uri.slotId = Number(raw);
        break;
      }
      default: break; // library and slot descriptions: accepted, not used for selection
    }
  }
  if (uri.type !== undefined && uri.type !== 'private') throw new Pkcs11UriError(`type=${uri.type}: a CA signing key is type=private`);
  if (uri.object === undefined && uri.id === undefined) throw new Pkcs11UriError('name the key with object= (its label) or id=');
  if (uri.token === undefined && uri.serial === undefined && uri.slotId === undefined) throw new Pkcs11UriError('name the token with token= (its label), serial= or slot-id=');
  return uri;
}

/** The URI for messages: what it selects, without anything secret (it holds nothing secret). */
export function describePkcs11Uri(u: Pkcs11Uri): string {
  const parts = [
    u.token !== undefined ? `token "${u.token}"` : undefined,
    u.serial !== undefined ? `serial ${u.serial}` : undefined,
    u.slotId !== undefined ? `slot ${u.slotId}` : undefined,
    u.object !== undefined ? `object "${u.object}"` : undefined,
    u.id !== undefined ? `id ${u.id.toString('hex')}` : undefined,
  ];
  return parts.filter(Boolean).join(', ');
}
