/**
 * What a call is (service and operation, named as the AWS SDK and IAM name
 * them) and how AWS fails it: the error codes each service answers with, at
 * the HTTP status AWS uses for them.
 *
 * Sources: the "Common Errors" page every AWS API reference carries
 * (InternalFailure 500, ServiceUnavailable 503, ThrottlingException 400) and
 * each service's own API reference (Lambda Invoke: TooManyRequestsException
 * 429 with a `Reason`, ServiceException 500; DynamoDB:
 * ProvisionedThroughputExceededException and RequestLimitExceeded 400,
 * InternalServerError 500; EventBridge: InternalException 500; Secrets
 * Manager: InternalServiceError 500). The AWS SDK retries 500/502/503/504
 * and the throttling codes (and any 429), so an injected fault is retried or
 * not exactly as the real one would be.
 */

/** One AWS API call, as chaos rules name it. */
export interface AwsCall {
  /** `events`, `sqs`, `dynamodb`, `lambda`, … */
  service: string;
  /** `PutEvents`, `SendMessage`, `Invoke`, … */
  operation: string;
}

/** X-Amz-Target prefix → service name. */
const SERVICE_OF_TARGET_PREFIX: Record<string, string> = {
  AWSEvents: 'events',
  AmazonSQS: 'sqs',
  DynamoDB_20120810: 'dynamodb',
  DynamoDBStreams_20120810: 'dynamodbstreams',
  secretsmanager: 'secretsmanager',
  AWSStepFunctions: 'states',
};

/** The services chaos rules may name (a typo is refused rather than silently never firing). */
export const CHAOS_SERVICES = [...Object.values(SERVICE_OF_TARGET_PREFIX), 'lambda'].sort();

/** `AWSEvents.PutEvents` → `{ service: 'events', operation: 'PutEvents' }`. */
export function callOfTarget(target: string): AwsCall {
  const dot = target.lastIndexOf('.');
  const prefix = dot > 0 ? target.slice(0, dot) : target;
  const operation = dot > 0 ? target.slice(dot + 1) : '';
  return { service: SERVICE_OF_TARGET_PREFIX[prefix] ?? prefix.replace(/_\d+$/, '').toLowerCase(), operation };
}

/** Lambda's REST API paths (restJson1) → operation. */
const LAMBDA_ROUTES: Array<{ method: string; path: RegExp; operation: string }> = [
  { method: 'POST', path: /^\/2015-03-31\/functions\/[^/]+\/invocations\/?$/, operation: 'Invoke' },
  { method: 'POST', path: /^\/2014-11-13\/functions\/[^/]+\/invoke-async\/?$/, operation: 'InvokeAsync' },
  { method: 'GET', path: /^\/2015-03-31\/functions\/?$/, operation: 'ListFunctions' },
  { method: 'GET', path: /^\/2015-03-31\/functions\/[^/]+\/configuration\/?$/, operation: 'GetFunctionConfiguration' },
  { method: 'GET', path: /^\/2015-03-31\/functions\/[^/]+\/?$/, operation: 'GetFunction' },
];

/** A path-routed request → the AWS call it is; undefined for plain HTTP that is no AWS API (custom resource responses, this room's own route). */
export function callOfRestRequest(method: string, path: string): AwsCall | undefined {
  if (!/^\/20\d\d-\d\d-\d\d\/functions(\/|$)/.test(path)) return undefined;
  const route = LAMBDA_ROUTES.find((candidate) => candidate.method === method && candidate.path.test(path));
  return { service: 'lambda', operation: route?.operation ?? 'Unknown' };
}

interface ErrorShape {
  statusCode: number;
  message: string;
  /** Extra members of the error structure (Lambda's throttle `Reason`). */
  fields?: Record<string, string>;
}

const COMMON_ERRORS: Record<string, ErrorShape> = {
  InternalFailure: { statusCode: 500, message: 'The request processing has failed because of an unknown error, exception or failure.' },
  ServiceUnavailable: { statusCode: 503, message: 'The request has failed due to a temporary failure of the server.' },
  ThrottlingException: { statusCode: 400, message: 'Rate exceeded' },
};

const SERVICE_ERRORS: Record<string, Record<string, ErrorShape>> = {
  dynamodb: {
    InternalServerError: { statusCode: 500, message: 'Internal server error' },
    ProvisionedThroughputExceededException: {
      statusCode: 400,
      message:
        'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
    },
    RequestLimitExceeded: { statusCode: 400, message: 'Throughput exceeds the current throughput limit for your account.' },
  },
  dynamodbstreams: {
    InternalServerError: { statusCode: 500, message: 'Internal server error' },
    LimitExceededException: { statusCode: 400, message: 'Too many operations for a given subscriber.' },
  },
  events: {
    InternalException: { statusCode: 500, message: 'This exception occurs due to unexpected causes.' },
    LimitExceededException: {
      statusCode: 400,
      message: 'The request failed because it attempted to create resource beyond the allowed service quota.',
    },
  },
  lambda: {
    ServiceException: { statusCode: 500, message: 'The Lambda service encountered an internal error.' },
    TooManyRequestsException: {
      statusCode: 429,
      message: 'Rate Exceeded.',
      fields: { Type: 'User', Reason: 'ConcurrentInvocationLimitExceeded' },
    },
  },
  secretsmanager: {
    InternalServiceError: { statusCode: 500, message: 'An error occurred on the server side.' },
  },
  sqs: {
    RequestThrottled: { statusCode: 400, message: 'Request is throttled.' },
  },
  states: {},
};

/** The codes a rule for `service` may inject (`*` = every service: the common ones only). */
export function errorCodesOf(service: string): string[] {
  return [...Object.keys(COMMON_ERRORS), ...Object.keys(SERVICE_ERRORS[service] ?? {})];
}

/** A fault as the endpoint answers it. */
export interface ChaosFault {
  /** The error code (`__type` and `x-amzn-ErrorType`). */
  code: string;
  statusCode: number;
  message: string;
  /** The JSON body: `{"__type", "message"}` plus any service-specific members. */
  body: Record<string, string>;
}

export function faultFor(service: string, code: string): ChaosFault {
  const shape = SERVICE_ERRORS[service]?.[code] ?? COMMON_ERRORS[code];
  if (!shape) throw new Error(`no error ${code} for ${service}`);
  // Said in the message, so whoever reads the log knows the fault was injected.
  const message = `${shape.message} (injected by switchyard chaos)`;
  return { code, statusCode: shape.statusCode, message, body: { __type: code, message, ...shape.fields } };
}
