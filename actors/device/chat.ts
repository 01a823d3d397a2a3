/**
 * Chats into prompts: the model's own chat template when its GGUF has one (`tokenizer.chat_template`, rendered by
 * node-llama-cpp's Jinja wrapper, or the specialised wrapper it recognises the template as), else node-llama-cpp's
 * GeneralChatWrapper (docs/openai.md shows the format). What the wrapper says ends a turn is a stop trigger.
 */
import {
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type LlamaModel,
  type LlamaText,
  type Token,
} from 'node-llama-cpp';
import type { ChatMessage } from '../../schemas/messages.js';
import { templateCallsTools } from './tool-calls.js';

export interface ChatFormat {
  wrapper: ChatWrapper;
  /** The wrapper's name ("JinjaTemplate", "Llama3_1", "General", …): logged and shown in docs. */
  name: string;
  /** Whether the GGUF carries a chat template (false: the documented fallback). */
  fromTemplate: boolean;
  /** Whether the template calls tools in a syntax node-llama-cpp read out of it (tool-calls.ts). */
  tools: boolean;
}

export function chatFormatOf(model: LlamaModel): ChatFormat {
  const raw = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } } | undefined)?.tokenizer
    ?.chat_template;
  const template = typeof raw === 'string' && raw.length > 0 ? raw : undefined;
  const wrapper = resolveChatWrapper(model, { warningLogs: false });
  return {
    wrapper,
    name: wrapper.wrapperName,
    fromTemplate: template !== undefined,
    tools: templateCallsTools(wrapper, template),
  };
}

/**
 * The chat as the tokens to evaluate and the texts that end the answer. A last assistant message is continued (a
 * prefill); otherwise an empty assistant turn is opened for the answer. `bos`: the token the completion puts first
 * itself, removed from the rendered text's start so it is not there twice.
 */
export function renderChat(
  model: LlamaModel,
  format: ChatFormat,
  messages: ChatMessage[],
  bos: Token | null,
): { tokens: Token[]; stops: LlamaText[] } {
  // Chats with tool calls or tool turns go through tool-calls.ts instead.
  const history: ChatHistoryItem[] = messages.map((m) =>
    m.role === 'system'
      ? { type: 'system', text: m.content }
      : m.role === 'user'
        ? { type: 'user', text: m.content }
        : { type: 'model', response: [m.content] },
  );
  if (messages[messages.length - 1]!.role !== 'assistant') history.push({ type: 'model', response: [] });
  const state = format.wrapper.generateContextState({ chatHistory: history });
  const tokens = state.contextText.tokenize(model.tokenizer);
  if (bos !== null && tokens[0] === bos) tokens.shift();
  return { tokens, stops: state.stopGenerationTriggers };
}
