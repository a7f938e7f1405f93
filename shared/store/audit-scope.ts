/**
 * The audit context of the change being made: set once per request around the
 * route handler, read by the store's write path (TableStore.commit), so every
 * change is written in the same transaction as its audit record without each
 * domain call passing it along. AsyncLocalStorage keeps concurrent requests
 * (tests, a future multi-concurrency runtime) apart.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { AsyncLocalStorage } from 'node:async_hooks';
import { principalOf } from '../auth/principal.js';
import type { AuditContext } from '../domain/ports.js';
import type { BoundRoute } from '../http/route.js';

const scope = new AsyncLocalStorage<AuditContext>();

/** Runs `fn` with `context` as the audit context of every change it makes. */
export function withAudit<T>(context: AuditContext, fn: () => Promise<T>): Promise<T> {
  return scope.run(context, fn);
}

export function currentAudit(): AuditContext | undefined {
  return scope.getStore();
}

/** The audit context of an API request: the caller as the authorizer described it, and the operation. */
export function auditContextOf(event: APIGatewayProxyEvent, action: string): AuditContext {
  const principal = principalOf(event);
  return {
    actor: { id: principal.id, kind: principal.kind, name: principal.name },
    action,
    method: event.httpMethod,
    path: event.path,
    requestId: event.requestContext.requestId,
    sourceIp: principal.sourceIp,
  };
}

/** The routes of a function, each handler run inside its request's audit context. */
export function audited(routes: BoundRoute[]): BoundRoute[] {
  return routes.map((route) => ({
    spec: route.spec,
    handle: (input) => withAudit(auditContextOf(input.event, route.spec.operationId), () => route.handle(input)),
  }));
}

/**
 * Requests whose change already committed its audit record. The HTTP chain's
 * after-the-fact audit line (shared/http/guards.ts auditTrail → appendAudit)
 * is skipped for them, so a request is audited once; it still covers writes
 * that are not store changes (login, logout, refresh). Bounded: a Lambda
 * environment serves one request at a time, so a few ids are plenty.
 */
const auditedRequests = new Set<string>();
const MAX_REMEMBERED = 256;

export function rememberAudited(requestId: string): void {
  auditedRequests.add(requestId);
  if (auditedRequests.size > MAX_REMEMBERED) {
    const oldest = auditedRequests.values().next().value;
    if (oldest !== undefined) auditedRequests.delete(oldest);
  }
}

/** True once per request whose change was audited in its transaction (and forgets it). */
export function takeAudited(requestId: string): boolean {
  return auditedRequests.delete(requestId);
}
