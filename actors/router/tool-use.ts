/**
 * The rules a chat with tools must follow, checked once by the router so every transport refuses the same input the
 * same way (OpenAI refuses the same things): tools go with messages; a forced tool is one of the tools; an assistant
 * turn's tool calls are each answered by a `tool` turn right after it, and a `tool` turn answers one of them.
 * Whether the model can call tools at all is the engine's answer (its chat template: actors/device/tool-calls.ts).
 */
import { errors } from '../../src/errors.js';
import type { Inference } from '../../schemas/messages.js';

export function checkToolUse(r: Inference): void {
  const usesTools = r.tools !== undefined || r.toolChoice !== undefined || r.parallelToolCalls !== undefined;
  if (usesTools && !r.messages) throw errors.invalidArgument('tools', 'go with messages (a chat), not with prompt');
  const names = new Set<string>();
  r.tools?.forEach((t, i) => {
    if (names.has(t.name))
      throw errors.invalidArgument(`tools[${i}].name`, `'${t.name}' is given twice; name each tool once`);
    names.add(t.name);
    // {} is OpenAI's "no parameters" too.
    if (t.parameters !== undefined && Object.keys(t.parameters).length > 0 && t.parameters.type !== 'object') {
      throw errors.invalidArgument(
        `tools[${i}].parameters`,
        'must be a JSON Schema with type "object" (the arguments object); omit it for a tool that takes none',
      );
    }
  });
  const choice = r.toolChoice;
  if ((choice === 'required' || typeof choice === 'object') && !r.tools) {
    throw errors.invalidArgument(
      'tool_choice',
      'names a tool call but no tools were sent; send tools or drop tool_choice',
    );
  }
  if (typeof choice === 'object' && !names.has(choice.name)) {
    throw errors.invalidArgument(
      'tool_choice',
      `names '${choice.name}', which is not among the tools (${[...names].join(', ')})`,
    );
  }
  if (!r.messages) return;
  const toolPath =
    (r.tools !== undefined && choice !== 'none') || r.messages.some((m) => m.role === 'tool' || m.tool_calls?.length);
  if (toolPath && r.responseFormat && r.responseFormat.type !== 'text') {
    throw errors.invalidArgument(
      'response_format',
      'JSON answers and tool calls do not go together (node-llama-cpp cannot hold both to a grammar); send one of them',
    );
  }
  let open = new Map<string, string>(); // the last assistant turn's calls not answered yet: id → name
  r.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (m.role !== 'tool' && open.size) {
      throw errors.invalidArgument(
        at,
        `comes before the tool call${open.size > 1 ? 's' : ''} ${[...open.keys()].join(', ')} of an earlier assistant message ${open.size > 1 ? 'were' : 'was'} answered; answer each tool call with a tool message right after the assistant message`,
      );
    }
    if (m.tool_calls && m.role !== 'assistant')
      throw errors.invalidArgument(`${at}.tool_calls`, 'only assistant messages carry tool calls');
    if (m.tool_call_id !== undefined && m.role !== 'tool')
      throw errors.invalidArgument(`${at}.tool_call_id`, 'only tool messages answer a tool call');
    if (m.role === 'assistant' && m.tool_calls?.length) {
      open = new Map();
      m.tool_calls.forEach((c, j) => {
        if (open.has(c.id))
          throw errors.invalidArgument(
            `${at}.tool_calls[${j}].id`,
            `'${c.id}' is used twice; give each call its own id`,
          );
        let args: unknown;
        try {
          args = JSON.parse(c.arguments);
        } catch {
          args = undefined;
        }
        if (args === null || typeof args !== 'object' || Array.isArray(args)) {
          throw errors.invalidArgument(
            `${at}.tool_calls[${j}].arguments`,
            'must be a JSON object as text, e.g. "{\\"city\\": \\"Paris\\"}"',
          );
        }
        open.set(c.id, c.name);
      });
    }
    if (m.role === 'tool') {
      if (m.tool_call_id === undefined)
        throw errors.invalidArgument(
          `${at}.tool_call_id`,
          'is required: a tool message answers the tool call with this id',
        );
      if (!open.delete(m.tool_call_id)) {
        throw errors.invalidArgument(
          `${at}.tool_call_id`,
          `'${m.tool_call_id}' answers no unanswered tool call of the assistant message before it`,
        );
      }
    }
  });
  if (open.size) {
    throw errors.invalidArgument(
      'messages',
      `end with the tool call${open.size > 1 ? 's' : ''} ${[...open.keys()].join(', ')} unanswered; add a tool message with each result`,
    );
  }
}

/** The bytes of a request's input, counted against limits.maxPromptBytes: prompt, or every turn, call and tool. */
export function inputBytes(r: Inference): number {
  if (r.prompt !== undefined) return Buffer.byteLength(r.prompt, 'utf8');
  let n = 0;
  for (const m of r.messages ?? []) {
    n += Buffer.byteLength(m.content, 'utf8');
    for (const c of m.tool_calls ?? []) n += Buffer.byteLength(c.arguments, 'utf8') + c.name.length;
  }
  if (r.tools) n += Buffer.byteLength(JSON.stringify(r.tools), 'utf8');
  return n;
}
