/**
 * Masks personal data in text that goes to logs (error messages from drivers echo values:
 * `Duplicate entry 'jane@example.com-1' for key …`). Emails keep their first character and
 * domain's first character; quoted values in driver messages are replaced.
 */
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9])[A-Za-z0-9.-]*\.[A-Za-z]{2,}/g;
const QUOTED_ENTRY = /(Duplicate entry |value |entry )'[^']*'/gi;

export function maskPii(text: string): string {
  return text.replace(QUOTED_ENTRY, "$1'***'").replace(EMAIL, '$1***@$2***');
}

/** The message of an error, masked, with its name. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return maskPii(`${e.name}: ${e.message}`);
  return maskPii(String(e));
}
