import { PreconditionFailedError, ValidationError, VersionConflictError } from './errors.js';

/**
 * The revision a write is conditional on, from the body's `revision` and/or an
 * `If-Match` header (ETag `"<revision>"`). One of them is required so that no
 * write silently overwrites a change the caller has not seen.
 */
export function expectedRevision(bodyRevision: number | undefined, ifMatch: string | undefined, current: number): number {
  let fromHeader: number | undefined;
  if (ifMatch !== undefined) {
    const match = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
    if (!match)
      throw new ValidationError('If-Match must be an ETag such as "3"', [{ path: 'headers.if-match', message: 'not a revision ETag' }]);
    fromHeader = Number(match[1]);
    if (fromHeader !== current) throw new PreconditionFailedError(`If-Match ${ifMatch} does not match the current revision ${current}`);
  }
  if (bodyRevision !== undefined && fromHeader !== undefined && bodyRevision !== fromHeader) {
    throw new ValidationError('revision and If-Match disagree', [
      { path: 'body.revision', message: `is ${bodyRevision} but If-Match says ${fromHeader}` },
    ]);
  }
  const expected = bodyRevision ?? fromHeader;
  if (expected === undefined) {
    throw new ValidationError('Say which revision you are changing: send `revision` in the body or an If-Match header', [
      { path: 'body.revision', message: 'required when If-Match is absent' },
    ]);
  }
  return expected;
}

export function etag(revision: number): string {
  return `"${revision}"`;
}

/**
 * The revision a change or delete of `current` applies to: 412 on a failed
 * If-Match, 409 when the caller's revision is stale. The store's conditional
 * write then guards the same revision against concurrent writers.
 */
export function writableRevision(
  entity: string,
  current: { id: string; revision: number },
  bodyRevision: number | undefined,
  ifMatch: string | undefined,
): number {
  const expected = expectedRevision(bodyRevision, ifMatch, current.revision);
  if (expected !== current.revision) throw new VersionConflictError(entity, current.id, expected);
  return expected;
}
