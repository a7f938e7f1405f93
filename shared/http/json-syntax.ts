/**
 * Where a JSON text breaks, without quoting it. V8's JSON.parse messages quote
 * the text around the error (`..."password":Sup3rSecre"...`), so they must
 * never reach a problem detail or a log line. This scanner runs only after
 * JSON.parse has failed, and reports the position (a UTF-16 offset, like V8's),
 * line and column of the first error and what was expected there: never a
 * character of the input.
 */
export interface JsonSyntaxError {
  /** Offset of the offending character (or the text length if it ended early). */
  position: number;
  line: number;
  column: number;
  /** What the grammar needed there, in words; contains nothing from the input. */
  expected: string;
}

class Stop extends Error {
  constructor(
    readonly at: number,
    readonly expected: string,
  ) {
    super(expected);
  }
}

const WS = new Set([' ', '\t', '\n', '\r']);
const DIGIT = /[0-9]/;

/** undefined when the text is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && WS.has(text[i] as string)) i++;
  };
  const fail = (expected: string): never => {
    throw new Stop(i, expected);
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail(`the literal ${word}`);
      i++;
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('the end of a string');
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return;
      }
      if (code < 0x20) fail('no control character inside a string');
      if (code === 0x5c) {
        i++;
        const esc = text[i];
        if (esc === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail('four hex digits after \\u');
            }
          }
          i += 5;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i++;
        else fail('a valid escape sequence');
      } else i++;
    }
  };
  const digits = () => {
    if (!DIGIT.test(text[i] ?? '')) fail('a digit');
    while (DIGIT.test(text[i] ?? '')) i++;
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const value = (depth: number): void => {
    // Depth guard: a scanner that recursed without limit could overflow the stack on `[[[[…`.
    if (depth > 512) fail('at most 512 levels of nesting');
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('a double-quoted property name');
        string();
        ws();
        if (text[i] !== ':') fail("':' after a property name");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail("',' or '}' after a property value");
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail("',' or ']' after an array element");
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || DIGIT.test(ch ?? '')) return number();
    fail('a JSON value');
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('the end of the text');
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    const at = Math.min(error.at, text.length);
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    const expected = at >= text.length ? `${error.expected} (the text ended early)` : error.expected;
    return { position: at, line, column, expected };
  }
}
