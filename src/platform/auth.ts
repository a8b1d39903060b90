/**
 * What the ESOZ gateway (Kong + Mithril) does before a request reaches a component:
 * token → api-key → scopes, in that order. Tokens are opaque and stored as SHA-256 hashes.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from './db.ts';
import { boundedCache } from './bounded-cache.ts';
import { accessDenied, forbidden, notFound } from './errors.ts';

export interface AuthContext {
  tokenHash: string;
  clientId: string;
  clientName: string;
  legalEntityId: string | null;
  userId: string | null;
  employeeId: string | null;
  scopes: ReadonlySet<string>;
  expiresAt: Date;
  secretHash: string;
}

export const INVALID_TOKEN = 'Invalid access token';
export const INVALID_API_KEY = 'Invalid api-key';
export const missingAllowances = (scopes: string[]) =>
  `Your scope does not allow to access this resource. Missing allowances: ${scopes.join(', ')}`;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function equalHashes(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

interface TokenRow {
  client_id: string;
  client_name: string;
  legal_entity_id: string | null;
  user_id: string | null;
  employee_id: string | null;
  scopes: string[];
  expires_at: Date;
  secret_hash: string;
}

export class AuthService {
  /**
   * Verified tokens for TOKEN_CACHE_SECONDS, keyed by the token as sent (so a hit costs no hashing),
   * with the api-key that was last verified against the client's secret hash. Process memory only;
   * expiry is still checked on every request.
   */
  private readonly cache = boundedCache<string, { ctx: AuthContext; until: number; apiKey?: Buffer }>(50_000);

  constructor(
    private readonly db: Db,
    private readonly cacheSeconds: number,
  ) {}

  /** Steps 1–2 of every protected method: the token exists and is not expired; then the api-key matches the client. */
  async authenticate(authorization: string | undefined, apiKey: string | undefined): Promise<AuthContext> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw accessDenied(INVALID_TOKEN);
    const token = m[1];
    const now = Date.now();
    let entry = this.cache.get(token);
    if (!entry || entry.until <= now) {
      const ctx = await this.lookup(sha256(token));
      entry = ctx ? this.remember(token, ctx, now) : undefined;
    }
    const ctx = entry?.ctx;
    if (!entry || !ctx || ctx.expiresAt.getTime() <= now) throw accessDenied(INVALID_TOKEN);
    if (!apiKey) throw accessDenied(INVALID_API_KEY);
    // the api-key verified last for this token is compared in constant time; any other is hashed and checked
    const sent = Buffer.from(apiKey);
    if (entry.apiKey && entry.apiKey.length === sent.length && timingSafeEqual(entry.apiKey, sent)) return ctx;
    if (!equalHashes(sha256(apiKey), ctx.secretHash)) throw accessDenied(INVALID_API_KEY);
    entry.apiKey = sent;
    return ctx;
  }

  private remember(token: string, ctx: AuthContext, now: number) {
    const entry = { ctx, until: now + this.cacheSeconds * 1000 };
    if (this.cacheSeconds > 0) {
      this.cache.set(token, entry);
    }
    return entry;
  }

  /** Step 3: every scope the route declares must be granted, else 403 listing what is missing. */
  requireScopes(ctx: AuthContext, scopes: readonly string[]) {
    const missing = scopes.filter((s) => !ctx.scopes.has(s));
    if (missing.length) throw forbidden(missingAllowances(missing));
  }

  private async lookup(tokenHash: string): Promise<AuthContext | undefined> {
    const { rows } = await this.db.query<TokenRow>(
      `SELECT t.client_id, c.name AS client_name, c.legal_entity_id, t.user_id, t.employee_id, t.scopes, t.expires_at, c.secret_hash
         FROM access_tokens t JOIN mis_clients c ON c.id = t.client_id
        WHERE t.token_hash = $1 AND c.is_active`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      tokenHash,
      clientId: row.client_id,
      clientName: row.client_name,
      legalEntityId: row.legal_entity_id,
      userId: row.user_id,
      employeeId: row.employee_id,
      scopes: new Set(row.scopes),
      expiresAt: new Date(row.expires_at),
      secretHash: row.secret_hash,
    };
  }

  async createClient(input: { id?: string; name: string; legalEntityId: string | null; secret?: string }) {
    const id = input.id ?? randomUUID();
    const secret = input.secret ?? randomBytes(24).toString('base64url');
    await this.db.query(
      `INSERT INTO mis_clients(id, name, legal_entity_id, secret_hash) VALUES ($1,$2,$3,$4)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, legal_entity_id = EXCLUDED.legal_entity_id, secret_hash = EXCLUDED.secret_hash`,
      [id, input.name, input.legalEntityId, sha256(secret)],
    );
    return { id, secret };
  }

  async issueToken(input: {
    clientId: string;
    userId?: string | null;
    employeeId?: string | null;
    scopes: string[];
    expiresIn?: number;
    token?: string;
  }) {
    const client = await this.db.query('SELECT 1 FROM mis_clients WHERE id = $1', [input.clientId]);
    if (client.rowCount === 0) throw notFound('Client not found');
    const token = input.token ?? randomBytes(16).toString('hex');
    const expiresAt = new Date(Date.now() + (input.expiresIn ?? 86400) * 1000);
    await this.db.query(
      `INSERT INTO access_tokens(token_hash, client_id, user_id, employee_id, scopes, expires_at) VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (token_hash) DO UPDATE SET client_id = EXCLUDED.client_id, user_id = EXCLUDED.user_id,
         employee_id = EXCLUDED.employee_id, scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at`,
      [sha256(token), input.clientId, input.userId ?? null, input.employeeId ?? null, input.scopes, expiresAt],
    );
    this.cache.delete(token);
    return { access_token: token, expires_at: expiresAt.toISOString() };
  }
}
