/**
 * The worker-thread task that turns a checked JSON Schema into GBNF text (sampling.ts's Grammars runs it through a
 * TaskPool). node-llama-cpp's converter is synchronous and, for a nested schema near the size limits, takes a few
 * hundred milliseconds (docs/openai.md); on the engine's event loop that would hold up every generation the engine
 * drives. Here it loads only the converter's pure-JS modules, not llama.cpp.
 */
import { jsonGrammarConverter } from './json-grammar.js';
import { grammarSchema } from './json-schema-rules.js';

export default async function makeGbnf(task: { schema: unknown }): Promise<string> {
  const gbnfOf = await jsonGrammarConverter();
  return gbnfOf(grammarSchema(task.schema));
}
