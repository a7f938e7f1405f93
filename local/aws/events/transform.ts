/**
 * What a rule's target receives: the event itself, or what its `Input`,
 * `InputPath` or `InputTransformer` make of it (EventBridge user guide,
 * "Amazon EventBridge input transformation").
 *
 * A template that is a JSON object (starts with `{`) is JSON text with
 * `<variable>` placeholders. As on AWS:
 * - outside a JSON string a placeholder becomes the value as JSON (a string
 *   gets its quotes, an object stays an object);
 * - inside a JSON string it becomes the raw text, not escaped (strings as
 *   they are, anything else as its JSON);
 * - a variable whose path matches nothing is not created: it becomes `null`
 *   outside a string and nothing inside one.
 * Any other template is text: every placeholder becomes the raw text (the
 * API reference's `<instance> is in state <status>`), so a template in
 * quotes (`"instance <instance> is in <state>"`) makes a JSON string.
 * Both know the reserved variables `aws.events.rule-name`,
 * `aws.events.rule-arn`, `aws.events.event.ingestion-time`,
 * `aws.events.event` (the event without `detail`) and
 * `aws.events.event.json` (the whole event).
 * The result is parsed as JSON; text that is not JSON (a template without
 * quotes around it) is delivered as that text.
 */

export interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

export interface TargetInput {
  Input?: string;
  InputPath?: string;
  InputTransformer?: InputTransformer;
}

export interface TransformContext {
  ruleName: string;
  ruleArn: string;
  /** When EventBridge received the event (epoch ms). */
  ingestionTime: number;
}

export class InvalidJsonPathError extends Error {
  override readonly name = 'InvalidJsonPathError';
}

const NO_VALUE = Symbol('no value');
type Found = unknown | typeof NO_VALUE;

/**
 * The JSONPath subset EventBridge evaluates: `$`, dot names (with dashes,
 * underscores, slashes), `['name']`, array indices and `*` wildcards.
 */
export function evaluateJsonPath(document: unknown, path: string): Found {
  const trimmed = path.trim();
  if (!trimmed.startsWith('$')) throw new InvalidJsonPathError(`"${path}" does not start with $`);
  const steps: Array<string | number | '*'> = [];
  const stepPattern = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\*\]/y;
  stepPattern.lastIndex = 1;
  while (stepPattern.lastIndex < trimmed.length) {
    const at = stepPattern.lastIndex;
    const match = stepPattern.exec(trimmed);
    if (!match) throw new InvalidJsonPathError(`"${path}" is not a supported JSON path (at ${at})`);
    if (match[1] !== undefined) steps.push(match[1] === '*' ? '*' : match[1]);
    else if (match[2] !== undefined) steps.push(Number(match[2]));
    else if (match[3] !== undefined) steps.push(match[3]);
    else steps.push('*');
  }
  let current: unknown[] = [document];
  let wildcard = false;
  for (const step of steps) {
    const nextValues: unknown[] = [];
    for (const node of current) {
      if (node === null || typeof node !== 'object') continue;
      if (step === '*') {
        wildcard = true;
        nextValues.push(...(Array.isArray(node) ? node : Object.values(node)));
      } else if (typeof step === 'number') {
        if (Array.isArray(node) && step < node.length) nextValues.push(node[step]);
      } else if (!Array.isArray(node) && Object.hasOwn(node, step)) {
        nextValues.push((node as Record<string, unknown>)[step]);
      }
    }
    current = nextValues;
  }
  if (wildcard) return current;
  return current.length === 0 ? NO_VALUE : current[0];
}

const RESERVED = new Set([
  'aws.events.rule-name',
  'aws.events.rule-arn',
  'aws.events.event',
  'aws.events.event.json',
  'aws.events.event.ingestion-time',
]);

export function isReservedVariable(name: string): boolean {
  return RESERVED.has(name);
}

/** Variables of a transformer for one event; a path matching nothing creates no variable. */
function variables(event: Record<string, unknown>, transformer: InputTransformer, context: TransformContext): Map<string, unknown> {
  const vars = new Map<string, unknown>();
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) {
    const value = evaluateJsonPath(event, path);
    if (value !== NO_VALUE) vars.set(name, value);
  }
  const { detail: _detail, ...withoutDetail } = event;
  vars.set('aws.events.rule-name', context.ruleName);
  vars.set('aws.events.rule-arn', context.ruleArn);
  vars.set('aws.events.event.ingestion-time', isoSeconds(context.ingestionTime));
  vars.set('aws.events.event', withoutDetail);
  vars.set('aws.events.event.json', event);
  return vars;
}

/** Fills the template; see the module comment for the quoting rules. */
export function renderInputTemplate(template: string, vars: ReadonlyMap<string, unknown>): string {
  const json = template.trimStart().startsWith('{');
  let out = '';
  // In a text template every placeholder is "in a string": its value goes in raw.
  let inString = !json;
  for (let i = 0; i < template.length; i++) {
    const char = template[i] as string;
    if (json && inString && char === '\\') {
      out += char + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if (json && char === '"') inString = !inString;
    if (char === '<') {
      const close = template.indexOf('>', i + 1);
      const name = close > 0 ? template.slice(i + 1, close) : '';
      if (name && vars.has(name)) {
        const value = vars.get(name);
        out += inString ? (typeof value === 'string' ? value : JSON.stringify(value)) : JSON.stringify(value);
        i = close;
        continue;
      }
      if (/^[A-Za-z0-9_.-]+$/.test(name)) {
        // A variable the event did not provide.
        out += inString ? '' : 'null';
        i = close;
        continue;
      }
    }
    out += char;
  }
  return out;
}

/** The payload a target gets for `event` (an EventBridge envelope). */
export function targetPayload(event: Record<string, unknown>, target: TargetInput, context: TransformContext): unknown {
  if (target.Input !== undefined) return parseOrText(target.Input);
  if (target.InputPath !== undefined) {
    const value = evaluateJsonPath(event, target.InputPath);
    return value === NO_VALUE ? null : value;
  }
  if (target.InputTransformer !== undefined) {
    return parseOrText(renderInputTemplate(target.InputTransformer.InputTemplate, variables(event, target.InputTransformer, context)));
  }
  return event;
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `2015-11-11T21:29:54Z`: EventBridge's times have no milliseconds. */
export function isoSeconds(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
