/**
 * How a generation samples, shared by the completion path (engine-core.ts) and the chat-with-tools path
 * (tool-calls.ts): temperature, top_p, penalties, seed, a token bias (OpenAI's logit_bias, with the model's own token
 * ids) and a grammar for JSON answers (`response_format`). A JSON answer is sampled under a grammar — llama.cpp's JSON
 * grammar, or one node-llama-cpp makes from the JSON Schema (json-schema-rules.ts says which schemas, json-grammar.ts
 * fixes its number rules) — so the model cannot write anything else; it stops when the JSON is complete (or at
 * max_tokens, cut, as OpenAI's are).
 */
import { LlamaGrammar, LlamaText, TokenBias, type Llama, type LlamaModel } from 'node-llama-cpp';
import { siblingEntry } from '../../src/entry.js';
import { errors, toMocError } from '../../src/errors.js';
import { TaskPool } from '../../src/kernel/task-pool.js';
import { jsonGrammarConverter } from './json-grammar.js';
import { checkSchema, grammarSchema } from './json-schema-rules.js';
import type { LogitBias, ResponseFormat } from '../../schemas/messages.js';
import type { GenerateParams } from './engine-protocol.js';

export { grammarSchema };

/** Grammars already made (a client usually sends the same schema again and again), bounded. */
const MAX_GRAMMARS = 64;
/** How node-llama-cpp's LlamaJsonSchemaGrammar ends a JSON answer: its grammar's root ends in four newlines. */
const JSON_END = LlamaText(['\n'.repeat(4)]);

export class Grammars {
  private readonly made = new Map<string, Promise<LlamaGrammar>>();
  private json: Promise<LlamaGrammar> | undefined;
  /** GBNF text from a schema, made off this event loop (it drives every generation of this engine). */
  private readonly maker = new TaskPool<{ schema: unknown }, string>({
    entry: siblingEntry(import.meta.url, './json-grammar-task'),
    name: 'the JSON grammar maker',
    queueName: 'the JSON grammar queue',
    maxThreads: 1,
    maxQueue: 64,
    idleTimeoutMs: 60_000,
  });

  /** node-llama-cpp's converter patched in this thread too: LlamaChat makes tools' grammars with it here. */
  private readonly patched = jsonGrammarConverter();

  constructor(private readonly llama: Llama) {}

  /**
   * The grammar of a response format (none for text); a schema it cannot make is a 400 naming the field. Every
   * generation (tool calls too) comes through here first, so the converter is patched before any grammar is made.
   */
  async of(format: ResponseFormat | undefined, field = 'response_format.schema'): Promise<LlamaGrammar | undefined> {
    await this.patched;
    if (!format || format.type === 'text') return undefined;
    if (format.type === 'json_object') return (this.json ??= this.llama.getGrammarFor('json'));
    return this.schemaGrammar(format.schema, field);
  }

  /** A JSON Schema as a grammar, made once: checked here, its GBNF written on a worker thread, parsed by llama.cpp. */
  schemaGrammar(schema: unknown, field: string): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    const made = this.made.get(key);
    if (made) return made;
    checkSchema(schema, field);
    const g = this.maker.run({ schema }, { label: `the grammar of ${field}` }).then(
      (grammar) =>
        new LlamaGrammar(this.llama, { grammar, stopGenerationTriggers: [JSON_END], trimWhitespaceSuffix: true }),
      (err: unknown) => {
        const e = toMocError(err);
        if (e.code !== 'MOC_ERR_INTERNAL') throw e; // busy, shut down: not the schema's fault
        throw errors.invalidArgument(
          field,
          `cannot be generated to (${e.message}); docs/openai.md lists the JSON Schema this server can hold output to`,
        );
      },
    );
    g.catch(() => this.made.delete(key)); // a failure is not remembered: the same schema may be sent again
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
