/**
 * Lambda event source mapping filter criteria (`FilterCriteria.Filters[].Pattern`):
 * EventBridge patterns applied to each record, which is kept if ANY pattern
 * matches (the Lambda developer guide, "Control which events Lambda sends to
 * your function").
 *
 * What a pattern sees, per source:
 * - `sqs`: the record, with `body` parsed when it is a JSON object or array.
 *   A body that is not (plain text, or a bare JSON scalar) stays the string,
 *   so a plain-string pattern on `body` matches it and an object pattern does
 *   not: Lambda drops a record whose body and pattern disagree in format.
 * - `dynamodb`: the stream record as it is (`{"dynamodb":{"NewImage":{"type":{"S":["Outbox"]}}}}`).
 * - `kinesis`: the record's fields with `kinesis.*` lifted to the top and
 *   `data` base64-decoded, parsed the same way as an SQS body (Kinesis
 *   mappings filter on the `data` key).
 */
import { compileEventPattern, type EventPattern } from './event-pattern.js';

export type FilterCriteriaSource = 'sqs' | 'dynamodb' | 'kinesis';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** JSON objects and arrays are parsed; anything else stays the text it was. */
function parsedPayload(text: string): unknown {
  const start = text.trimStart()[0];
  if (start !== '{' && start !== '[') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function filterView(record: unknown, source: FilterCriteriaSource): unknown {
  if (!isObject(record) || Array.isArray(record)) return record;
  switch (source) {
    case 'dynamodb':
      return record;
    case 'sqs':
      return typeof record.body === 'string' ? { ...record, body: parsedPayload(record.body) } : record;
    case 'kinesis': {
      const { kinesis, ...rest } = record;
      if (!isObject(kinesis) || typeof kinesis.data !== 'string') return record;
      return { ...rest, ...kinesis, data: parsedPayload(Buffer.from(kinesis.data, 'base64').toString('utf8')) };
    }
  }
}

/**
 * Compiles every pattern up front (an invalid one throws `InvalidEventPatternError`,
 * as CreateEventSourceMapping refuses it). No patterns = every record is kept.
 */
export function compileFilterCriteria(patterns: readonly string[], source: FilterCriteriaSource): { matches(record: unknown): boolean } {
  const compiled: EventPattern[] = patterns.map((pattern) => compileEventPattern(pattern));
  if (compiled.length === 0) return { matches: () => true };
  return {
    matches(record: unknown): boolean {
      const view = filterView(record, source);
      return compiled.some((pattern) => pattern.matches(view));
    },
  };
}
