/**
 * API keys and roles, one KeyRing shared by every transport (REST, gRPC, ZMQ), so no transport can offer an
 * action that another one guards.
 *
 * Keys are compared in constant time: each configured key and the presented one are hashed with SHA-256 and the
 * digests compared with timingSafeEqual, so neither the length nor a matching prefix leaks through timing. Every
 * configured key is compared on every request (no early exit). Keys are never logged: a principal carries the
 * key's name (or a short fingerprint), never the key.
 *
 * A gRPC client may instead present a TLS client certificate that the server verified against tls.clientCaFile:
 * when its subject matches a tls.clientRoles entry, it is that entry's principal (mutual TLS in place of a key).
 * A key, when one is presented, always decides.
 *
 * With auth.jwt, a bearer credential that is no configured key but looks like a JWT is verified as one (src/auth/jwt.ts);
 * check() then returns a promise the first time a token is seen, and the principal at once while it is remembered.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors } from '../errors.js';
import type { Config } from '../../schemas/config.js';
import { ROLE_OF_ACTION, ROLES, roleAllows, type Action, type Role } from './permissions.js';
import { JwtVerifier, jwtEnabled, looksLikeJwt } from './jwt.js';

export interface Principal {
  role: Role;
  /** The key's configured name, or `key-<first 8 hex of its sha256>`: safe to log. */
  name: string;
}

interface Entry extends Principal {
  digest: Buffer;
}

/** A verified client certificate's subject fields (node's PeerCertificate['subject']). */
export type CertSubject = Record<string, string | string[] | undefined>;
interface CertRole extends Principal {
  fields: [string, string][];
}

/** The principal of requests when no keys are configured (loopback-only demo mode). */
export const OPEN_PRINCIPAL: Principal = Object.freeze({ role: 'admin', name: 'open' });

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class KeyRing {
  private constructor(
    private readonly entries: readonly Entry[],
    private readonly certRoles: readonly CertRole[] = [],
    private readonly jwt?: JwtVerifier,
  ) {}

  /** Keys from config, the keys file and MOC_API_KEYS. Throws a MocError naming the bad line (never the key). */
  static fromConfig(
    config: Pick<Config, 'auth'> & Partial<Pick<Config, 'tls'>>,
    env: NodeJS.ProcessEnv = process.env,
    now?: () => number,
  ): KeyRing {
    const found: { name?: string; role: Role; key: string; from: string }[] = [];
    for (const k of config.auth.keys) found.push({ ...k, from: 'auth.keys' });
    if (config.auth.keysFile) {
      let text: string;
      try {
        text = readFileSync(config.auth.keysFile, 'utf8');
      } catch (err) {
        throw errors.keysFileUnreadable(config.auth.keysFile, (err as Error).message);
      }
      text.split('\n').forEach((line, i) => {
        const l = line.trim();
        if (l && !l.startsWith('#'))
          found.push({
            ...parseKeySpec(l, `${config.auth.keysFile}:${i + 1}`),
            from: `${config.auth.keysFile}:${i + 1}`,
          });
      });
    }
    for (const [i, spec] of (env.MOC_API_KEYS ?? '')
      .split(',')
      .map((s) => s.trim())
      .entries()) {
      if (spec)
        found.push({ ...parseKeySpec(spec, `MOC_API_KEYS entry ${i + 1}`), from: `MOC_API_KEYS entry ${i + 1}` });
    }
    const seen = new Set<string>();
    const entries = found.map((k): Entry => {
      const digest = sha256(k.key);
      const hex = digest.toString('hex');
      if (seen.has(hex)) throw errors.keyDuplicated(k.from);
      seen.add(hex);
      return { role: k.role, name: k.name ?? `key-${hex.slice(0, 8)}`, digest };
    });
    const certRoles = (config.tls?.clientRoles ?? []).map((c): CertRole => {
      const fields = c.subject.split(',').map(
        (f) =>
          f
            .trim()
            .split('=')
            .map((x) => x.trim()) as [string, string],
      );
      return { role: c.role, name: c.name ?? fields.find(([k]) => k === 'CN')?.[1] ?? c.subject, fields };
    });
    const jwt = config.auth.jwt && jwtEnabled(config.auth.jwt) ? new JwtVerifier(config.auth.jwt, now) : undefined;
    if (config.auth.required && entries.length === 0 && certRoles.length === 0 && !jwt) {
      throw errors.noKeysButRequired();
    }
    return new KeyRing(entries, certRoles, jwt);
  }

  /** No keys configured: every request is let through (the server then refuses to bind a non-loopback host). */
  get open(): boolean {
    return this.entries.length === 0 && this.certRoles.length === 0 && !this.jwt;
  }
  get size(): number {
    return this.entries.length;
  }
  get acceptsJwt(): boolean {
    return this.jwt !== undefined;
  }

  /**
   * Who presents this credential. `credential` is the raw key (already taken out of `Bearer …` / x-api-key).
   * Throws MOC_ERR_UNAUTHENTICATED when keys are configured and it is missing or unknown.
   */
  authenticate(credential: string | undefined, certificate?: CertSubject): Principal {
    if (this.open) return OPEN_PRINCIPAL;
    if ((credential === undefined || credential === '') && certificate) {
      const c = this.certRoles.find((r) => r.fields.every(([k, v]) => [certificate[k]].flat().includes(v)));
      if (c) return { role: c.role, name: c.name };
      throw errors.unauthenticated(
        'the client certificate matches no tls.clientRoles entry and the request has no API key',
      );
    }
    if (credential === undefined || credential === '')
      throw errors.unauthenticated('this server requires an API key and the request has none');
    const presented = sha256(credential);
    let match: Entry | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, presented) && !match) match = e;
    if (match) return { role: match.role, name: match.name };
    if (this.jwt && looksLikeJwt(credential)) {
      const p = this.jwt.remembered(credential);
      if (p) return p;
      throw errors.unauthenticated('the bearer token has not been verified yet (use check(), which verifies it)');
    }
    throw errors.unauthenticated('the API key is not one this server knows');
  }

  /** Throws MOC_ERR_PERMISSION_DENIED when the principal's role may not perform the action. */
  authorize(p: Principal, action: Action): void {
    const needs = ROLE_OF_ACTION[action];
    if (roleAllows(p.role, needs)) return;
    throw errors.permissionDenied(action, p.role, needs);
  }

  /**
   * authenticate + authorize in one step; what every transport calls before it asks the router. A promise only for
   * a JWT not verified before (auth.jwt); it rejects as authenticate throws. Anything else is decided at once.
   */
  check(credential: string | undefined, action: Action, certificate?: CertSubject): Principal | Promise<Principal> {
    if (
      this.jwt &&
      credential &&
      looksLikeJwt(credential) &&
      !this.jwt.remembered(credential) &&
      !this.isKey(credential)
    ) {
      return this.jwt.verify(credential).then((p) => {
        this.authorize(p, action);
        return p;
      });
    }
    const p = this.authenticate(credential, certificate);
    this.authorize(p, action);
    return p;
  }

  /** Whether a configured static key is exactly this credential (every entry compared, in constant time). */
  private isKey(credential: string): boolean {
    const presented = sha256(credential);
    let found = false;
    for (const e of this.entries) if (timingSafeEqual(e.digest, presented)) found = true;
    return found;
  }
}

/** `role:key` or `role:name:key`. */
function parseKeySpec(spec: string, where: string): { name?: string; role: Role; key: string } {
  const parts = spec.split(':');
  const role = parts[0];
  if (!ROLES.includes(role as Role) || parts.length < 2 || parts.length > 3) {
    throw errors.keyMalformed(where);
  }
  const key = parts[parts.length - 1]!;
  if (key.length < 16) throw errors.keyTooShort(where);
  return { role: role as Role, key, ...(parts.length === 3 ? { name: parts[1]! } : {}) };
}

/**
 * The credential in a transport's headers/metadata: `Authorization: Bearer <key>` or `x-api-key: <key>`.
 * Returns undefined when neither is there.
 */
export function credentialFrom(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (apiKey) return apiKey;
  if (!authorization) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  return m ? m[1]!.trim() : undefined;
}

/** Loopback hosts, where the no-key demo mode is allowed. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
