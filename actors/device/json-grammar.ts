/**
 * The GBNF rules node-llama-cpp writes for JSON numbers and string characters, replaced with ones whose every
 * sentence is a value a JSON Schema validator accepts as the schema says.
 *
 * node-llama-cpp 3.x converts a JSON Schema to GBNF with one terminal class per kind of value. Its number allowed a
 * 16-digit exponent (`33198e1300095103407531`: Infinity once parsed) and 16 integer digits (past
 * Number.MAX_SAFE_INTEGER); its string character allowed lone surrogate escapes and any code point llama.cpp decoded,
 * overlong byte forms included, which a UTF-8 decoder turns into several U+FFFD (so maxLength broke). The converter
 * runs where we cannot hand over a grammar text — the grammar LlamaChat makes for a tool's parameters — so those
 * terminal classes' `getGrammar` are replaced in place, once per thread (the engine's, and the worker that writes
 * response_format grammars), and checked on a real conversion: if node-llama-cpp moves these files or renames the
 * rules, making a grammar fails loudly instead of writing numbers that parse to Infinity.
 *
 *   integer: -?(0|[1-9][0-9]{0,14})                  15 digits at most: every value is a safe integer
 *   number:  -?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?  no exponent: every value is finite
 *   string character: a Unicode scalar value (no surrogate, none past U+10FFFF) or an escape; a `\u` escape is a
 *   BMP character or a surrogate pair, one code point either way; with a maxLength, printable ASCII or an escape
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const INTEGER_RULE = '"-"? ("0" | [1-9] [0-9]{0,14})';
export const NUMBER_RULE = `${INTEGER_RULE} ("." [0-9]{1,15})?`;
const HEX = '[0-9a-fA-F]';
/** `\u` escapes: a BMP character that is not a surrogate, or a surrogate pair (one code point, as a validator counts). */
const ESCAPES = [
  '"\\\\" ["\\\\/bfnrt]',
  `"\\\\u" ([0-9a-cA-Ce-fE-F] ${HEX}{3} | [dD] [0-7] ${HEX}{2})`,
  `"\\\\u" [dD] [89abAB] ${HEX}{2} "\\\\u" [dD] [c-fC-F] ${HEX}{2}`,
];
/** Any character but `"`, `\` and controls, as a Unicode scalar value (llama.cpp decodes bytes without checking). */
const STRING_CHAR_RULE = ['[^"\\\\\\x7F\\x00-\\x1F\\uD800-\\uDFFF\\U00110000-\\U7FFFFFFF]', ...ESCAPES].join(' | ');
/**
 * A character of a string with a maxLength: printable ASCII, or an escape. llama.cpp's grammar decodes a character
 * from bytes without refusing an overlong form (C0 81, E0 81 81 …), which it counts as one character and a UTF-8
 * decoder turns into one U+FFFD per byte — a model writing raw bytes could pass maxLength by the grammar's count
 * and break it by the validator's. Escapes say any other character in the count both agree on.
 */
const BOUNDED_CHAR_RULE = ['[ !#-\\[\\]-~]', ...ESCAPES].join(' | ');

interface Generator {
  readonly _: unique symbol;
}
interface Resolvable {
  resolve(g: Generator): string;
}
interface StringTerminal {
  minLength: number;
  maxLength?: number;
}
type Class<T> = (new (options?: Record<string, unknown>) => T) & { prototype: T };

const dist = path.dirname(createRequire(import.meta.url).resolve('node-llama-cpp'));
/** A module of node-llama-cpp's that its package exports do not list, by file (the same instance it imports). */
const internal = (file: string) => import(pathToFileURL(path.join(dist, 'utils', 'gbnfJson', file)).href);

type Converter = (schema: unknown) => string;
let loaded: Promise<Converter> | undefined;

/**
 * node-llama-cpp's JSON Schema → GBNF converter with the rules above (as LlamaJsonSchemaGrammar uses it), loaded and
 * patched once per thread. No top-level await: piscina loads a task module through require() first.
 */
export function jsonGrammarConverter(): Promise<Converter> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<Converter> {
  const [
    { GbnfNumber },
    { GbnfInsideStringChar },
    { GbnfString },
    { GbnfRepetition },
    { getGbnfGrammarForGbnfJsonSchema },
  ] = (await Promise.all([
    internal('terminals/GbnfNumber.js'),
    internal('terminals/GbnfInsideStringChar.js'),
    internal('terminals/GbnfString.js'),
    internal('terminals/GbnfRepetition.js'),
    internal('getGbnfGrammarForGbnfJsonSchema.js'),
  ])) as [
    { GbnfNumber: Class<{ allowFractional: boolean; getGrammar(): string }> },
    { GbnfInsideStringChar: Class<Resolvable & { getGrammar(): string; getRuleName(): string }> },
    { GbnfString: Class<StringTerminal & { getGrammar(g: Generator): string }> },
    { GbnfRepetition: Class<{ getGrammar(g: Generator): string }> },
    { getGbnfGrammarForGbnfJsonSchema: Converter },
  ];

  GbnfNumber.prototype.getGrammar = function () {
    return this.allowFractional ? NUMBER_RULE : INTEGER_RULE;
  };
  GbnfInsideStringChar.prototype.getGrammar = () => STRING_CHAR_RULE;

  class BoundedStringChar extends GbnfInsideStringChar {
    override getGrammar() {
      return BOUNDED_CHAR_RULE;
    }
    override getRuleName() {
      return 'string-char-bounded-rule';
    }
  }
  const unboundedString = GbnfString.prototype.getGrammar;
  GbnfString.prototype.getGrammar = function (g: Generator) {
    if (this.maxLength === undefined || this.maxLength === 0) return unboundedString.call(this, g);
    const chars = new GbnfRepetition({
      value: new BoundedStringChar(),
      minRepetitions: this.minLength,
      maxRepetitions: this.maxLength,
    });
    return `"\\"" ${chars.getGrammar(g)} "\\""`;
  };

  const rules = getGbnfGrammarForGbnfJsonSchema({
    type: 'object',
    properties: {
      a: { type: 'integer' },
      n: { type: 'number' },
      s: { type: 'string' },
      b: { type: 'string', maxLength: 2 },
    },
  })
    .split('\n')
    .map((line) => line.slice(line.indexOf(' ::= ') + 5));
  if (![INTEGER_RULE, NUMBER_RULE, STRING_CHAR_RULE, BOUNDED_CHAR_RULE].every((rule) => rules.includes(rule)))
    throw new Error(
      `node-llama-cpp's JSON Schema grammar no longer uses the number and string rules actors/device/json-grammar.ts replaces; its rules are now:\n${rules.join('\n')}`,
    );
  return getGbnfGrammarForGbnfJsonSchema;
}
