/**
 * The EventBridge event-pattern matcher (DESIGN.md §7, `local/patterns/`),
 * shared by EventBridge rules, `TestEventPattern` and Lambda event source
 * mapping filter criteria.
 *
 * Written here because nothing maintained on npm fits: AWS's own matcher is
 * the Java library aws/event-ruler, and the npm packages that re-implement it
 * are small one-person projects that lag the operator table (checked with the
 * documentation search: `eb-patterns` has a handful of weekly downloads and no
 * `anything-but` wildcard/suffix forms). Semantics and the validation messages
 * follow the EventBridge user guide ("Content filtering in Amazon EventBridge
 * event patterns", "Comparison operators") and event-ruler's JsonRuleCompiler,
 * whose wording InvalidEventPatternException carries.
 *
 * A pattern is compiled once into a tree of closures; matching walks the
 * pattern, never the whole event.
 *
 * Semantics in brief:
 * - fields of an object are ANDed; the values in a field's array are ORed;
 * - an event array matches if any element matches (an object pattern is
 *   matched against each element whole, so two fields must match in the same
 *   element, as event-ruler's array consistency does);
 * - leaf matchers apply to leaf values only (strings, numbers, booleans,
 *   null); an object is not a leaf, so `{"exists": true}` does not match it
 *   and `{"exists": false}` does; `null` is a value, so it exists;
 * - strings and numbers never match each other (`"5"` is not `5`); numbers
 *   compare as numbers (`300` matches `3.0e2`);
 * - `anything-but` needs the field to be present, and matches any present
 *   value that is not excluded (of any type).
 *
 * Known difference from event-ruler: `{"exists": false}` under an array of
 * objects is decided per element (it matches if some element lacks the field);
 * event-ruler decides it over the whole array.
 */
import { BlockList, isIP } from 'node:net';

/** AWS's `InvalidEventPatternException`, worded as AWS words it. */
export class InvalidEventPatternError extends Error {
  constructor(
    /** The part after "Reason: ". */
    readonly reason: string,
  ) {
    super(`Event pattern is not valid. Reason: ${reason}`);
    this.name = 'InvalidEventPatternError';
  }
}

export interface EventPattern {
  matches(event: unknown): boolean;
}

type LeafValue = string | number | boolean | null;
type ValueTest = (value: LeafValue) => boolean;

/** A field whose pattern is an array: the event's leaf values there must match one of the tests. */
interface LeafCondition {
  kind: 'leaf';
  tests: ValueTest[];
  /** `{"exists": false}` is among the alternatives: an absent field (no leaf values) matches. */
  matchesAbsent: boolean;
}

/** A pattern object: every field must match, and one branch of every `$or`. */
interface ObjectCondition {
  kind: 'object';
  fields: Array<{ name: string; condition: LeafCondition | ObjectCondition }>;
  anyOf: ObjectCondition[][];
}

/** Names that cannot be field names inside `$or` (event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP). */
const RESERVED_IN_OR = new Set([
  'equals',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
]);

const invalid = (reason: string): never => {
  throw new InvalidEventPatternError(reason);
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const shown = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));

// ---------------------------------------------------------------- compile

function compileObject(pattern: Record<string, unknown>, insideOr: boolean): ObjectCondition {
  const node: ObjectCondition = { kind: 'object', fields: [], anyOf: [] };
  const names = Object.keys(pattern);
  if (names.length === 0) invalid('Empty objects are not allowed');
  for (const name of names) {
    const value = pattern[name];
    if (name === '$or') {
      node.anyOf.push(compileOr(value));
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(name)) invalid(`${name} is Ruler reserved fieldName which cannot be used inside $or.`);
    if (Array.isArray(value)) node.fields.push({ name, condition: compileLeaf(value) });
    else if (isPlainObject(value)) node.fields.push({ name, condition: compileObject(value, insideOr) });
    else invalid(`"${name}" must be an object or an array`);
  }
  return node;
}

function compileOr(value: unknown): ObjectCondition[] {
  if (!Array.isArray(value)) return invalid('It must be an Array followed with $or.');
  const branches = value.map((branch) =>
    isPlainObject(branch) ? compileObject(branch, true) : invalid('Only JSON object is allowed in array of $or relationship.'),
  );
  if (branches.length < 2) invalid('There must have at least 2 Objects in $or relationship.');
  return branches;
}

function compileLeaf(alternatives: unknown[]): LeafCondition {
  if (alternatives.length === 0) invalid('Empty arrays are not allowed');
  const tests: ValueTest[] = [];
  let matchesAbsent = false;
  for (const alternative of alternatives) {
    if (isPlainObject(alternative)) {
      const compiled = compileMatchExpression(alternative);
      if (compiled === 'absent') matchesAbsent = true;
      else tests.push(compiled);
    } else if (typeof alternative === 'string' || typeof alternative === 'boolean' || alternative === null) {
      tests.push((value) => value === alternative);
    } else if (typeof alternative === 'number') {
      // Numeric equality: 300 matches 3.0e2 (JSON.parse already made both the same double).
      tests.push((value) => typeof value === 'number' && value === alternative);
    } else {
      invalid('Match value must be String, number, true, false, or null');
    }
  }
  return { kind: 'leaf', tests, matchesAbsent };
}

/** One `{ "<operator>": … }` object; `'absent'` for `{"exists": false}`. */
function compileMatchExpression(expression: Record<string, unknown>): ValueTest | 'absent' {
  const entries = Object.entries(expression);
  const first = entries[0];
  if (!first) return invalid('Match expression name not found');
  const [operator, operand] = first;
  // event-ruler reports the extra key of a numeric or anything-but expression its own way.
  const onlyOneKey = () => {
    if (entries.length > 1)
      invalid(
        operator === 'numeric' || operator === 'anything-but'
          ? 'Too many elements in numeric expression'
          : 'Only one key allowed in match expression',
      );
  };
  onlyOneKey();
  switch (operator) {
    case 'equals': {
      const text = typeof operand === 'string' ? operand : invalid('exact match pattern must be a string');
      return (value) => value === text;
    }
    case 'prefix':
      return isPlainObject(operand)
        ? ignoreCaseForm(operand, 'Prefix', (value, lower) => value.toLowerCase().startsWith(lower))
        : stringTest(operand, 'prefix match pattern must be a string', (value, prefix) => value.startsWith(prefix));
    case 'suffix':
      return isPlainObject(operand)
        ? ignoreCaseForm(operand, 'Suffix', (value, lower) => value.toLowerCase().endsWith(lower))
        : stringTest(operand, 'suffix match pattern must be a string', (value, suffix) => value.endsWith(suffix));
    case 'equals-ignore-case': {
      const lower = typeof operand === 'string' ? operand.toLowerCase() : invalid('equals-ignore-case match pattern must be a string');
      return (value) => typeof value === 'string' && value.toLowerCase() === lower;
    }
    case 'wildcard': {
      const glob = compileWildcard(typeof operand === 'string' ? operand : invalid('wildcard match pattern must be a string'));
      return (value) => typeof value === 'string' && glob(value);
    }
    case 'numeric':
      return compileNumeric(operand);
    case 'exists':
      if (operand === true) return () => true;
      if (operand === false) return 'absent';
      return invalid('exists match pattern must be either true or false.');
    case 'cidr':
      return compileCidr(typeof operand === 'string' ? operand : invalid('prefix match pattern must be a string'));
    case 'anything-but':
      return compileAnythingBut(operand);
    default:
      return invalid(`Unrecognized match type ${operator}`);
  }
}

function stringTest(operand: unknown, message: string, test: (value: string, operand: string) => boolean): ValueTest {
  const text = typeof operand === 'string' ? operand : invalid(message);
  return (value) => typeof value === 'string' && test(value, text);
}

/** `{"prefix": {"equals-ignore-case": "EventB"}}` and the suffix form. */
function ignoreCaseForm(
  operand: Record<string, unknown>,
  kind: 'Prefix' | 'Suffix',
  test: (value: string, lower: string) => boolean,
): ValueTest {
  const entries = Object.entries(operand);
  const first = entries[0] ?? invalid(`${kind} expression name not found`);
  if (first[0] !== 'equals-ignore-case') invalid(`Unsupported ${kind.toLowerCase()} pattern: ${first[0]}`);
  if (entries.length > 1) invalid('Only one key allowed in match expression');
  const lower = typeof first[1] === 'string' ? first[1].toLowerCase() : invalid('equals-ignore-case match pattern must be a string');
  return (value) => typeof value === 'string' && test(value, lower);
}

/**
 * `*` matches any run of characters (also none), `\*` a literal asterisk and
 * `\\` a backslash; any other escape and two `*` in a row are invalid. Matched
 * with the linear two-pointer glob algorithm (no regular expression, so no
 * catastrophic backtracking on `*a*a*a*b`).
 */
function compileWildcard(source: string): (value: string) => boolean {
  // Positions in messages count UTF-8 bytes of the quoted value, as event-ruler's do.
  const positionOf = (index: number) => Buffer.byteLength(source.slice(0, index)) + 1;
  const tokens: Array<string | typeof STAR> = [];
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '*') {
      if (source[i + 1] === '*') invalid(`Consecutive wildcard characters at pos ${positionOf(i)}`);
      tokens.push(STAR);
    } else if (char === '\\') {
      const next = source[i + 1];
      if (next !== '*' && next !== '\\') return invalid(`Invalid escape character at pos ${positionOf(i)}`);
      tokens.push(next);
      i++;
    } else {
      tokens.push(source.slice(i, i + 1));
    }
  }
  if (!tokens.includes(STAR)) {
    const literal = tokens.join('');
    return (value) => value === literal;
  }
  return (value) => {
    let t = 0;
    let v = 0;
    let starToken = -1;
    let starValue = 0;
    while (v < value.length) {
      const token = tokens[t];
      if (token === STAR) {
        starToken = t++;
        starValue = v;
      } else if (token !== undefined && token === value[v]) {
        t++;
        v++;
      } else if (starToken >= 0) {
        t = starToken + 1;
        v = ++starValue;
      } else {
        return false;
      }
    }
    while (tokens[t] === STAR) t++;
    return t === tokens.length;
  };
}
const STAR = Symbol('wildcard');

const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

/** `["=", 5]`, `["<", 10]`, `[">", 0, "<=", 5]`, `[">=", 0, "<", 1]`. */
function compileNumeric(operand: unknown): ValueTest {
  if (!Array.isArray(operand)) return invalid('Value of numeric must be an array.');
  const [operator, bound, secondOperator, secondBound, ...rest] = operand as unknown[];
  if (typeof operator !== 'string') return invalid(`Invalid member in numeric match: ${shown(operator)}`);
  if (!NUMERIC_OPERATORS.has(operator)) return invalid(`Unrecognized numeric range operator: ${operator}`);
  const number = (value: unknown, op: string): number =>
    typeof value === 'number' && Number.isFinite(value) ? value : invalid(`Value of ${op === '=' ? 'equals' : op} must be numeric`);
  const first = number(bound, operator);
  const single = (op: string, limit: number): ValueTest => {
    switch (op) {
      case '=':
        return (value) => typeof value === 'number' && value === limit;
      case '<':
        return (value) => typeof value === 'number' && value < limit;
      case '<=':
        return (value) => typeof value === 'number' && value <= limit;
      case '>':
        return (value) => typeof value === 'number' && value > limit;
      default:
        return (value) => typeof value === 'number' && value >= limit;
    }
  };
  if (operand.length === 2) return single(operator, first);
  // Only a lower bound (> or >=) may be followed by an upper bound (< or <=).
  if (operator === '=' || operator === '<' || operator === '<=') return invalid('Too many elements in numeric expression');
  if (typeof secondOperator !== 'string') return invalid(`Bad value in numeric range: ${shown(secondOperator)}`);
  if (secondOperator !== '<' && secondOperator !== '<=') return invalid(`Bad numeric range operator: ${secondOperator}`);
  const second = number(secondBound, secondOperator);
  if (rest.length > 0) return invalid('Too many terms in numeric range expression');
  if (!(first < second)) return invalid('Bottom must be less than top');
  const lower = single(operator, first);
  const upper = single(secondOperator, second);
  return (value) => lower(value) && upper(value);
}

function compileCidr(cidr: string): ValueTest {
  const parts = cidr.split('/');
  if (parts.length !== 2) return invalid("Malformed CIDR, one '/' required");
  const [address = '', maskText = ''] = parts;
  if (!/^\d+$/.test(maskText)) return invalid('Malformed CIDR, mask bits must be an integer');
  const mask = Number(maskText);
  const family = isIP(address);
  if (family === 0) return invalid(`Invalid IP address: ${address}`);
  // event-ruler's limits, as AWS states them (a /32 or /128 is written as the address itself).
  if (family === 4 && mask > 31) invalid('IPv4 mask bits must be < 32');
  if (family === 6 && mask > 127) invalid('IPv6 mask bits must be < 128');
  // node:net's BlockList does the address arithmetic, IPv6 shorthand included.
  const range = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  range.addSubnet(address, mask, type);
  return (value) => typeof value === 'string' && isIP(value) === family && range.check(value, type);
}

/**
 * `{"anything-but": "x" | 5 | ["a","b"] | [1,2] | {"prefix"|"suffix"|"wildcard"|"equals-ignore-case": "x" | ["x", …]}}`.
 * Matches a present value of any type that the exclusion does not cover.
 */
function compileAnythingBut(operand: unknown): ValueTest {
  if (isPlainObject(operand)) {
    const entries = Object.entries(operand);
    const first = entries[0] ?? invalid('Anything-But expression name not found');
    const [form, values] = first;
    if (!['prefix', 'suffix', 'wildcard', 'equals-ignore-case'].includes(form)) invalid(`Unsupported anything-but pattern: ${form}`);
    if (entries.length > 1) invalid('Too many elements in numeric expression');
    const list = Array.isArray(values) ? (values as unknown[]) : [values];
    if (!Array.isArray(values) && typeof values !== 'string' && typeof values !== 'number') {
      invalid('Value of anything-but must be an array or single string/number value.');
    }
    const strings = list.map((value) => {
      if (typeof value === 'string') {
        if ((form === 'prefix' || form === 'suffix') && value === '') invalid('Null prefix/suffix not allowed');
        return value;
      }
      if (form === 'equals-ignore-case')
        return invalid('Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.');
      if (form === 'wildcard') return invalid('wildcard match pattern must be a string');
      return invalid('prefix/suffix match pattern must be a string');
    });
    let excluded: (value: string) => boolean;
    switch (form) {
      case 'prefix':
        excluded = (value) => strings.some((prefix) => value.startsWith(prefix));
        break;
      case 'suffix':
        excluded = (value) => strings.some((suffix) => value.endsWith(suffix));
        break;
      case 'wildcard': {
        const globs = strings.map(compileWildcard);
        excluded = (value) => globs.some((glob) => glob(value));
        break;
      }
      default: {
        const lowered = new Set(strings.map((value) => value.toLowerCase()));
        excluded = (value) => lowered.has(value.toLowerCase());
      }
    }
    return (value) => !(typeof value === 'string' && excluded(value));
  }
  if (typeof operand === 'string') return (value) => value !== operand;
  if (typeof operand === 'number') return (value) => value !== operand;
  if (!Array.isArray(operand)) {
    if (operand === null || typeof operand === 'boolean') return invalid('Inside anything-but list, start|null|boolean is not supported.');
    return invalid('Value of anything-but must be an array or single string/number value.');
  }
  const list = operand as unknown[];
  if (list.some((value) => typeof value !== 'string' && typeof value !== 'number')) {
    invalid('Inside anything but list, start|null|boolean is not supported.');
  }
  const hasStrings = list.some((value) => typeof value === 'string');
  const hasNumbers = list.some((value) => typeof value === 'number');
  if (hasStrings === hasNumbers) invalid('Inside anything but list, either all values are number or string, mixed type is not supported');
  // A Set compares numbers by value (SameValueZero), so 100 excludes 1e2.
  const excluded = new Set<LeafValue>(list as Array<string | number>);
  return (value) => !excluded.has(value);
}

// ---------------------------------------------------------------- match

/** The leaf values at a field: arrays flattened, objects dropped (they are not leaves). */
function leafValues(value: unknown, into: LeafValue[]): LeafValue[] {
  if (Array.isArray(value)) for (const element of value) leafValues(element, into);
  else if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') into.push(value);
  return into;
}

function matchLeaf(condition: LeafCondition, value: unknown): boolean {
  const values = value === undefined ? [] : leafValues(value, []);
  if (values.length === 0) return condition.matchesAbsent;
  for (const leaf of values) for (const test of condition.tests) if (test(leaf)) return true;
  return false;
}

function matchObject(condition: ObjectCondition, value: unknown): boolean {
  // An array of objects matches if one element matches the whole object pattern.
  if (Array.isArray(value) && value.length > 0) return value.some((element) => matchObject(condition, element));
  const object = isPlainObject(value) ? value : undefined;
  for (const { name, condition: field } of condition.fields) {
    const fieldValue = object && Object.hasOwn(object, name) ? object[name] : undefined;
    if (!(field.kind === 'leaf' ? matchLeaf(field, fieldValue) : matchObject(field, fieldValue))) return false;
  }
  for (const branches of condition.anyOf) {
    if (!branches.some((branch) => matchObject(branch, object))) return false;
  }
  return true;
}

/**
 * Validates the whole pattern up front (throws `InvalidEventPatternError`)
 * and returns a matcher. `pattern` is the JSON text or its parsed object.
 * `matches` takes the event as an object, or as JSON text (TestEventPattern's
 * `Event`); text that is not JSON matches nothing.
 */
export function compileEventPattern(pattern: string | object): EventPattern {
  let parsed: unknown = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch (error) {
      invalid((error as Error).message);
    }
  }
  if (!isPlainObject(parsed)) return invalid('Filter is not an object');
  const root = compileObject(parsed, false);
  return {
    matches(event: unknown): boolean {
      let value = event;
      if (typeof event === 'string') {
        try {
          value = JSON.parse(event);
        } catch {
          return false;
        }
      }
      return isPlainObject(value) && matchObject(root, value);
    },
  };
}
