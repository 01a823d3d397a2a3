/**
 * Option values of every `moc` command, checked in one place before anything is sent (docs/cli.md: bad options exit 2).
 *
 *   program() builds the commands ──▶ checkOptions(program) walks them all once:
 *     every option that takes a value refuses one that is the next option (`--stop --max-tokens 3`);
 *     numbers and choices are parsed by the parsers below, declared with the option;
 *     any usage error (a bad value, a missing value, an unknown option, too many arguments) prints one line that
 *     names the option and what it takes, then the command's usage, and ends as a CommanderError with exit code 2.
 *
 * commander alone takes the next argument as an option's value whatever it is, and `Number` as a parser turns 'abc'
 * into NaN, which a command then drops or sends; the parsers here refuse instead. Ranges come from the request schemas
 * the server checks, so the CLI and the server cannot disagree on them.
 */
import type { TSchema } from '@sinclair/typebox';
import { type Command, InvalidArgumentError, type Option } from 'commander';
import { EXIT } from './api.js';

/** What a number option takes, in words ("an integer from 1 to 256"). */
interface Range {
  integer: boolean;
  min?: number;
  max?: number;
  /** min is excluded (top_p: above 0). */
  exclusiveMin?: boolean;
  /** Values in range that still mean nothing (max tokens 0). */
  except?: number[];
  /** Said after the range: what a special value means. */
  note?: string;
}

function describe(r: Range): string {
  const kind = r.integer ? 'an integer' : 'a number';
  const { min, max } = r;
  const range =
    min !== undefined && max !== undefined
      ? r.exclusiveMin
        ? `above ${min}, up to ${max}`
        : `from ${min} to ${max}`
      : min !== undefined
        ? r.exclusiveMin
          ? `above ${min}`
          : `${min} or more`
        : max !== undefined
          ? `up to ${max}`
          : '';
  const except = r.except?.length ? `, not ${r.except.join(' or ')}` : '';
  return `${kind}${range ? ` ${range}` : ''}${except}${r.note ? ` (${r.note})` : ''}`;
}

/** What each parser below takes, in words: said when its option is given a bad value or none, and in --help. */
const TAKES = new WeakMap<object, string>();
const takes = <F extends object>(parser: F, words: string): F => {
  TAKES.set(parser, words);
  return parser;
};

/** A parser for a number option in range `r`; what it refuses is said as "takes <the range>". */
export function numberIn(r: Range): (value: string) => number {
  return takes((value: string) => {
    // Number('') is 0 and Number(' 1') is 1: only a plain decimal is a number here.
    const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value.trim()) ? Number(value) : Number.NaN;
    const ok =
      Number.isFinite(n) &&
      (!r.integer || Number.isSafeInteger(n)) &&
      (r.min === undefined || (r.exclusiveMin ? n > r.min : n >= r.min)) &&
      (r.max === undefined || n <= r.max) &&
      !r.except?.includes(n);
    if (!ok) throw new InvalidArgumentError(`It takes ${describe(r)}.`);
    return n;
  }, describe(r));
}

/** The range a request schema's integer or number field allows (minimum, maximum, exclusiveMinimum). */
export function numberOf(schema: TSchema, extra: Pick<Range, 'except' | 'note'> = {}): (value: string) => number {
  const s = schema as { type?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number };
  if (s.type !== 'integer' && s.type !== 'number') throw new Error(`numberOf: not a number schema (${s.type})`);
  return numberIn({
    integer: s.type === 'integer',
    ...(s.exclusiveMinimum !== undefined
      ? { min: s.exclusiveMinimum, exclusiveMin: true }
      : s.minimum !== undefined
        ? { min: s.minimum }
        : {}),
    ...(s.maximum !== undefined ? { max: s.maximum } : {}),
    ...extra,
  });
}

/** A parser for an option that takes one of `values`. */
export function oneOf(values: readonly string[]): (value: string) => string {
  return takes(
    (value: string) => {
      if (!values.includes(value)) throw new InvalidArgumentError(`It takes one of: ${values.join(', ')}.`);
      return value;
    },
    `one of: ${values.join(', ')}`,
  );
}

/** A parser of its own (--spec, --name) with what it takes in words; a variadic option's also gets the values so far. */
export const parser = <T>(
  words: string,
  parse: (value: string, previous: unknown) => T,
): ((value: string, previous: unknown) => T) => takes(parse, words);

/** The long flag and its value placeholder, as `--max-tokens <n>`. */
const flagOf = (o: Option) => o.flags.replace(/^-\w, /, '');

/**
 * Every option that takes a value refuses a value that is the next option, and its own parser (if any) runs after.
 * A variadic option (`--stop <text...>`) collects its values into an array, as commander does without a parser.
 */
function guardValue(o: Option): void {
  if (!o.required && !o.optional) return; // a flag: no value
  const inner = o.parseArg as ((value: string, previous: unknown) => unknown) | undefined;
  const words = inner && TAKES.get(inner);
  if (words) o.description = o.description ? `${o.description}: ${words}` : words; // --help says it too
  const guarded = (value: string, previous: unknown): unknown => {
    if (value.startsWith('--'))
      throw new InvalidArgumentError(
        `It is missing its value ('${value}' is the next option)${words ? `; it takes ${words}` : ''}.`,
      );
    const v = inner ? inner(value, previous) : value;
    return o.variadic ? (Array.isArray(previous) ? [...previous, v] : [v]) : v;
  };
  o.argParser(words ? takes(guarded, words) : guarded);
}

/** commander's own usage errors, said once more with what the command takes. */
function withAllowed(c: Command, message: string, code: string | undefined): string {
  if (code === 'commander.unknownOption') {
    const known = c.options.filter((o) => o.long && !o.hidden).map(flagOf);
    const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
    return `error: unknown option '${flag}' for '${path(c)}'; it takes ${known.length ? known.join(', ') : 'no options'} (and --help)`;
  }
  if (code === 'commander.optionMissingArgument') {
    const flags = /'([^']+)'/.exec(message)?.[1];
    const o = c.options.find((x) => x.flags === flags);
    const words = o?.parseArg && TAKES.get(o.parseArg);
    return `error: option '${flags}' is missing its value${words ? `; it takes ${words}` : ''}`;
  }
  return message.replace(/\n/g, ' ');
}

/** `moc jobs submit`, from the root down. */
function path(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x; x = x.parent) names.unshift(x.name());
  return names.join(' ');
}

/**
 * Applies the rules above to `root` and every command under it: call it once, after every command is added.
 * Usage errors then throw a CommanderError with exitCode 2 (exitOverride), after printing their line and usage.
 */
export function checkOptions(root: Command): void {
  const walk = (c: Command) => {
    c.exitOverride();
    for (const o of c.options) guardValue(o);
    c.showHelpAfterError(`Usage: ${path(c)} ${c.usage()}\n(${path(c)} --help lists every option and what it takes)`);
    // Every usage error goes through error(): one line, exit code 2 (EXIT.USAGE).
    const error = c.error.bind(c);
    c.error = (message, o) => error(withAllowed(c, message, o?.code), { ...o, exitCode: EXIT.USAGE });
    for (const sub of c.commands) walk(sub);
  };
  walk(root);
}
