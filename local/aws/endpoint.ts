/**
 * The local AWS-compatible endpoint (DESIGN.md §7): one HTTP server that
 * handlers reach through the SDK's endpoint settings (`AWS_ENDPOINT_URL` or
 * `AWS_ENDPOINT_URL_<SERVICE>`), so their code is the same as on AWS.
 *
 * - AWS JSON protocol (1.0 and 1.1): `POST /` with `X-Amz-Target:
 *   <prefix>.<Operation>` is dispatched to the service registered for the
 *   prefix: `secretsmanager` today; `AmazonSQS`, `AWSEvents` and
 *   `AWSStepFunctions` are further `AwsJsonService`s on the same endpoint.
 * - Errors are answered as the SDK's JSON deserializer reads them: status 400
 *   (or the error's own), body `{"__type", "message"}` and header
 *   `x-amzn-errortype`.
 * - SigV4 signatures are not checked (any credentials work).
 * - Services served by another process (DynamoDB Local) are proxied by their
 *   X-Amz-Target prefix, body and signature untouched, so one endpoint
 *   answers every AWS API the runtime has.
 * - restJson1 APIs (Lambda's Invoke) and plain HTTP (the CloudFormation
 *   custom resource ResponseURL) are routed by path prefix.
 * - Every call is counted by service and operation (`calls()`, also served
 *   read-only at `GET /_switchyard/calls`).
 * - Faults on demand: every AWS call (JSON, proxied or path-routed) is first
 *   put to the chaos room (local/aws/chaos), which may answer an AWS error
 *   instead; its rules are set at `/_switchyard/chaos`.
 *
 * node:http is enough: the protocol is a JSON body in, a JSON body out.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { callOfRestRequest, callOfTarget, CHAOS_PATH, ChaosRoom, type ChaosFault, type ChaosRoomOptions } from './chaos/index.js';

/** An error answered to the client as an AWS service error. */
export class AwsServiceError extends Error {
  constructor(
    /** The error shape's name, e.g. `ResourceNotFoundException` (the SDK maps it to its exception class). */
    readonly type: string,
    message: string,
    readonly statusCode = 400,
    /** Extra response headers, e.g. SQS's `x-amzn-query-error` for query-compatible error codes. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = type;
  }
}

export interface AwsRequestContext {
  /** `x-amzn-RequestId` of the response. */
  requestId: string;
  /** The full X-Amz-Target, e.g. `secretsmanager.GetSecretValue`. */
  target: string;
  /** Region of the SigV4 credential scope, when the request is signed. */
  region?: string;
  headers: IncomingHttpHeaders;
}

/** A service spoken over the AWS JSON protocol. */
export interface AwsJsonService {
  /** The X-Amz-Target prefix before the dot: `secretsmanager`, `AmazonSQS`, `AWSEvents`, `AWSStepFunctions`. */
  readonly targetPrefix: string;
  /** `1.1` (Secrets Manager, EventBridge) or `1.0` (SQS, Step Functions): the response Content-Type. */
  readonly jsonVersion: '1.0' | '1.1';
  /** Returns the operation's output (serialized as JSON) or throws an `AwsServiceError`. */
  handle(operation: string, input: Record<string, unknown>, context: AwsRequestContext): unknown;
}

export interface HttpRouteRequest {
  method: string;
  /** Path without the query string, not decoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpRouteResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type HttpRouteHandler = (request: HttpRouteRequest) => HttpRouteResponse | Promise<HttpRouteResponse>;

export interface LocalAwsEndpointOptions {
  /** 0 (default) = any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  services: AwsJsonService[];
  /** Fault injection rules in force from the start, and the random source (tests). */
  chaos?: ChaosRoomOptions;
  /** One entry per request, for an access log. */
  onRequest?: (entry: {
    target?: string;
    method: string;
    path: string;
    statusCode: number;
    durationMs: number;
    errorType?: string;
  }) => void;
}

export interface LocalAwsEndpoint {
  /** Base URL for `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` / a client's `endpoint`. */
  endpoint: string;
  port: number;
  /** Registers another service (same prefix replaces the previous one). */
  addService(service: AwsJsonService): void;
  /** Serves plain HTTP requests whose path starts with `pathPrefix` (the longest prefix wins); returns the unregister function. */
  addRoute(pathPrefix: string, handler: HttpRouteHandler): () => void;
  /** Forwards JSON-protocol calls whose X-Amz-Target starts with `targetPrefix` (e.g. `DynamoDB_20120810`) to `upstream` unchanged. */
  addProxy(targetPrefix: string, upstream: string): void;
  /** Calls answered so far, keyed `<target prefix or path route>.<operation>`. */
  calls(): Record<string, number>;
  /** The fault injection rules consulted before every AWS call (also served at `/_switchyard/chaos`). */
  readonly chaos: ChaosRoom;
  stop(): Promise<void>;
}

/** The path of the per-call counters (`calls()`), read-only. */
export const CALLS_PATH = '/_switchyard/calls';

/** Largest request body accepted (Secrets Manager's own limit is 64 KB per value; SQS 256 KB + envelope). */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AwsServiceError('RequestEntityTooLargeException', 'Request body too large', 413));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/secretsmanager/aws4_request, ...` → `us-east-1`. */
function regionOf(headers: IncomingHttpHeaders): string | undefined {
  const match = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(headers.authorization ?? '');
  return match?.[1];
}

export async function startLocalAwsEndpoint(options: LocalAwsEndpointOptions): Promise<LocalAwsEndpoint> {
  const services = new Map<string, AwsJsonService>();
  const addService = (service: AwsJsonService) => services.set(service.targetPrefix, service);
  for (const service of options.services) addService(service);
  const routes = new Map<string, HttpRouteHandler>();
  const proxies = new Map<string, URL>();
  // Keep-alive to the upstream: a new TCP connection per proxied call would cost more than the call.
  const proxyAgent = new Agent({ keepAlive: true, maxSockets: 64 });
  const counts = new Map<string, number>();
  const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const chaos = new ChaosRoom(options.chaos);
  routes.set(CHAOS_PATH, (request) => chaos.handle(request));
  // Read-only: the per-call counters over HTTP (bench/events.ts counts AWS calls per ingested event).
  routes.set(CALLS_PATH, (request): HttpRouteResponse =>
    request.method === 'GET'
      ? { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(Object.fromEntries(counts)) }
      : { statusCode: 405, headers: { Allow: 'GET' }, body: '' },
  );

  const send = (res: ServerResponse, statusCode: number, headers: Record<string, string>, body: string | Buffer) => {
    res.writeHead(statusCode, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
  /** An injected fault, answered as the service answers that error. */
  const sendFault = (res: ServerResponse, fault: ChaosFault, contentType: string) =>
    send(
      res,
      fault.statusCode,
      { 'Content-Type': contentType, 'x-amzn-RequestId': randomUUID(), 'x-amzn-ErrorType': fault.code },
      JSON.stringify(fault.body),
    );

  async function handleAwsJson(req: IncomingMessage, res: ServerResponse, target: string, body: Buffer) {
    const started = performance.now();
    const requestId = randomUUID();
    const dot = target.lastIndexOf('.');
    const service = dot > 0 ? services.get(target.slice(0, dot)) : undefined;
    const operation = target.slice(dot + 1);
    count(target);
    // Answer in the dialect the client spoke (1.0 or 1.1).
    const requested = /application\/x-amz-json-1\.[01]/.exec(req.headers['content-type'] ?? '')?.[0];
    const contentType = requested ?? `application/x-amz-json-${service?.jsonVersion ?? '1.1'}`;
    let statusCode = 200;
    let errorType: string | undefined;
    try {
      const fault = chaos.intercept(callOfTarget(target));
      if (fault) throw new AwsServiceError(fault.code, fault.message, fault.statusCode);
      if (!service) throw new AwsServiceError('UnknownOperationException', `No local service handles ${target}`);
      let input: unknown = {};
      if (body.length > 0) {
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch {
          throw new AwsServiceError('SerializationException', 'Request body is not valid JSON');
        }
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) {
        throw new AwsServiceError('SerializationException', 'Request body must be a JSON object');
      }
      const region = regionOf(req.headers);
      const output = await service.handle(operation, input as Record<string, unknown>, {
        requestId,
        target,
        headers: req.headers,
        ...(region ? { region } : {}),
      });
      send(res, 200, { 'Content-Type': contentType, 'x-amzn-RequestId': requestId }, JSON.stringify(output ?? {}));
    } catch (error) {
      const known = error instanceof AwsServiceError;
      statusCode = known ? error.statusCode : 500;
      errorType = known ? error.type : 'InternalFailure';
      const message = known ? error.message : `Local endpoint error: ${(error as Error)?.message ?? String(error)}`;
      send(
        res,
        statusCode,
        {
          'Content-Type': contentType,
          'x-amzn-RequestId': requestId,
          'x-amzn-errortype': errorType,
          ...(known ? error.headers : {}),
        },
        JSON.stringify({ __type: errorType, message }),
      );
    }
    options.onRequest?.({
      target,
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      statusCode,
      durationMs: performance.now() - started,
      ...(errorType ? { errorType } : {}),
    });
  }

  /** Streams the call to the upstream and its answer back, untouched. */
  function handleProxy(req: IncomingMessage, res: ServerResponse, target: string, upstream: URL) {
    const started = performance.now();
    count(target);
    const fault = chaos.intercept(callOfTarget(target));
    if (fault) {
      req.resume(); // the body is not needed, but must be read for the connection to be reused
      sendFault(res, fault, 'application/x-amz-json-1.0');
      const entry = { target, method: req.method ?? 'POST', path: req.url ?? '/', errorType: fault.code };
      options.onRequest?.({ ...entry, statusCode: fault.statusCode, durationMs: performance.now() - started });
      return;
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: upstream.host },
        agent: proxyAgent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('end', () =>
          options.onRequest?.({
            target,
            method: req.method ?? 'POST',
            path: req.url ?? '/',
            statusCode: answer.statusCode ?? 502,
            durationMs: performance.now() - started,
          }),
        );
      },
    );
    forward.once('error', (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = `The local ${target.split('.')[0]} service is not reachable: ${error.message}`;
      send(
        res,
        503,
        { 'Content-Type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'ServiceUnavailable' },
        JSON.stringify({ __type: 'ServiceUnavailable', message }),
      );
    });
    req.pipe(forward);
  }

  async function handleRoute(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://local');
    let best: string | undefined;
    for (const prefix of routes.keys()) {
      if (url.pathname.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
    }
    let statusCode = 404;
    const handler = best === undefined ? undefined : routes.get(best);
    if (best !== undefined) count(`${req.method ?? 'GET'} ${best}`);
    const call = handler ? callOfRestRequest(req.method ?? 'GET', url.pathname) : undefined;
    const fault = call ? chaos.intercept(call) : undefined;
    if (!handler) {
      send(res, 404, { 'Content-Type': 'text/plain' }, `No local route for ${req.method} ${url.pathname}\n`);
    } else if (fault) {
      statusCode = fault.statusCode;
      sendFault(res, fault, 'application/json');
    } else {
      try {
        const out = await handler({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body });
        statusCode = out.statusCode;
        send(res, out.statusCode, out.headers ?? {}, out.body ?? '');
      } catch (error) {
        statusCode = 500;
        send(res, 500, { 'Content-Type': 'text/plain' }, `${(error as Error)?.message ?? String(error)}\n`);
      }
    }
    options.onRequest?.({
      method: req.method ?? 'GET',
      path: url.pathname,
      statusCode,
      durationMs: performance.now() - started,
      ...(fault && handler ? { errorType: fault.code } : {}),
    });
  }

  const server = createServer((req, res) => {
    const proxyTarget = req.headers['x-amz-target'];
    if (typeof proxyTarget === 'string') {
      const dot = proxyTarget.indexOf('.');
      const upstream = proxies.get(dot > 0 ? proxyTarget.slice(0, dot) : proxyTarget);
      if (upstream) {
        handleProxy(req, res, proxyTarget, upstream);
        return;
      }
    }
    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(req);
      } catch (error) {
        const e = error instanceof AwsServiceError ? error : new AwsServiceError('SerializationException', String(error));
        if (!res.headersSent)
          send(res, e.statusCode, { 'x-amzn-errortype': e.type }, JSON.stringify({ __type: e.type, message: e.message }));
        return;
      }
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && req.method === 'POST') await handleAwsJson(req, res, target, body);
      else await handleRoute(req, res, body);
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { 'Content-Type': 'text/plain' }, String(error));
      else res.destroy();
    });
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // A wildcard listen address is not something a client can connect to.
  const connectHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://${connectHost}:${port}`,
    port,
    addService,
    addRoute(pathPrefix, handler) {
      routes.set(pathPrefix, handler);
      return () => {
        if (routes.get(pathPrefix) === handler) routes.delete(pathPrefix);
      };
    },
    addProxy(targetPrefix, upstream) {
      proxies.set(targetPrefix, new URL(upstream));
    },
    calls() {
      return Object.fromEntries(counts);
    },
    chaos,
    stop() {
      proxyAgent.destroy();
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // SDK clients keep connections alive; do not wait for them to time out.
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
