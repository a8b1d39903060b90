/**
 * json and jsonb values as a driver hands them over: PGlite and node-postgres parse them, a driver
 * (or a column typed text) that does not gives the text. Either way the caller gets the value.
 */
export function jsonValue<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
