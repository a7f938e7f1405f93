/**
 * Lambda's control and invoke API on the local endpoint (restJson1, routed
 * by path): `Invoke` (RequestResponse, Event, DryRun; `X-Amz-Log-Type: Tail`
 * returns the last 4 KB of the log as Lambda does) and `ListFunctions`, so
 * `aws lambda invoke --endpoint-url …`, any SDK's Lambda client and
 * `npm run invoke` reach the running runtime's functions.
 */
import type { HttpRouteRequest, HttpRouteResponse, LocalAwsEndpoint } from '../endpoint.js';
import type { FunctionInvoker, LocalFunctionDefinition } from '../../types.js';
import type { AsyncLambdaInvoker } from './async-invoke.js';

export const LAMBDA_API_PREFIX = '/2015-03-31/functions';
/** Lambda's LogResult carries at most the last 4 KB of the log. */
const LOG_TAIL_BYTES = 4096;

export interface LambdaApiBackend extends FunctionInvoker {
  functionArn(nameOrArn: string): string;
  definitions(): LocalFunctionDefinition[];
}

function error(statusCode: number, type: string, message: string): HttpRouteResponse {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: 'User', Message: message, message }),
  };
}

function header(request: HttpRouteRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function invokeRoute(backend: LambdaApiBackend, asyncInvoker: AsyncLambdaInvoker, name: string, request: HttpRouteRequest) {
  let functionArn: string;
  try {
    functionArn = backend.functionArn(name);
  } catch (e) {
    return error(404, 'ResourceNotFoundException', (e as Error).message);
  }
  let event: unknown = {};
  if (request.body.length > 0) {
    try {
      event = JSON.parse(request.body.toString('utf8'));
    } catch {
      return error(400, 'InvalidRequestContentException', 'Could not parse request body into json: the payload is not valid JSON');
    }
  }
  const traceHeader = header(request, 'x-amzn-trace-id');
  const options = traceHeader ? { traceHeader } : {};
  const type = header(request, 'x-amz-invocation-type') ?? 'RequestResponse';
  if (type === 'DryRun') return { statusCode: 204 };
  if (type === 'Event') {
    const requestId = asyncInvoker.invoke(functionArn, event, options);
    return { statusCode: 202, headers: { 'x-amzn-RequestId': requestId } };
  }
  if (type !== 'RequestResponse') return error(400, 'InvalidParameterValueException', `Unsupported InvocationType ${type}`);
  const result = await backend.invoke(functionArn, event, options);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-RequestId': result.requestId,
  };
  if (!result.ok) headers['X-Amz-Function-Error'] = result.functionError;
  if (header(request, 'x-amz-log-type') === 'Tail') {
    const log = Buffer.from(result.logs, 'utf8');
    headers['X-Amz-Log-Result'] = log.subarray(Math.max(0, log.length - LOG_TAIL_BYTES)).toString('base64');
  }
  return { statusCode: 200, headers, body: JSON.stringify(result.payload ?? null) };
}

function listFunctions(backend: LambdaApiBackend): HttpRouteResponse {
  const functions = backend.definitions().map((f) => ({
    FunctionName: f.functionName,
    FunctionArn: backend.functionArn(f.functionName),
    Runtime: f.runtime,
    Handler: f.handler,
    Timeout: f.timeoutSeconds,
    MemorySize: f.memorySizeMb,
    Version: '$LATEST',
    PackageType: 'Zip',
  }));
  return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Functions: functions }) };
}

export function registerLambdaApi(endpoint: LocalAwsEndpoint, backend: LambdaApiBackend, asyncInvoker: AsyncLambdaInvoker): void {
  endpoint.addRoute(LAMBDA_API_PREFIX, async (request) => {
    const rest = request.path.slice(LAMBDA_API_PREFIX.length);
    if (request.method === 'GET' && (rest === '' || rest === '/')) return listFunctions(backend);
    const invoke = /^\/([^/]+)\/invocations$/.exec(rest);
    if (invoke?.[1] && request.method === 'POST') return invokeRoute(backend, asyncInvoker, decodeURIComponent(invoke[1]), request);
    return error(404, 'UnknownOperationException', `The local Lambda API has no operation ${request.method} ${request.path}`);
  });
}
