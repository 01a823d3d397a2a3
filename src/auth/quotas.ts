/**
 * Per-key budgets (auth.quotas): token buckets of requests a second and of generated tokens a minute, one pair per
 * key name, shared by every transport (a key's gRPC, REST and ZMQ requests draw on the same buckets). Checked on the
 * main thread before a request is handed to the router, so an agent over its budget costs the others nothing.
 *
 * Generated tokens are known only once a generation ends: a request is admitted while the key's token bucket is above
 * zero and its generation is charged afterwards, so the bucket may go below zero (as OpenAI's and most gateways'
 * token limits do); the key then waits until it has refilled above zero.
 */
import type { Config, QuotaSpec } from '../../schemas/config.js';
import { errors } from '../errors.js';
import type { Principal } from './keys.js';

interface Bucket {
  level: number;
  at: number;
}

/** Forgotten after this long untouched: a bucket idle this long is full again anyway. */
const IDLE_FORGET_MS = 10 * 60_000;

export class Quotas {
  private readonly requests = new Map<string, Bucket>();
  private readonly tokens = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly config: Config['auth']['quotas'],
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether any budget is configured at all (transports skip the lookup of the caller otherwise). */
  get enabled(): boolean {
    return Object.keys(this.config.roles).length > 0 || Object.keys(this.config.keys).length > 0;
  }

  private specOf(p: Principal): QuotaSpec | undefined {
    return this.config.keys[p.name] ?? this.config.roles[p.role];
  }

  /**
   * Takes one request from the key's budget, or throws MOC_ERR_RATE_LIMITED with the wait. `generates`: the request
   * will generate tokens (inference), so the key's token budget must be above zero too.
   */
  admit(p: Principal, generates: boolean): void {
    const q = this.specOf(p);
    if (!q) return;
    const now = this.now();
    this.sweep(now);
    if (generates && q.tokensPerMinute) {
      const b = this.refill(this.tokens, p.name, q.tokensPerMinute, q.tokensPerMinute / 60_000, now);
      if (b.level <= 0) {
        throw errors.rateLimited(
          p.name,
          `${q.tokensPerMinute} generated tokens a minute`,
          Math.ceil((-b.level + 1) / (q.tokensPerMinute / 60_000)),
        );
      }
    }
    if (q.requestsPerSecond) {
      const burst = q.burst ?? Math.max(1, Math.ceil(q.requestsPerSecond));
      const b = this.refill(this.requests, p.name, burst, q.requestsPerSecond / 1000, now);
      if (b.level < 1) {
        throw errors.rateLimited(
          p.name,
          `${q.requestsPerSecond} requests a second (burst ${burst})`,
          Math.ceil((1 - b.level) / (q.requestsPerSecond / 1000)),
        );
      }
      b.level -= 1;
    }
  }

  /** Charges a finished generation to the key's token budget. */
  charge(p: Principal, generated: number): void {
    const q = this.specOf(p);
    if (!q?.tokensPerMinute || generated <= 0) return;
    const b = this.refill(this.tokens, p.name, q.tokensPerMinute, q.tokensPerMinute / 60_000, this.now());
    b.level -= generated;
  }

  /** The key's bucket, refilled for the time since it was last touched (full when new). */
  private refill(map: Map<string, Bucket>, key: string, capacity: number, perMs: number, now: number): Bucket {
    let b = map.get(key);
    if (!b) map.set(key, (b = { level: capacity, at: now }));
    b.level = Math.min(capacity, b.level + (now - b.at) * perMs);
    b.at = now;
    return b;
  }

  /** Buckets of keys not seen for a while go (a key ring can be large; a full bucket needs no entry). */
  private sweep(now: number): void {
    if (now - this.lastSweep < IDLE_FORGET_MS) return;
    this.lastSweep = now;
    for (const map of [this.requests, this.tokens]) {
      for (const [k, b] of map) if (now - b.at > IDLE_FORGET_MS && b.level >= 0) map.delete(k);
    }
  }
}
