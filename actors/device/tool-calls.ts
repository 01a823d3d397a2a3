/**
 * Tool calling (OpenAI's tools / tool_choice / tool messages), for models whose GGUF chat template takes tools.
 *
 * node-llama-cpp does the hard part: its chat wrapper for the template documents the tools in the prompt the way the
 * template does, and LlamaChat watches the answer for the template's call syntax, then samples the tool's name and
 * its arguments under a grammar made from the tool's JSON Schema — so arguments always parse and match the schema.
 * What is ours: which models qualify (a template that renders tools and whose call syntax node-llama-cpp could read
 * out of it; anything else is refused, never run with an invented syntax the model was not trained on), the chat
 * history with calls and results, and `required` / a named tool, which node-llama-cpp has no option for: the prompt
 * then ends with the template's call prefix and LlamaChat starts in its function-name step, so a call is certain.
 */
import { randomBytes } from 'node:crypto';
import {
  ChatWrapper,
  JinjaTemplateChatWrapper,
  LlamaChat,
  LlamaText,
  type ChatHistoryItem,
  type ChatModelFunctionCall,
  type ChatModelFunctions,
  type ChatWrapperGenerateContextStateOptions,
  type ChatWrapperGeneratedContextState,
  type GbnfJsonSchema,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { errors } from '../../src/errors.js';
import type { ChatMessage, TokenLogprob, Tool, ToolCall, ToolChoice } from '../../schemas/messages.js';
import type { ChatFormat } from './chat.js';
import type { GenerateParams, OnPiece } from './engine-protocol.js';
import { checkSchema } from './json-schema-rules.js';
import type { Generated, TakeSequence } from './sequence-pool.js';
import { fitMaxTokens, grammarSchema, samplingOf, type Grammars } from './sampling.js';
import { withStops } from './stop-text.js';
import { answerTokens, generatedTokens, recordSampled, tokenLogprobs } from './token-logprobs.js';
import { cancelledBy } from './cancelled-by.js';

/** Whether a model's chat format can call tools: its template renders `tools` and node-llama-cpp read its call syntax. */
export function templateCallsTools(wrapper: ChatWrapper, template: string | undefined): boolean {
  if (!template || !/\btools\b/.test(template)) return false;
  if (wrapper instanceof JinjaTemplateChatWrapper) return wrapper.usingJinjaFunctionCallTemplate;
  // A specialised wrapper node-llama-cpp matched the template to (Llama 3.1, Qwen, Mistral, …) has its own syntax.
  const own = LlamaText(wrapper.settings.functions.call.prefix).toString();
  return own !== LlamaText(ChatWrapper.defaultSettings.functions.call.prefix).toString();
}

/** JSON text → value; a tool's result that is not JSON is its text. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The chat as node-llama-cpp's history: an assistant turn's calls carry the results the tool turns after it gave. */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const results = new Map<string, string>();
  for (const m of messages) if (m.role === 'tool') results.set(m.tool_call_id!, m.content);
  const history: ChatHistoryItem[] = [];
  for (const m of messages) {
    if (m.role === 'system') history.push({ type: 'system', text: m.content });
    else if (m.role === 'user') history.push({ type: 'user', text: m.content });
    else if (m.role === 'assistant') {
      const response: ChatHistoryItem & { type: 'model' } = { type: 'model', response: m.content ? [m.content] : [] };
      m.tool_calls?.forEach((c, i) => {
        const call: ChatModelFunctionCall = {
          type: 'functionCall',
          name: c.name,
          params: JSON.parse(c.arguments),
          result: parsedOrText(results.get(c.id) ?? ''),
          ...(i === 0 ? { startsNewChunk: true } : {}),
        };
        response.response.push(call);
      });
      history.push(response);
    }
    // tool turns are in their call's result (the router checked each answers a call of the turn before it)
  }
  return history;
}

/** The tools as node-llama-cpp functions; each schema is checked here (json-schema-rules.ts), so a bad one is a 400. */
export function toFunctions(_grammars: Grammars, tools: Tool[]): ChatModelFunctions {
  const functions: Record<string, { description?: string; params?: GbnfJsonSchema }> = {};
  tools.forEach((t, i) => {
    const params =
      t.parameters === undefined ||
      (Object.keys((t.parameters.properties as object | undefined) ?? {}).length === 0 &&
        !t.parameters.additionalProperties)
        ? undefined
        : (grammarSchema(t.parameters) as GbnfJsonSchema);
    if (params) checkSchema(t.parameters, `tools[${i}].parameters`); // LlamaChat makes the grammar itself
    functions[t.name] = { ...(t.description ? { description: t.description } : {}), ...(params ? { params } : {}) };
  });
  return functions as ChatModelFunctions;
}

/**
 * The model's wrapper, with every answer starting inside a call: the prompt ends with the template's call prefix
 * (after its section prefix for parallel calls) and LlamaChat is told the call is engaged, so it samples a name from
 * the allowed tools, then arguments under their grammar. All tools stay documented in the prompt, whichever is forced.
 */
class ForcedCallWrapper extends ChatWrapper {
  public readonly wrapperName: string;
  public override readonly settings: ChatWrapper['settings'];

  constructor(
    private readonly inner: ChatWrapper,
    private readonly documented: ChatModelFunctions,
  ) {
    super();
    this.wrapperName = `${inner.wrapperName}+forcedCall`;
    this.settings = inner.settings;
  }

  override generateContextState(o: ChatWrapperGenerateContextStateOptions): ChatWrapperGeneratedContextState {
    const state = this.inner.generateContextState({ ...o, availableFunctions: this.documented });
    const f = this.inner.settings.functions;
    // The template's own triggers for how an answer starts (a thought, a call) do not apply: it starts in a call.
    return {
      contextText: LlamaText([state.contextText, f.parallelism?.call.sectionPrefix ?? '', f.call.prefix]),
      stopGenerationTriggers: state.stopGenerationTriggers,
      ...(state.ignoreStartText ? { ignoreStartText: state.ignoreStartText } : {}),
      functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] },
    };
  }
}

const callId = () => `call_${randomBytes(12).toString('hex')}`;

/** Calls in one answer at most (parallel_tool_calls false: one). Bounds the syntax room below. */
export const MAX_TOOL_CALLS = 8;

/**
 * Tokens a generation writes beside its max_tokens: node-llama-cpp counts a call's arguments in maxTokens but not the
 * syntax around them nor the tool's name (it injects or grammar-samples those). Kept free in the context for `calls`
 * calls of the longest name, so a chat that passes the check can never need a context shift.
 */
function callSyntaxTokens(
  wrapper: ChatWrapper,
  model: LlamaModel,
  functions: ChatModelFunctions,
  calls: number,
): number {
  const f = wrapper.settings.functions;
  const longest = Object.keys(functions).reduce((a, b) => (b.length > a.length ? b : a), '');
  const one = LlamaText([
    f.call.prefix,
    longest,
    f.call.paramsPrefix,
    f.call.suffix,
    f.parallelism?.call.betweenCalls ?? '',
  ]).tokenize(model.tokenizer).length;
  const section = LlamaText([
    f.parallelism?.call.sectionPrefix ?? '',
    f.parallelism?.call.sectionSuffix ?? '',
  ]).tokenize(model.tokenizer).length;
  return calls * one + section;
}

export interface ToolChatRun {
  grammars: Grammars;
  model: LlamaModel;
  /** The sequence to run on, for the chat's tokens (the prompt cache chooses it by them: sequence-pool.ts). */
  take: TakeSequence;
  format: ChatFormat;
  contextSize: number;
  p: GenerateParams;
  signal: AbortSignal;
  /** Streaming: text as it is written, and each call's pieces (its id and name first) as they are. */
  onText: OnPiece | undefined;
}

/** A chat with tools (or with calls in its history) on one sequence, through LlamaChat. */
export async function chatWithTools(r: ToolChatRun): Promise<Generated> {
  const { p, format, signal } = r;
  if (!format.tools) {
    throw errors.invalidArgument(
      p.tools ? 'tools' : 'messages',
      `model '${p.model}' cannot call tools: ${format.fromTemplate ? `its chat template (${format.name}) has no tool calling` : 'its GGUF has no chat template'}; use a model whose chat template takes tools`,
    );
  }
  const started = performance.now();
  const choice: ToolChoice = p.toolChoice ?? 'auto';
  const all = p.tools ? toFunctions(r.grammars, p.tools) : {};
  const callable: ChatModelFunctions | undefined =
    choice === 'none' || !p.tools ? undefined : typeof choice === 'object' ? { [choice.name]: all[choice.name]! } : all;
  const forced = choice === 'required' || typeof choice === 'object';
  const wrapper = forced ? new ForcedCallWrapper(format.wrapper, all) : format.wrapper;
  const history = toChatHistory(p.messages!);
  if (history[history.length - 1]?.type !== 'model') history.push({ type: 'model', response: [] });

  // Counted as the context will hold it (LlamaChat evaluates the rendered text as is): a chat that does not fit is
  // refused, never cut.
  const state = wrapper.generateContextState({
    chatHistory: history,
    ...(callable ? { availableFunctions: callable } : {}),
    documentFunctionParams: true,
  });
  const context = state.contextText.tokenize(r.model.tokenizer);
  const promptTokens = context.length;
  const maxCalls = p.parallelToolCalls === false ? 1 : MAX_TOOL_CALLS;
  const syntax = callable ? callSyntaxTokens(wrapper, r.model, callable, maxCalls) : 0;
  const maxTokens = fitMaxTokens(p.maxTokens, promptTokens, r.contextSize, syntax);

  const { seq } = await r.take(context);
  const chat = new LlamaChat({ contextSequence: seq, chatWrapper: wrapper, autoDisposeSequence: false });
  let firstTokenMs = -1;
  // The tokens as sampled (recordSampled). The sequence cannot give them: LlamaChat leaves the last one
  // unevaluated, and onToken misses a last byte that completes no character.
  const sampled: Token[] = [];
  // Per call, as its arguments are generated: its id (made at its first piece, so a streamed call and the answer's
  // are the same), the arguments' text as the model wrote it, and whitespace held back from the stream — the grammar
  // lets the model write whitespace after the JSON, which the answer's arguments leave out, so the stream does too.
  const ids: string[] = [];
  const names: string[] = [];
  const raw: string[] = [];
  const held: string[] = [];
  const onParams = (c: { callIndex: number; functionName: string; paramsChunk: string }) => {
    const i = c.callIndex;
    const first = ids[i] === undefined;
    if (first) {
      ids[i] = callId();
      names[i] = c.functionName;
      raw[i] = '';
      held[i] = '';
    }
    raw[i] += c.paramsChunk;
    if (!r.onText) return;
    if (!first && c.paramsChunk.trim() === '') {
      held[i] += c.paramsChunk;
      return;
    }
    const piece = held[i] + c.paramsChunk;
    held[i] = '';
    r.onText('', { index: i, ...(first ? { id: ids[i]!, name: c.functionName } : {}), arguments: piece });
  };
  try {
    // No grammar here: the router refuses response_format with tools (node-llama-cpp cannot do both).
    const { grammar: _none, ...sampling } = await samplingOf(r.model, r.grammars, { ...p, maxTokens });
    // Stop strings are matched on the text, as on the completion path (stop-text.ts).
    const stopStrings = withStops(p.stop, signal, r.onText && ((text: string) => r.onText!(text)));
    const recording = recordSampled(seq, sampled);
    const res = await chat
      .generateResponse(history, {
        ...sampling,
        ...(callable ? { functions: callable, documentFunctionParams: true } : {}),
        ...(callable ? { maxParallelFunctionCalls: maxCalls } : {}),
        ...stopStrings.options,
        onToken: () => {
          if (firstTokenMs < 0) firstTokenMs = performance.now() - started;
        },
        ...(callable ? { onFunctionCallParamsChunk: onParams } : {}),
      })
      .finally(() => recording.stop());
    if (signal.aborted) throw cancelledBy(signal);
    const end = stopStrings.finish();
    const reason = end.stopped ? 'stopString' : res.metadata.stopReason;
    if (reason === 'abort') throw errors.cancelled('generation');
    // A tool without parameters has no argument pieces: its arguments are {}.
    const done: ToolCall[] = (res.functionCalls ?? []).map((c, i) => ({
      id: ids[i] ?? callId(),
      name: c.functionName,
      arguments: raw[i]?.trimEnd() || JSON.stringify(c.params ?? {}),
    }));
    // A call max_tokens cut short is in the answer as far as it got (as OpenAI answers it, with finish_reason length):
    // its pieces were streamed, and the answer must say what the stream said.
    const cut: ToolCall[] = ids
      .slice(done.length)
      .map((id, k) => ({ id, name: names[done.length + k]!, arguments: raw[done.length + k]!.trimEnd() }));
    const toolCalls: ToolCall[] | undefined = done.length + cut.length ? [...done, ...cut] : undefined;
    // What the sequence holds past the prompt was generated, text and call syntax alike (the syntax is beside
    // maxTokens, so a call can count more); the last sampled token may not be evaluated into it.
    const written = seq.contextTokens.length - promptTokens;
    const text = end.text ?? res.response;
    // Logprobs cover the answer's text, as OpenAI's `logprobs.content` does (a call's syntax and arguments have none):
    // its tokens open what was generated (a call comes after the text); none when the answer is only calls.
    let logprobs: TokenLogprob[] | undefined;
    // Without calls, every generated token has its entry (as on the completion path), their pieces joining to the text.
    const generated = generatedTokens(r.model, sampled);
    if (p.logprobs !== undefined) {
      const input = seq.contextTokens.slice(0, promptTokens);
      const answer = toolCalls ? (text ? answerTokens(r.model, generated, text, input) : []) : generated;
      logprobs = await tokenLogprobs(r.model, seq, input, answer, text, p.logprobs, signal, () => cancelledBy(signal));
    }
    return {
      text,
      ...(logprobs ? { logprobs } : {}),
      promptTokens,
      tokensGenerated: toolCalls ? Math.max(written, reason === 'maxTokens' ? maxTokens : 0) : generated.length,
      finishReason:
        cut.length || (reason === 'maxTokens' && !toolCalls)
          ? 'length'
          : toolCalls
            ? 'tool_calls'
            : reason === 'eogToken'
              ? 'eos'
              : 'stop',
      computeMs: performance.now() - started,
      firstTokenMs,
      ...(toolCalls ? { toolCalls } : {}),
    };
  } finally {
    chat.dispose({ disposeSequence: false });
  }
}
