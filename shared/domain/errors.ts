/**
 * Domain errors. The domain throws these; exactly one place
 * (shared/http/problem.ts) turns them into RFC 9457 problem+json responses.
 */

export interface FieldError {
  /** JSON pointer-ish dotted path of the offending field, e.g. `body.schema.type`. */
  path: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: string;
  readonly errors?: FieldError[];

  constructor(message: string, errors?: FieldError[]) {
    super(message);
    this.name = new.target.name;
    if (errors) this.errors = errors;
  }
}

/** The request is malformed or fails validation (400). */
export class ValidationError extends DomainError {
  constructor(
    message: string,
    errors?: FieldError[],
    readonly code = 'VALIDATION_FAILED',
  ) {
    super(message, errors);
  }
}

/** The addressed entity does not exist (404). */
export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} does not exist`);
  }
}

/** Optimistic-lock conflict: the caller's revision is not the stored one (409). */
export class VersionConflictError extends DomainError {
  readonly code = 'VERSION_CONFLICT';
  constructor(
    readonly entity: string,
    readonly id: string,
    readonly expectedRevision: number,
  ) {
    super(`${entity} ${id} is no longer at revision ${expectedRevision}; read it again and retry`);
  }
}

/** A uniqueness or existence constraint failed on create (409). */
export class AlreadyExistsError extends DomainError {
  readonly code = 'ALREADY_EXISTS';
}

/** The thing asked for is held by something else (409), e.g. an edge already in an active deployment; `code` says what. */
export class ConflictError extends DomainError {
  constructor(
    message: string,
    readonly code: string,
    errors?: FieldError[],
  ) {
    super(message, errors);
  }
}

/** `If-Match` did not match the current revision (412). */
export class PreconditionFailedError extends DomainError {
  readonly code = 'PRECONDITION_FAILED';
}

/** Well-formed input that breaks a business rule (422). */
export class RuleViolationError extends DomainError {
  constructor(
    message: string,
    readonly code: string,
    errors?: FieldError[],
  ) {
    super(message, errors);
  }
}

/** No valid credential (401). Deliberately vague: the detail must not help an attacker. */
export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Authentication is required: send a valid bearer token or X-API-Key') {
    super(message);
  }
}

/** Authenticated but not allowed (403); names the role that is missing. */
export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(readonly requiredRole: string) {
    super(`This operation needs the ${requiredRole} role`);
  }
}
