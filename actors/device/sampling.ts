/**
 * How a generation samples, shared by the completion path (engine-core.ts) and the chat-with-tools path
 * (tool-calls.ts): temperature, top_p, penalties, seed, a token bias (OpenAI's logit_bias, with the model's own token
 * ids) and a grammar for JSON answers (`response_format`). A JSON answer is sampled under a grammar — llama.cpp's JSON
 * grammar, or one node-llama-cpp makes from the JSON Schema — so the model cannot write anything else; it stops when
 * the JSON is complete (or at max_tokens, cut, as OpenAI's are).
 */
import {
  LlamaJsonSchemaGrammar,
  TokenBias,
  type GbnfJsonSchema,
  type Llama,
  type LlamaGrammar,
  type LlamaModel,
} from 'node-llama-cpp';
import { errors } from '../../src/errors.js';
import type { LogitBias, ResponseFormat } from '../../schemas/messages.js';
import type { GenerateParams } from './engine-protocol.js';

/** OpenAI's JSON Schema as node-llama-cpp's grammar schema: `anyOf` is its `oneOf`; the rest it reads as is. */
export function grammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(grammarSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k === 'anyOf' ? 'oneOf' : k] = k === 'enum' || k === 'const' ? v : grammarSchema(v);
  return out;
}

/**
 * The JSON Schema keywords a grammar holds output to (node-llama-cpp's GbnfJsonSchema), and annotations that constrain
 * nothing. Anything else (pattern, minimum, allOf, …) is refused by name rather than silently not enforced.
 */
const HELD = new Set([
  'type',
  'enum',
  'const',
  'oneOf',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'format',
  '$ref',
  '$defs',
]);
const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples', '$schema', '$id', '$comment']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
const FORMATS = new Set(['date-time', 'time', 'date']);
const REF_PREFIX = '#/$defs/';

/**
 * Refuses a schema the grammar would not hold output to, naming the keyword and where it is. `defs` are the names of
 * the `$defs` in scope: node-llama-cpp resolves `$ref: "#/$defs/<name>"` against the `$defs` of the node and of its
 * ancestors, and turns any other reference into "any JSON" with only a console warning — so that is refused here.
 */
export function checkSchema(schema: unknown, field: string, at = '', defs: ReadonlySet<string> = new Set()): void {
  const where = at || '(the root)';
  if (
    schema === true ||
    (typeof schema === 'object' && schema !== null && !Array.isArray(schema) && Object.keys(schema).length === 0)
  )
    return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw errors.invalidArgument(field, `at ${where}: a schema must be an object`);
  const s = schema as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!HELD.has(key) && !ANNOTATIONS.has(key)) {
      throw errors.invalidArgument(
        field,
        `'${key}' at ${where} is not supported (answers are generated under a grammar that cannot hold it); supported: ${[...HELD].join(', ')}`,
      );
    }
  }
  for (const t of Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type]) {
    if (!TYPES.has(t as string))
      throw errors.invalidArgument(field, `type ${JSON.stringify(t)} at ${where} is not a JSON Schema type`);
  }
  if (s.format !== undefined && !FORMATS.has(s.format as string)) {
    throw errors.invalidArgument(
      field,
      `format ${JSON.stringify(s.format)} at ${where} is not supported; date-time, time and date are`,
    );
  }
  const own = s.$defs;
  const scope =
    typeof own === 'object' && own !== null && !Array.isArray(own) ? new Set([...defs, ...Object.keys(own)]) : defs;
  if (s.$ref !== undefined) {
    const name =
      typeof s.$ref === 'string' && s.$ref.startsWith(REF_PREFIX) ? s.$ref.slice(REF_PREFIX.length) : undefined;
    if (name === undefined || !scope.has(name)) {
      throw errors.invalidArgument(
        field,
        `$ref ${JSON.stringify(s.$ref)} at ${where} does not name a definition in scope; only "${REF_PREFIX}<name>" references to $defs of this schema or an enclosing one are supported${scope.size ? ` (in scope: ${[...scope].join(', ')})` : ''}`,
      );
    }
  }
  const sub = (v: unknown, path: string) => checkSchema(v, field, `${at}${path}`, scope);
  for (const key of ['properties', '$defs'] as const) {
    const m = s[key];
    if (m !== undefined) {
      if (typeof m !== 'object' || m === null || Array.isArray(m))
        throw errors.invalidArgument(field, `${key} at ${where} must be an object`);
      for (const [k, v] of Object.entries(m)) sub(v, `/${key}/${k}`);
    }
  }
  for (const key of ['oneOf', 'anyOf', 'prefixItems'] as const) {
    const list = s[key];
    if (list !== undefined) {
      if (!Array.isArray(list)) throw errors.invalidArgument(field, `${key} at ${where} must be a list of schemas`);
      for (const [i, v] of list.entries()) sub(v, `/${key}/${i}`);
    }
  }
  if (s.items !== undefined && s.items !== false) sub(s.items, '/items');
  if (typeof s.additionalProperties === 'object') sub(s.additionalProperties, '/additionalProperties');
}

/** Grammars already made (a client usually sends the same schema again and again), bounded. */
const MAX_GRAMMARS = 64;

export class Grammars {
  private readonly made = new Map<string, LlamaJsonSchemaGrammar<GbnfJsonSchema>>();
  private json: Promise<LlamaGrammar> | undefined;

  constructor(private readonly llama: Llama) {}

  /** The grammar of a response format (none for text); a schema it cannot make is a 400 naming the field. */
  async of(format: ResponseFormat | undefined, field = 'response_format.schema'): Promise<LlamaGrammar | undefined> {
    if (!format || format.type === 'text') return undefined;
    if (format.type === 'json_object') return (this.json ??= this.llama.getGrammarFor('json'));
    return this.schemaGrammar(format.schema, field);
  }

  /** A JSON Schema as a grammar, made once (tool-calls.ts checks tools' schemas with it too). */
  schemaGrammar(schema: unknown, field: string): LlamaJsonSchemaGrammar<GbnfJsonSchema> {
    const key = JSON.stringify(schema);
    let g = this.made.get(key);
    if (g) return g;
    checkSchema(schema, field);
    try {
      g = new LlamaJsonSchemaGrammar(this.llama, grammarSchema(schema) as never);
    } catch (err) {
      throw errors.invalidArgument(
        field,
        `cannot be generated to (${(err as Error).message}); docs/openai.md lists the JSON Schema this server can hold output to`,
      );
    }
    if (this.made.size >= MAX_GRAMMARS) this.made.delete(this.made.keys().next().value!);
    this.made.set(key, g);
    return g;
  }
}

/** logit_bias as node-llama-cpp's TokenBias: added to the logit; -100 bans the token (OpenAI: "ban"). */
function tokenBiasOf(model: LlamaModel, bias: LogitBias): TokenBias {
  const vocabulary =
    (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly string[] } } }).tokenizer?.ggml?.tokens
      ?.length ?? Infinity;
  const out = TokenBias.for(model);
  for (const [id, value] of Object.entries(bias)) {
    const token = Number(id);
    if (token >= vocabulary)
      throw errors.invalidArgument(
        `logit_bias.${id}`,
        `is not a token of this model (its vocabulary has ${vocabulary}); use the model's own token ids`,
      );
    out.set(token as never, value <= -100 ? 'never' : { logit: value });
  }
  return out;
}

/**
 * The tokens a generation may write: as asked, refused when the prompt and they (and `reserved`: tool-call syntax) do
 * not fit the context; -1 asks for the rest of the context (llama-server's n_predict -1, OpenAI's absent max_tokens).
 */
export function fitMaxTokens(requested: number, promptTokens: number, contextSize: number, reserved = 0): number {
  const room = contextSize - promptTokens - reserved;
  const n = requested < 0 ? room : requested;
  if (n < 1 || n > room) throw errors.contextExceeded(promptTokens, Math.max(n, 1), contextSize, reserved);
  return n;
}

/** The options both node-llama-cpp generators take, from a request (its maxTokens already fitted). */
export async function samplingOf(model: LlamaModel, grammars: Grammars, p: GenerateParams) {
  const grammar = await grammars.of(p.responseFormat);
  return {
    maxTokens: p.maxTokens,
    temperature: p.temperature,
    ...(p.topP !== undefined ? { topP: p.topP } : {}),
    ...(p.frequencyPenalty || p.presencePenalty
      ? { repeatPenalty: { frequencyPenalty: p.frequencyPenalty ?? 0, presencePenalty: p.presencePenalty ?? 0 } }
      : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.logitBias && Object.keys(p.logitBias).length ? { tokenBias: tokenBiasOf(model, p.logitBias) } : {}),
    ...(grammar ? { grammar } : {}),
  };
}
