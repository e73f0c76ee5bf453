/**
 * The one label pattern and the one email pattern, for every surface that checks them: the Web RA
 * API's JSON schemas (as strings), the CLI, profile validation and EST label routing (as RegExps).
 */

/** A profile label, the EST path segment /.well-known/est/<label>/ (RFC 7030 §3.2.2): letters, digits, . _ -; 1 to 64, not starting with . _ -. */
export const LABEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const LABEL = new RegExp(LABEL_PATTERN);

/** An account's email address: something@something without spaces (the mailbox is not checked further). */
export const EMAIL_PATTERN = '^[^\\s@]+@[^\\s@]+$';
export const EMAIL = new RegExp(EMAIL_PATTERN);
