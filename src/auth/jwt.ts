/**
 * JWT bearer tokens (auth.jwt), an alternative to static API keys: a token signed by the operator's identity
 * provider, verified with `jose` against a JWKS (a file, re-read when it changes, or an https URL that jose fetches
 * and caches), its role claim mapped to one of our roles and its subject used as the caller's name (what logs,
 * job owners and per-key budgets see).
 *
 * Verification is asynchronous (WebCrypto), while two transports decide on a request synchronously. So a verified
 * token is remembered until it expires (at most CACHE_TTL_MS, so a key taken out of the JWKS stops working within a
 * minute, and at most CACHE_MAX tokens): a client that reuses its token — the common case — is answered from the
 * cache with no await; a token seen for the first time is verified once and its request waits for that.
 *
 * Refused, each MOC_ERR_UNAUTHENTICATED naming why: a bad signature, an expired or not-yet-valid token, a wrong
 * issuer or audience, a `kid` the JWKS does not have, an algorithm not in auth.jwt.algorithms (so `alg: none` and
 * HMAC tokens signed with a public key as secret never pass), no `exp`, a role claim that maps to no role.
 */
import { readFileSync } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  type JWTVerifyGetKey,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { errors, MocError } from '../errors.js';
import type { Config } from '../../schemas/config.js';
import { ROLES, type Role } from './permissions.js';
import type { Principal } from './keys.js';

export type JwtConfig = Config['auth']['jwt'];

/** How long a verified token is answered from memory, at most (its own `exp` may end it sooner). */
const CACHE_TTL_MS = 60_000;
/** Tokens remembered at once; the oldest is forgotten first (it is verified again if it comes back). */
const CACHE_MAX = 10_000;
/** After a `kid` the JWKS file lacked, how soon the file is looked at again (a rotation may have added it). */
const FILE_RECHECK_MS = 1000;

/** Three base64url parts separated by dots: what a compact JWS looks like (an API key may, but does not match a key). */
export function looksLikeJwt(credential: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(credential);
}

export function jwtEnabled(c: JwtConfig): boolean {
  return c.jwksFile !== '' || c.jwksUrl !== '';
}

interface Remembered {
  principal: Principal;
  untilMs: number;
}

export class JwtVerifier {
  private readonly cache = new Map<string, Remembered>();
  private getKey: JWTVerifyGetKey;
  private fileMtimeMs = 0;
  private fileCheckedMs = 0;

  constructor(
    private readonly config: JwtConfig,
    private readonly now: () => number = Date.now,
  ) {
    if (config.jwksFile) {
      // Read at start, synchronously: a missing or malformed JWKS stops the start with its reason, as a keys file does.
      let text: string;
      try {
        text = readFileSync(config.jwksFile, 'utf8');
      } catch (err) {
        throw errors.jwksUnreadable(config.jwksFile, (err as Error).message);
      }
      this.getKey = localSet(config.jwksFile, text);
      this.fileCheckedMs = this.now();
    } else {
      this.getKey = createRemoteJWKSet(new URL(config.jwksUrl), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
      });
    }
  }

  /** The principal of a token verified before and not expired since; undefined when it must be verified (again). */
  remembered(token: string): Principal | undefined {
    const r = this.cache.get(token);
    if (!r) return undefined;
    if (r.untilMs <= this.now()) {
      this.cache.delete(token);
      return undefined;
    }
    return r.principal;
  }

  /** Verifies a token and remembers it. Rejects with MOC_ERR_UNAUTHENTICATED saying what is wrong with it. */
  async verify(token: string): Promise<Principal> {
    const known = this.remembered(token);
    if (known) return known;
    if (this.config.jwksFile) await this.refreshFile(false);
    let payload: JWTPayload;
    try {
      payload = await this.verifyOnce(token);
    } catch (err) {
      // A kid the file lacks: the file may have been rotated since it was last read.
      if (
        (err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY' &&
        this.config.jwksFile &&
        (await this.refreshFile(true))
      ) {
        try {
          payload = await this.verifyOnce(token);
        } catch (again) {
          throw refusal(again, false);
        }
      } else {
        throw refusal(err, this.config.jwksUrl !== '');
      }
    }
    const principal = this.principalOf(payload);
    const untilMs = Math.min(this.now() + CACHE_TTL_MS, payload.exp! * 1000);
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, { principal, untilMs });
    return principal;
  }

  private verifyOnce(token: string): Promise<JWTPayload> {
    const c = this.config;
    return jwtVerify(token, this.getKey, {
      issuer: c.issuer,
      audience: c.audience,
      algorithms: [...c.algorithms],
      clockTolerance: c.clockToleranceSec,
      requiredClaims: ['exp'],
    }).then((r) => r.payload);
  }

  private principalOf(payload: JWTPayload): Principal {
    const c = this.config;
    const claim = payload[c.roleClaim];
    const values = (Array.isArray(claim) ? claim : [claim]).filter((v): v is string => typeof v === 'string');
    // Several values (a groups claim): the strongest role any of them maps to.
    const roles = values
      .map((v) =>
        Object.hasOwn(c.roles, v) ? c.roles[v] : (ROLES as readonly string[]).includes(v) ? (v as Role) : undefined,
      )
      .filter((r): r is Role => r !== undefined);
    if (!roles.length) {
      throw errors.unauthenticated(
        `the bearer token's '${c.roleClaim}' claim names no role this server knows (${[...ROLES, ...Object.keys(c.roles)].join(', ')}); ask its issuer for one`,
      );
    }
    const role = ROLES.find((r) => roles.includes(r))!;
    const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub.slice(0, 64) : 'unnamed';
    return { role, name: `jwt:${sub}` };
  }

  /** Re-reads the JWKS file when it changed; `soon`: look now unless looked at within FILE_RECHECK_MS. True if re-read. */
  private async refreshFile(soon: boolean): Promise<boolean> {
    const since = this.now() - this.fileCheckedMs;
    if (since < (soon ? FILE_RECHECK_MS : this.config.refreshMs)) return false;
    this.fileCheckedMs = this.now();
    try {
      const s = await stat(this.config.jwksFile);
      if (s.mtimeMs === this.fileMtimeMs) return false;
      const text = await readFile(this.config.jwksFile, 'utf8');
      this.getKey = localSet(this.config.jwksFile, text);
      this.fileMtimeMs = s.mtimeMs;
      return true;
    } catch {
      return false; // half-written or gone for a moment: keep the keys read last
    }
  }
}

function localSet(file: string, text: string): JWTVerifyGetKey {
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(text) as JSONWebKeySet;
    return createLocalJWKSet(jwks);
  } catch (err) {
    throw errors.jwksUnreadable(file, (err as Error).message);
  }
}

/**
 * jose's error → our UNAUTHENTICATED with the reason an operator can act on (never the token). `remote`: keys come
 * from jwksUrl, where a fetch can fail.
 */
function refusal(err: unknown, remote: boolean): MocError {
  if (err instanceof MocError) return err;
  const e = err as { code?: string; claim?: string; message?: string };
  // The JWKS URL did not answer (timeout, refused, not 200): the token may be fine, the identity provider is not.
  if (remote && (e.code === 'ERR_JWKS_TIMEOUT' || e.code === 'ERR_JOSE_GENERIC' || err instanceof TypeError)) {
    return errors.unavailable(`the JWKS URL (auth.jwt.jwksUrl) could not be read (${e.message ?? e.code})`, 5000);
  }
  const why: Record<string, string> = {
    ERR_JWT_EXPIRED: 'the bearer token has expired; get a new one from its issuer',
    ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "the bearer token's signature does not verify against the configured JWKS",
    ERR_JWKS_NO_MATCHING_KEY: "no key in the configured JWKS matches the bearer token's kid and algorithm",
    ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'several keys in the JWKS match the bearer token; give it a kid',
    ERR_JOSE_ALG_NOT_ALLOWED: "the bearer token's algorithm is not in auth.jwt.algorithms",
    ERR_JWT_CLAIM_VALIDATION_FAILED: `the bearer token's '${e.claim ?? '?'}' claim is not accepted (${e.message ?? ''})`,
  };
  return errors.unauthenticated(
    why[e.code ?? ''] ?? `the bearer token is not a valid signed JWT (${e.code ?? 'malformed'})`,
  );
}
