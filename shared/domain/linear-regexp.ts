/**
 * The regular-expression engine ajv uses for receiver schemas' `pattern` and
 * `patternProperties` (its `code.regExp` option): RE2JS, a pure-JavaScript
 * port of RE2 whose matching time is linear in the input, so a pattern such as
 * `^(a+)+$` cannot backtrack catastrophically. Pure JS because functions are
 * one esbuild ESM bundle for Lambda arm64, where a native addon (`re2`) would
 * need a per-architecture build.
 *
 * JSON Schema patterns are ECMA-262; `translateRegExp` maps the JS syntax RE2
 * spells differently (`\u{…}`, `(?<name>…)`). What RE2 cannot run in linear
 * time (backreferences, lookahead/lookbehind) fails to compile, and ajv
 * reports that as a schema error when the receiver is created.
 */
import type { CodeOptions } from 'ajv/dist/2020.js';
import { RE2JS } from 're2js';

/** ajv's engine type, through its public `CodeOptions` (the type itself is not exported from the entry point). */
type RegExpEngine = NonNullable<CodeOptions['regExp']>;
type RegExpLike = ReturnType<RegExpEngine>;

function compileLinear(pattern: string, _flags: string): RegExpLike {
  // ajv passes "u" (unicodeRegExp): RE2 always matches by code point, so there is no flag to map.
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new Error(
      `pattern "${pattern}" is not supported: patterns run on a linear-time engine (RE2), ` +
        `which has no backreferences or lookaround (${(error as Error).message})`,
      { cause: error },
    );
  }
}

/** ajv reads `code` only when it generates standalone code, which we never do; it names the engine. */
export const linearRegExp: RegExpEngine = Object.assign(compileLinear, { code: 're2js' });
