/**
 * A route is declared once (shared/api/*.routes.ts) with the zod schemas of its
 * body, path parameters and query. The same declaration drives the CDK API
 * resources (lib/api.ts), request parsing (shared/http/middleware.ts) and the
 * OpenAPI document (bin/openapi.ts), so they cannot drift apart.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { z } from 'zod';
import type { RatePolicy } from '../auth/rate-limits.js';
import type { Access } from '../auth/roles.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The Lambda functions that serve the API; one per resource family. */
export type ApiFunctionName =
  | 'health'
  | 'receivers'
  | 'groups'
  | 'events'
  | 'auth'
  | 'users'
  | 'apikeys'
  | 'audit'
  | 'webhooks'
  // ---- rollouts (issue 10): configurations ----
  | 'configurations'
  // ---- edge locations (issue 10) ----
  | 'edges'
  | 'deployments';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

/** Request media types besides application/json, each with the zod schema of its body. */
export type MediaBodies = Readonly<Record<string, z.ZodType>>;

export interface RouteSpec<
  TBody extends z.ZodType | undefined = z.ZodType | undefined,
  TParams extends z.ZodType | undefined = z.ZodType | undefined,
  TQuery extends z.ZodType | undefined = z.ZodType | undefined,
  TMedia extends MediaBodies | undefined = MediaBodies | undefined,
> {
  operationId: string;
  method: HttpMethod;
  /** API Gateway resource path, e.g. `/api/v1/receivers/{id}`. */
  path: string;
  functionName: ApiFunctionName;
  /** Who may call it; enforced by the Lambda authorizer (RBAC) before the handler runs. */
  access: Access;
  /** Which rate-limit bucket it is charged to (default: the caller's tier; `none` for health). */
  rateLimit?: RatePolicy;
  summary: string;
  description?: string;
  tags: string[];
  body?: TBody;
  /**
   * Other request media types the route accepts (e.g. `application/cloudevents+json`),
   * each parsed with its own schema; `body` is the schema of application/json and of
   * any other JSON media type. Needs `body`.
   */
  mediaBodies?: TMedia;
  params?: TParams;
  query?: TQuery;
  /**
   * Its success response carries a secret shown once (an API key, tokens): an
   * Idempotency-Key replay of it is refused rather than stored (./idempotency.ts).
   */
  secretResponse?: boolean;
  /**
   * An edge key may call it too, for its own edge only: the route's `{id}`
   * must be the key's edge (DESIGN.md §6; the authorizer enforces it, and
   * `access` still says which role other callers need).
   */
  edgeKey?: boolean;
  /** Whether the route honours `If-Match` (documented; enforced by the handler). */
  ifMatch?: boolean;
  /** Success responses; error responses are the shared problem+json set. */
  responses: Record<number, ResponseSpec>;
}

export function defineRoute<
  TBody extends z.ZodType | undefined = undefined,
  TParams extends z.ZodType | undefined = undefined,
  TQuery extends z.ZodType | undefined = undefined,
  TMedia extends MediaBodies | undefined = undefined,
>(spec: RouteSpec<TBody, TParams, TQuery, TMedia>): RouteSpec<TBody, TParams, TQuery, TMedia> {
  return spec;
}

/** The media type of a Content-Type header value, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The schema a request body of this media type is parsed with. */
export function bodySchemaFor(spec: RouteSpec, mediaType: string): z.ZodType | undefined {
  return spec.mediaBodies?.[mediaType] ?? spec.body;
}

type Parsed<T> = [T] extends [z.ZodType] ? z.output<T> : undefined;
type MediaParsed<M> = [M] extends [MediaBodies] ? z.output<M[keyof M]> : never;
type BodyOf<R> = R extends RouteSpec<infer B, infer _P, infer _Q, infer M> ? Parsed<B> | MediaParsed<M> : never;
type ParamsOf<R> = R extends RouteSpec<infer _B, infer P, infer _Q, infer _M> ? Parsed<P> : never;
type QueryOf<R> = R extends RouteSpec<infer _B, infer _P, infer Q, infer _M> ? Parsed<Q> : never;

export interface RouteInput<R extends RouteSpec> {
  body: BodyOf<R>;
  params: ParamsOf<R>;
  query: QueryOf<R>;
  /** Request headers with lower-cased names. */
  headers: Record<string, string>;
  requestId: string;
  event: APIGatewayProxyEvent;
  /**
   * Aborted by middy shortly before the Lambda timeout (HttpConfig.timeoutEarlyMs):
   * pass it on to what can be cancelled (`fetch(url, { signal })`,
   * `client.send(command, { abortSignal: signal })`) so abandoned work stops.
   */
  signal: AbortSignal;
}

export interface HttpResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler<R extends RouteSpec> = (input: RouteInput<R>) => Promise<HttpResult>;

export interface BoundRoute {
  spec: RouteSpec;
  handle: (input: RouteInput<RouteSpec>) => Promise<HttpResult>;
}

/** Binds a handler to its declared route; the input is typed from the route's schemas. */
export function bind<R extends RouteSpec>(spec: R, handle: RouteHandler<R>): BoundRoute {
  return { spec, handle: handle as BoundRoute['handle'] };
}

export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/** Header names are case-insensitive and API Gateway v1 passes them as the client sent them. */
export function lowerCaseHeaders(headers: Record<string, string | undefined> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}
