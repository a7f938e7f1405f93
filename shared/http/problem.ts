/**
 * The one error mapper: every failure leaves a handler as RFC 9457
 * problem+json `{type,title,status,detail,code,errors?,requestId}`.
 * Known errors keep their status; anything else is a 500 whose detail hides
 * internals (the log has them).
 */
import {
  AlreadyExistsError,
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  RuleViolationError,
  UnauthenticatedError,
  ValidationError,
  VersionConflictError,
  type FieldError,
} from '../domain/errors.js';

/** Transport-level failures that are not domain rules (413, 415, 405...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: FieldError[],
    /** Headers the error response must carry, e.g. Retry-After on a 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  requestId: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** The RFC 9457 title for a status, shared with the problems API Gateway answers itself (lib/api.ts). */
export function problemTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem types are URNs so they are stable without a hosted docs site; docs/api.md lists them. */
export function problemType(code: string): string {
  return `urn:switchyard:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}

function statusOf(error: DomainError): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof UnauthenticatedError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof VersionConflictError || error instanceof AlreadyExistsError || error instanceof ConflictError) return 409;
  if (error instanceof PreconditionFailedError) return 412;
  if (error instanceof RuleViolationError) return 422;
  return 400;
}

/** Maps any thrown value to a problem. `isServerFault` tells the caller to log it as an error. */
export function toProblem(error: unknown, requestId: string): { problem: Problem; isServerFault: boolean } {
  let status = 500;
  let code = 'INTERNAL_ERROR';
  let detail = 'An unexpected error occurred; quote the requestId when reporting it.';
  let errors: FieldError[] | undefined;
  if (error instanceof DomainError) {
    status = statusOf(error);
    code = error.code;
    detail = error.message;
    errors = error.errors;
  } else if (error instanceof HttpError) {
    status = error.status;
    code = error.code;
    detail = error.message;
    errors = error.errors;
  } else if ((error as Error)?.name === 'TimeoutError') {
    // A dependency timed out (the SDK's connection/request timeouts, an AbortSignal.timeout):
    // the service is unavailable for now, which a client may retry; the log has which call.
    status = 503;
    code = 'TIMEOUT';
    detail = 'A dependency did not answer in time; retry the request later';
  } else if ((error as Error)?.name === 'IdempotencyValidationError') {
    // Powertools idempotency, matched by name so this module stays free of it.
    status = 422;
    code = 'IDEMPOTENCY_KEY_REUSED';
    detail = 'This Idempotency-Key was already used with a different request body';
  } else if ((error as Error)?.name === 'IdempotencyAlreadyInProgressError') {
    status = 409;
    code = 'IDEMPOTENCY_IN_PROGRESS';
    detail = 'A request with this Idempotency-Key is still being processed; retry shortly';
  }
  const problem: Problem = {
    type: problemType(code),
    title: problemTitle(status),
    status,
    detail,
    code,
    ...(errors && errors.length > 0 ? { errors } : {}),
    requestId,
  };
  return { problem, isServerFault: status >= 500 };
}
