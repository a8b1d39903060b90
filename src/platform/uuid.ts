/**
 * A UUID as PostgreSQL's `uuid` type parses it (8-4-4-4-12 hex, any case). Ids from a URL or a body are
 * tested with it before they reach SQL: anything else (including `urn:uuid:…`, which the JSON schema's
 * uuid format admits) would make the cast fail, so it can only match nothing.
 */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
