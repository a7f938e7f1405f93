/**
 * The floor for GET /health (bench/run.ts): a bare node:http server that
 * imports the SAME bundled handler the runtime runs (from its cloud assembly)
 * and calls it in-process with a proxy event, one request at a time per
 * connection: no API Gateway emulation, no execution environment, no
 * serialization. What the runtime spends beyond this is emulation.
 *
 *   node bench/bare-server.mjs <handler file> <export name> <environment JSON>
 *
 * The environment is the function's own (as the runtime gives it, see
 * bench/run.ts), set before the bundle is imported, since handlers read it at
 * module load. The handler's output (Powertools logs, EMF metrics) goes to
 * /dev/null (stdout is ignored by the parent); the URL goes back over IPC.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

const [file, exportName, environmentJson] = process.argv.slice(2);
if (!file || !exportName) throw new Error('usage: bare-server.mjs <handler file> <export name> [environment JSON]');
Object.assign(process.env, JSON.parse(environmentJson ?? '{}'));
const mod = await import(pathToFileURL(file).href);
// A CommonJS bundle (index.js) arrives as module.exports on `default`; an ESM one (index.mjs) exports by name.
const handler = mod[exportName] ?? mod.default?.[exportName];
if (typeof handler !== 'function') throw new Error(`${file} exports no function ${exportName}`);

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'health';
/** Lambda's context object, as far as handlers read it. @param {string} requestId */
const context = (requestId) => ({
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:function:${functionName}`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
  awsRequestId: requestId,
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 3000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/**
 * A REST API proxy event (v1) for the request: what API Gateway would hand the function.
 * @param {import('node:http').IncomingMessage} req
 * @param {string} requestId
 */
function proxyEvent(req, requestId) {
  /** @type {Record<string, string>} */
  const headers = {};
  /** @type {Record<string, string[]>} */
  const multiValueHeaders = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = /** @type {string} */ (req.rawHeaders[i]);
    const value = /** @type {string} */ (req.rawHeaders[i + 1]);
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const now = Date.now();
  return {
    resource: '/health',
    path: '/health',
    httpMethod: req.method,
    headers,
    multiValueHeaders,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      resourceId: 'health',
      resourcePath: '/health',
      httpMethod: req.method,
      requestTime: new Date(now).toUTCString(),
      path: '/prod/health',
      accountId: '000000000000',
      protocol: 'HTTP/1.1',
      stage: 'prod',
      domainPrefix: '127',
      requestTimeEpoch: now,
      requestId,
      identity: { sourceIp: '127.0.0.1', userAgent: req.headers['user-agent'] ?? null },
      domainName: '127.0.0.1',
      apiId: 'bench',
      authorizer: null,
    },
    body: null,
    isBase64Encoded: false,
  };
}

/**
 * The handler's result as API Gateway answers it, headers without a value left out.
 * @param {import('node:http').ServerResponse} res
 * @param {{ statusCode: number, headers?: Record<string, unknown>, multiValueHeaders?: Record<string, unknown[]>, body?: string }} result
 */
function respond(res, result) {
  /** @type {string[]} */
  const flat = [];
  for (const [name, value] of Object.entries(result.headers ?? {})) if (value != null) flat.push(name, String(value));
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) for (const v of values ?? []) flat.push(name, String(v));
  res.writeHead(result.statusCode, flat);
  res.end(result.body ?? '');
}

const server = createServer((req, res) => {
  const requestId = randomUUID();
  // The trace header Lambda sets per invocation (the Powertools tracer reads it).
  const hex = randomUUID().replace(/-/g, '');
  process.env._X_AMZN_TRACE_ID = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${hex.slice(0, 24)};Parent=${hex.slice(16, 32)};Sampled=1`;
  Promise.resolve(handler(proxyEvent(req, requestId), context(requestId)))
    .then((result) => respond(res, result))
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  if (process.send) process.send({ url });
  else console.error(`listening ${url}`);
});
process.on('SIGINT', () => process.exit(0));
