/**
 * The one config schema. Every key MOC reads is declared here, with its default; unknown keys are errors
 * (additionalProperties: false) so a misspelling fails at start instead of being silently ignored.
 * src/config.ts loads YAML, substitutes ${VAR:default}, validates against this, and deep-freezes the result.
 */
import { Type, type Static } from '@sinclair/typebox';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
/** Byte sizes accept an integer or a string with a binary/decimal unit: 512MiB, 2GiB, 1.5GB. */
export const Size = Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*([KMGT]i?B|B)?\\s*$' }),
]);
export const ModelName = Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' });
export const DeviceId = Type.String({ pattern: '^[a-z0-9_-]{1,32}$' });

/** Per-model defaults, shared by the config file and LoadModel requests that leave them out. */
export const DEFAULT_CONTEXT_SIZE = 512;
export const DEFAULT_SEQUENCES = 8;

/** One key's budget: requests a second (a bucket of `burst`, default the rate rounded up) and generated tokens a minute. */
export const Quota = Type.Object(
  {
    requestsPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    burst: Type.Optional(Type.Integer({ minimum: 1 })),
    tokensPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type QuotaSpec = Static<typeof Quota>;

export const DeviceConfig = Type.Object(
  {
    id: DeviceId,
    kind: Type.Union([Type.Literal('cpu'), Type.Literal('cuda'), Type.Literal('vulkan')], { default: 'cpu' }),
    /** GPU index on the host; the engine process gets CUDA_VISIBLE_DEVICES / GGML_VK_VISIBLE_DEVICES = index. */
    index: Type.Integer({ minimum: 0, default: 0 }),
    /** Hard limit of the memory ledger: loads that would pass it are refused. On cpu devices this is a slice of RAM. */
    memory: Size,
    /** Soft limit (eviction starts above it, lifecycle issue); defaults to 90% of memory. */
    softLimit: Type.Optional(Size),
    /** llama.cpp threads per context. FACTS: 1 is ~20x faster than 2 on a 2-core host; measure before raising. */
    threads: Type.Integer({ minimum: 1, maximum: 256, default: 1 }),
    /** Messages waiting for the device actor; a full mailbox answers MOC_ERR_BUSY. */
    mailboxCapacity: Type.Integer({ minimum: 1, default: 1024 }),
    /** Inference requests waiting for a free sequence, per model; past it MOC_ERR_BUSY. */
    maxQueue: Type.Integer({ minimum: 1, default: 512 }),
  },
  { additionalProperties: false },
);

export const ModelConfig = Type.Object(
  {
    name: ModelName,
    /** GGUF file, relative to modelsRoot. */
    path: Type.String({ minLength: 1 }),
    /**
     * Device id to place it on; default: placement chooses (actors/lifecycle/placement.ts): best fit under the soft
     * limit, else the device needing the fewest bytes of LRU eviction.
     */
    device: Type.Optional(DeviceId),
    /** Tokens per sequence (prompt + generated). */
    contextSize: Type.Integer({ minimum: 16, maximum: 1048576, default: DEFAULT_CONTEXT_SIZE }),
    /** Parallel sequences of the model's one context: concurrent requests are batched into them. */
    sequences: Type.Integer({ minimum: 1, maximum: 256, default: DEFAULT_SEQUENCES }),
    preload: Type.Boolean({ default: true }),
    pinned: Type.Boolean({ default: false }),
    /** Idle time before unloading; -1 (default for configured models): never. */
    keepAliveMs: Type.Integer({ minimum: -1, maximum: 2147483647, default: -1 }),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        grpcPort: Type.Integer({ ...Port, default: 7212 }),
        /** gRPC messages above this are refused by grpc-js itself (RESOURCE_EXHAUSTED). */
        maxMessageBytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024 }),
        /** Requests the router has admitted and not yet answered, from every transport; past it MOC_ERR_BUSY at once. */
        mailboxCapacity: Type.Integer({ minimum: 1, default: 4096 }),
        /**
         * gRPC keepalive pings to idle connections, and how long one may go unanswered before the connection is dropped.
         * They also reclaim connections Node's http2 abandoned silently (a header field over 64 KiB; see grpc/server.ts).
         */
        grpcKeepaliveMs: Type.Integer({ minimum: 1000, default: 15_000 }),
        grpcKeepaliveTimeoutMs: Type.Integer({ minimum: 1000, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The operators' REST API on uWebSockets.js. */
    rest: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        port: Type.Integer({ ...Port, default: 8008 }),
        /** uWS has no body cap of its own: bodies above this get 413 as soon as the cap is passed. */
        maxBodyBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
        /** URLs (path + query) above this get 414. */
        maxUrlBytes: Type.Integer({ minimum: 64, default: 4096 }),
        /** Any one header value above this gets 431. */
        maxHeaderBytes: Type.Integer({ minimum: 256, default: 8192 }),
        /** Origins allowed to call from a browser (exact match, or "*"); empty: no CORS headers at all. */
        corsOrigins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        /** Seconds a client should wait after a 429/503 (Retry-After), when the error carries no hint of its own. */
        retryAfterSeconds: Type.Integer({ minimum: 1, default: 1 }),
        /**
         * An SSE stream with more than 256 KiB unsent whose reader takes none of it for this long is cut and its work
         * cancelled (src/transports/rest/sse.ts); a reader that reads is never cut, however large an event.
         */
        sseStallMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
        /**
         * Plaintext REST only: a Node listener in front of uWS reads each connection's first request head, so HTTP/1.0
         * requests are served and an HTTP/1.1 request without Host gets 400 (uWS 20.30 answers neither: the connection
         * hangs). false: uWS on the port directly — faster for small requests, for clients that all send HTTP/1.1 + Host.
         */
        front: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The legacy agents' JSON (or msgpack) protocol on a ZeroMQ ROUTER socket (docs/zmq-protocol.md). */
    zmq: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        port: Type.Integer({ ...Port, default: 7211 }),
        /** Requests above this get a TOO_LARGE reply. */
        maxMessageBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
        /**
         * libzmq's own cap (ZMQ_MAXMSGSIZE): a peer sending more is disconnected without a reply (libzmq cannot read
         * the message to answer it). 0: 4 × maxMessageBytes.
         */
        hardMaxMessageBytes: Type.Integer({ minimum: 0, default: 0 }),
        /** ZMTP heartbeats: a peer silent for heartbeatTimeoutMs is dropped (its pending replies are discarded). */
        heartbeatIntervalMs: Type.Integer({ minimum: 0, default: 5000 }),
        heartbeatTimeoutMs: Type.Integer({ minimum: 0, default: 15_000 }),
        /** A write action re-sent with the same request_id within this window gets the first answer (Lazy Pirate retries). */
        idempotencyWindowMs: Type.Integer({ minimum: 0, default: 300_000 }),
        /** Remembered answers, oldest dropped first. */
        idempotencyMaxEntries: Type.Integer({ minimum: 1, default: 10_000 }),
        /** Outgoing messages queued per peer before a reply to it counts as undeliverable (never blocks the socket). */
        sendHighWaterMark: Type.Integer({ minimum: 1, default: 1000 }),
        /** CURVE encryption; clients are authenticated by public key against allowedClientKeys (ZAP). */
        curve: Type.Object(
          {
            enabled: Type.Boolean({ default: false }),
            /** Z85 (40 characters). Generate a pair with `npx tsx src/tools/curve-keypair.ts`. */
            publicKey: Type.String({ default: '' }),
            secretKey: Type.String({ default: '' }),
            /** Z85 public keys of the clients allowed to connect. Empty with CURVE on: nobody can connect. */
            allowedClientKeys: Type.Array(Type.String({ minLength: 40, maxLength: 40 }), { default: [] }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * API keys and roles, the same on every transport. `admin`: everything; `infer`: inference and reads.
     * Keys come from `keys`, from `keysFile` (one `role:key` or `role:name:key` per line, # comments) and from the
     * MOC_API_KEYS environment variable (comma-separated, same form). With no keys, the server runs open and only
     * on a loopback host; `required: true` refuses to start without keys.
     */
    auth: Type.Object(
      {
        required: Type.Boolean({ default: false }),
        keys: Type.Array(
          Type.Object(
            {
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
              role: Type.Union([Type.Literal('admin'), Type.Literal('trainer'), Type.Literal('infer')]),
              key: Type.String({ minLength: 16, maxLength: 256 }),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        keysFile: Type.String({ default: '' }),
        /**
         * Per-key rate limits and quotas (token buckets), so one misbehaving agent cannot starve the others even below
         * the queue bounds. `roles` applies to every key of a role (the open demo mode counts as one `admin` key);
         * `keys` (by key name) replaces its role's entry for that key. Absent: unlimited. Refusals are
         * MOC_ERR_RATE_LIMITED (429, RESOURCE_EXHAUSTED, RATE_LIMITED) with the wait in retryAfterMs (docs/operations.md).
         */
        quotas: Type.Object(
          {
            roles: Type.Object(
              { admin: Type.Optional(Quota), trainer: Type.Optional(Quota), infer: Type.Optional(Quota) },
              { additionalProperties: false, default: {} },
            ),
            keys: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Quota, { default: {} }),
          },
          { additionalProperties: false, default: {} },
        ),
        /**
         * JWT bearer tokens in place of static keys (`Authorization: Bearer <jwt>`, or the api_key field on ZMQ), verified
         * against a JSON Web Key Set: `jwksFile` (re-read when it changes) or `jwksUrl` (https, or http on loopback;
         * fetched and cached). issuer and audience are required and checked; so is `exp`. The `roleClaim` claim (a
         * string or a list) names the role: admin, trainer, infer, or a name `roles` maps to one. The caller's name is
         * `jwt:<sub>` (logs, job owners, auth.quotas.keys). Off while neither jwksFile nor jwksUrl is set.
         */
        jwt: Type.Object(
          {
            jwksFile: Type.String({ default: '' }),
            jwksUrl: Type.String({ default: '' }),
            issuer: Type.String({ default: '' }),
            audience: Type.String({ default: '' }),
            roleClaim: Type.String({ minLength: 1, default: 'role' }),
            roles: Type.Record(
              Type.String({ minLength: 1 }),
              Type.Union([Type.Literal('admin'), Type.Literal('trainer'), Type.Literal('infer')]),
              { default: {} },
            ),
            /** Asymmetric algorithms only: a shared HMAC secret would let every verifier mint tokens. */
            algorithms: Type.Array(
              Type.Union(
                [
                  'RS256',
                  'RS384',
                  'RS512',
                  'PS256',
                  'PS384',
                  'PS512',
                  'ES256',
                  'ES384',
                  'ES512',
                  'EdDSA',
                  'Ed25519',
                ].map((a) => Type.Literal(a)),
              ),
              { minItems: 1, default: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'] },
            ),
            clockToleranceSec: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
            /** How often a jwksFile is looked at for changes (and at once when a token names a kid it lacks). */
            refreshMs: Type.Integer({ minimum: 1000, default: 60_000 }),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * TLS for gRPC and REST (ZMQ has CURVE). certFile + keyFile (PEM): the server's identity; gRPC re-reads them (and
     * clientCaFile) every refreshMs, so a rotated certificate is served without a restart. clientCaFile: gRPC clients
     * may present a certificate signed by it (mutual TLS), required with requireClientCert; a verified certificate
     * whose subject matches a clientRoles entry authenticates its caller as that role, in place of an API key.
     */
    tls: Type.Object(
      {
        certFile: Type.String({ default: '' }),
        keyFile: Type.String({ default: '' }),
        clientCaFile: Type.String({ default: '' }),
        requireClientCert: Type.Boolean({ default: false }),
        refreshMs: Type.Integer({ minimum: 1000, default: 60_000 }),
        /** `subject`: the fields the certificate's subject must have, as `CN=agent-1` or `CN=agent-1,O=acme`. */
        clientRoles: Type.Array(
          Type.Object(
            {
              subject: Type.String({ minLength: 3 }),
              role: Type.Union([Type.Literal('admin'), Type.Literal('trainer'), Type.Literal('infer')]),
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    dataDir: Type.String({ default: './data' }),
    /**
     * Where jobs, goals, feedback and their event log live: `lmdb` (the default: in dataDir, one host) or `postgres`
     * (many hosts sharing one database; docs/fleet.md). The model catalog and aliases stay in dataDir either way.
     */
    store: Type.Union(
      [
        Type.Object({ kind: Type.Literal('lmdb') }, { additionalProperties: false }),
        Type.Object(
          {
            kind: Type.Literal('postgres'),
            /** postgres://user:password@host:port/db (the password is never logged). */
            url: Type.String({ pattern: '^postgres(ql)?://' }),
            /** Connections in the pool: writes in flight at once. */
            poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
            /** Other hosts' changes are read at least this often (a NOTIFY makes it at once). */
            pollMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
          },
          { additionalProperties: false },
        ),
      ],
      { default: { kind: 'lmdb' } },
    ),
    /** This host in the fleet registry (docs/fleet.md): how it names itself, where it is reached, how often it says so. */
    fleet: Type.Object(
      {
        /** Unique in the fleet. '' (default): the machine's hostname. */
        hostId: Type.String({ default: '', maxLength: 128 }),
        /** Addresses clients reach it at (host:port), published as they are; '' for none. */
        advertise: Type.Object(
          {
            grpc: Type.String({ default: '' }),
            rest: Type.String({ default: '' }),
            zmq: Type.String({ default: '' }),
          },
          { additionalProperties: false, default: {} },
        ),
        heartbeatMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 3000 }),
        /** The whole record at least this often even when nothing changed (between: only what changed). */
        fullEveryMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The only folder models are loaded from; paths that resolve outside it are refused. */
    modelsRoot: Type.String({ default: './models' }),
    devices: Type.Array(DeviceConfig, { minItems: 1, default: [{ id: 'cpu0', kind: 'cpu', memory: '2GiB' }] }),
    /** Models to register (and preload). Empty: the built-in demo model is generated and preloaded. */
    models: Type.Array(ModelConfig, { default: [] }),
    limits: Type.Object(
      {
        maxPromptBytes: Type.Integer({ minimum: 1, default: 64 * 1024 }),
        defaultMaxTokens: Type.Integer({ minimum: 1, default: 64 }),
        /** Server-side ceiling on a request that carries no deadline of its own. */
        requestTimeoutMs: Type.Integer({ minimum: 1, default: 120_000 }),
        /** Ceiling on a load (engine start + model read + context). */
        loadTimeoutMs: Type.Integer({ minimum: 1, default: 120_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    lifecycle: Type.Object(
      {
        /** Keep-alive of models registered or loaded at run time without one (Ollama's default: 5 minutes). */
        defaultKeepAliveMs: Type.Integer({ minimum: -1, maximum: 2147483647, default: 300_000 }),
        /** Consecutive load failures that open a model's circuit breaker (loads then fail fast). */
        breakerFailures: Type.Integer({ minimum: 1, default: 3 }),
        /** Time an open breaker waits before one trial load (half-open). */
        breakerCooldownMs: Type.Integer({ minimum: 0, default: 30_000 }),
        /**
         * Two busy models that do not fit together take turns (docs/models.md): once loaded, a model keeps serving at
         * least this long before it drains for one waiting. A swap costs a load, 30-100 s for real models: serving
         * at least as long as the cheapest such load keeps a contended device loading half its time or less, and a
         * waiting request's added wait well under maxWaitMs.
         */
        minResidencyMs: Type.Integer({ minimum: 0, default: 30_000 }),
        /**
         * How long a request may wait for its model to be loaded (a pending swap, then the load) before it is
         * answered MOC_ERR_MODEL_WAIT_EXCEEDED. Below server.requestTimeoutMs (120 s), so that a request without a
         * deadline of its own gets this answer, which says why, rather than a bare deadline; room for a residency, a
         * drain and a load of about a minute.
         */
        maxWaitMs: Type.Integer({ minimum: 1, default: 100_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Learning jobs (docs/jobs.md). */
    jobs: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** Jobs this process runs at once; more wait in the queue. */
        parallelism: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
        /** Each agingMs a job waits raises its priority by one, so low priorities are never starved. */
        agingMs: Type.Integer({ minimum: 1, default: 60_000 }),
        /** A running job's lease; renewed every leaseMs/3 while it runs. A process that dies loses its jobs when it passes. */
        leaseMs: Type.Integer({ minimum: 1000, default: 15_000 }),
        /** How often the store is looked at for jobs other processes submitted and leases that expired. */
        pollMs: Type.Integer({ minimum: 10, default: 1000 }),
        /** Attempts of a job that fails retryably (its process died, a device restarted) unless the submit says. */
        defaultMaxAttempts: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
        /** Dataset files are read and written only inside this folder. Default: <dataDir>/datasets. */
        datasetsRoot: Type.String({ default: '' }),
        /** Lines of a job's log kept in its record. */
        logTailLines: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
        /**
         * Trainers for fine-tune jobs, by name: an argv template (no shell). Placeholders: {node} (this Node binary),
         * {package} (MOC's install folder), {base} (the base model's GGUF), {data} (the dataset), {out} (where the
         * trained GGUF goes), {job} (job id), {param.NAME} / {param.NAME:default} (the job's params). The built-in `demo`
         * trainer is a stand-in that learns nothing (docs/jobs.md).
         */
        trainers: Type.Record(
          Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
          Type.Object(
            {
              command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
              /** A run longer than this is stopped (SIGTERM, then SIGKILL after graceMs) and fails. */
              timeoutMs: Type.Integer({ minimum: 1000, default: 3_600_000 }),
              graceMs: Type.Integer({ minimum: 0, default: 10_000 }),
            },
            { additionalProperties: false },
          ),
          { default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Feedback on inference, for RLHF datasets (docs/jobs.md). */
    feedback: Type.Object(
      {
        /**
         * Keep each served inference's prompt and answer by request id, in memory, so feedback can refer to it by id.
         * Off by default: prompts can be sensitive. Nothing of it is written to disk unless a feedback record quotes it.
         */
        recordInferences: Type.Boolean({ default: false }),
        /** Inferences kept (oldest dropped first). */
        maxRecords: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    supervisor: Type.Object(
      {
        /** Restart intensity: more than maxRestarts restarts within periodMs escalates (root: exit 1). */
        maxRestarts: Type.Integer({ minimum: 0, default: 5 }),
        periodMs: Type.Integer({ minimum: 1, default: 60_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    shutdown: Type.Object(
      {
        /** SIGTERM/SIGINT: time in-flight requests get to finish before they are cancelled. */
        graceMs: Type.Integer({ minimum: 0, default: 10_000 }),
        /**
         * SIGTERM/SIGINT: time between readiness turning false (/health/ready, gRPC health) and the listeners closing,
         * while requests are still served, so a balancer stops sending before anything is refused. Behind a balancer,
         * set it above the balancer's health-check interval times its fall count (docs/health.md); 0: close at once.
         */
        drainMs: Type.Integer({ minimum: 0, default: 0 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * The prompt (KV) cache (docs/models.md): a model's sequences keep the tokens they evaluated, and a request starts
     * on the free sequence holding the longest prefix of its prompt, evaluating only the rest (llama-server's
     * cache_prompt). `scope: caller`: a sequence's tokens are reused only by requests of the caller that filled it (API
     * key name or JWT subject; one caller without keys), since a cache hit is faster and would otherwise let one tenant
     * time another's prompts; `shared`: every caller's requests reuse every prefix (single-tenant deployments).
     */
    promptCache: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        scope: Type.Union([Type.Literal('caller'), Type.Literal('shared')], { default: 'caller' }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Prometheus metrics (docs/metrics.md): always on `GET /metrics` of the REST port. */
    metrics: Type.Object(
      {
        /** Also serve `GET /metrics` on this port of its own (server.host), e.g. for a scrape-only network policy; 0: any free port. */
        port: Type.Optional(Port),
      },
      { additionalProperties: false, default: {} },
    ),
    /** The structured log on stderr (docs/logging.md). MOC_LOG_LEVEL, when set, overrides level. */
    log: Type.Object(
      {
        /** Lines below this level are not written. */
        level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
          default: 'info',
        }),
        /** Log prompts/texts (and keys) in debug lines as given; off, they are removed from every line. Never enable in production. */
        sensitive: Type.Boolean({ default: false }),
        /** One `request` line per answered request at info (transport, operation, code, duration, model, ids). */
        requests: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    debug: Type.Object(
      {
        /** Enables the fault-injection messages the supervision tests use. Never enable in production. */
        faultInjection: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type ConfigInput = Static<typeof ConfigSchema>;
export type DeviceConfigInput = Static<typeof DeviceConfig>;
export type ModelConfigInput = Static<typeof ModelConfig>;

/** Config after validation: sizes are bytes, paths are absolute. */
export interface ResolvedDevice extends Omit<DeviceConfigInput, 'memory' | 'softLimit'> {
  memory: number;
  softLimit: number;
}
export interface Config extends Omit<ConfigInput, 'devices'> {
  devices: ResolvedDevice[];
  /** Absolute path of the file it came from, or null for zero config. */
  source: string | null;
}
