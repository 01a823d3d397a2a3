/**
 * Config loading: YAML text → ${VAR:default} substitution → defaults → TypeBox validation (every bad field reported
 * in one error) → cross-field checks → sizes in bytes, absolute paths → deep-frozen. Workers get it as plain data.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Value } from '@sinclair/typebox/value';
import { TypeCompiler, ValueErrorType } from '@sinclair/typebox/compiler';
import { ConfigSchema, type Config, type ConfigInput, type ResolvedDevice } from '../schemas/config.js';
import { isLoopback } from './auth/keys.js';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const check = TypeCompiler.Compile(ConfigSchema);

/** `${VAR}` and `${VAR:default}`; `$${` escapes a literal `${`. Unset without default is an error, not "". */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv, problems: string[]): string {
  return text.replace(
    /(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}/g,
    (whole, escaped: string, name: string, def?: string) => {
      if (escaped) return whole.slice(1);
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      problems.push(`\${${name}} is not set and has no default; set it or write \${${name}:default}`);
      return '';
    },
  );
}

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(v);
  if (!m) throw new Error(`bad size '${v}'`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'B').toUpperCase()]!);
}

/** Levenshtein distance, for "did you mean" hints on misspelled keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** The part of a JSON schema this walk reads (any schema is one: the other keywords are left alone). */
interface SchemaNode {
  [keyword: string]: unknown;
  type?: unknown;
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
}

function schemaAt(pointer: string): SchemaNode | undefined {
  let s: SchemaNode | undefined = ConfigSchema;
  for (const part of pointer.split('/').filter(Boolean)) {
    if (s?.type === 'array') s = s.items;
    else s = s?.properties?.[part];
  }
  return s;
}

function describeErrors(input: unknown): string[] {
  const out: string[] = [];
  for (const e of check.Errors(input)) {
    const where = e.path || '/';
    // An unknown key (misspelled or removed): name it and suggest the closest known key.
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      const parent = e.path.slice(0, e.path.lastIndexOf('/'));
      const key = e.path.slice(e.path.lastIndexOf('/') + 1);
      const known = Object.keys((schemaAt(parent)?.properties ?? {}) as object);
      const best = known
        .map((k) => [k, distance(k.toLowerCase(), key.toLowerCase())] as const)
        .sort((a, b) => a[1] - b[1])[0];
      const hint = best && best[1] <= 3 ? `; did you mean '${best[0]}'?` : `; known keys: ${known.join(', ')}`;
      out.push(`${e.path}: unknown key${hint}`);
      continue;
    }
    out.push(
      `${where}: ${e.message}${e.value !== undefined && typeof e.value !== 'object' ? ` (got ${JSON.stringify(e.value)})` : ''}`,
    );
  }
  return [...new Set(out)];
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Validate a parsed config object. baseDir anchors relative paths (the config file's folder, or cwd). */
export function resolveConfig(raw: unknown, opts: { baseDir?: string; source?: string | null } = {}): Config {
  const source = opts.source ?? null;
  const label = source ?? 'built-in defaults';
  const input = Value.Default(ConfigSchema, structuredClone(raw ?? {})) as ConfigInput;
  const problems = describeErrors(input);
  if (problems.length) throw new ConfigError(label, problems);

  const base = opts.baseDir ?? process.cwd();
  const devices: ResolvedDevice[] = input.devices.map((d, i) => {
    const memory = parseSize(d.memory);
    const softLimit = d.softLimit === undefined ? Math.floor(memory * 0.9) : parseSize(d.softLimit);
    if (softLimit > memory)
      problems.push(`/devices/${i}/softLimit: ${softLimit} bytes is above memory (${memory} bytes)`);
    if (memory === 0) problems.push(`/devices/${i}/memory: must be above 0`);
    return { ...d, memory, softLimit };
  });
  const ids = new Set<string>();
  devices.forEach((d, i) => {
    if (ids.has(d.id)) problems.push(`/devices/${i}/id: '${d.id}' is used twice; device ids must be unique`);
    ids.add(d.id);
  });
  const names = new Set<string>();
  input.models.forEach((m, i) => {
    if (names.has(m.name)) problems.push(`/models/${i}/name: '${m.name}' is used twice`);
    names.add(m.name);
    if (m.device !== undefined && !ids.has(m.device)) {
      problems.push(`/models/${i}/device: '${m.device}' is not a configured device (${[...ids].join(', ')})`);
    }
  });
  const tls = input.tls;
  if (!!tls.certFile !== !!tls.keyFile)
    problems.push('/tls: certFile and keyFile go together (the certificate and its private key)');
  if (tls.clientCaFile && !tls.certFile)
    problems.push('/tls/clientCaFile: client certificates need TLS itself: set certFile and keyFile');
  if (tls.requireClientCert && !tls.clientCaFile)
    problems.push('/tls/requireClientCert: set clientCaFile, the CA that signs the client certificates');
  if (tls.clientRoles.length && !tls.clientCaFile)
    problems.push('/tls/clientRoles: set clientCaFile, or no client certificate is ever verified');
  if (tls.requireClientCert && input.rest.enabled) {
    problems.push(
      '/tls/requireClientCert: REST (uWebSockets.js 20.30) cannot require client certificates: set rest.enabled: false, or terminate mutual TLS for REST in a proxy in front',
    );
  }
  const jwt = input.auth.jwt;
  if (jwt.jwksFile && jwt.jwksUrl) problems.push('/auth/jwt: set jwksFile or jwksUrl, not both');
  if (jwt.jwksFile || jwt.jwksUrl) {
    if (!jwt.issuer)
      problems.push("/auth/jwt/issuer: required with JWT (the 'iss' your identity provider puts in its tokens)");
    if (!jwt.audience)
      problems.push(
        "/auth/jwt/audience: required with JWT (the 'aud' of tokens meant for this server), so a token for another service is refused",
      );
  }
  if (jwt.jwksUrl) {
    let u: URL | undefined;
    try {
      u = new URL(jwt.jwksUrl);
    } catch {
      problems.push(`/auth/jwt/jwksUrl: '${jwt.jwksUrl}' is not a URL`);
    }
    if (u && u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname.replace(/^\[|\]$/g, '')))) {
      problems.push(
        '/auth/jwt/jwksUrl: must be https (plain http only on a loopback host): the keys decide who is admin',
      );
    }
  }
  if (problems.length) throw new ConfigError(label, problems);

  return deepFreeze({
    ...input,
    devices,
    dataDir: path.resolve(base, input.dataDir),
    modelsRoot: path.resolve(base, input.modelsRoot),
    // Relative to the config file, as dataDir and modelsRoot are.
    auth: { ...input.auth, jwt: { ...jwt, jwksFile: jwt.jwksFile && path.resolve(base, jwt.jwksFile) } },
    tls: {
      ...tls,
      ...Object.fromEntries(
        (['certFile', 'keyFile', 'clientCaFile'] as const).map((k) => [k, tls[k] && path.resolve(base, tls[k])]),
      ),
    },
    jobs: {
      ...input.jobs,
      datasetsRoot: input.jobs.datasetsRoot
        ? path.resolve(base, input.jobs.datasetsRoot)
        : path.resolve(base, input.dataDir, 'datasets'),
    },
    source,
  });
}

/** Load from a YAML file (or zero config when file is undefined), substituting ${VAR:default} from env first. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  if (!file) return resolveConfig({}, { source: null });
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [`cannot read the file: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const substituted = substituteEnv(text, env, problems);
  let raw: unknown;
  try {
    raw = parseYaml(substituted) ?? {};
  } catch (err) {
    problems.push(`not valid YAML: ${(err as Error).message}`);
  }
  if (problems.length) throw new ConfigError(abs, problems);
  return resolveConfig(raw, { baseDir: path.dirname(abs), source: abs });
}
