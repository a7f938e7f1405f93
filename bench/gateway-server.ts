/**
 * Child process of bench/gateway.ts: one HTTP server, printed as `listening <url>`.
 *
 *   --mode bare      node:http answering the /health response (the floor)
 *   --mode gateway   the API Gateway emulator (local/apigateway) over the CDK
 *                    fixture API, with an in-process invoker that answers at
 *                    once: what is left is the emulation's own cost
 *
 * The invoker answers GET /health and the REQUEST authorizer of /secure/{id}
 * (Allow, cache off), so an authorized route can be measured too.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { startApiGateway } from '../local/apigateway/index.js';
import type { FunctionInvoker, InvokeResult } from '../local/types.js';
import { synthApiFixture } from '../tests/fixtures/apigateway/cdk-stack.js';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'gateway' } } });

const body = JSON.stringify({ status: 'ok', service: 'switchyard', version: '0.1.0' });
const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };

let url: string;
if (values.mode === 'bare') {
  const server = createServer((_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
} else {
  const fixture = synthApiFixture({ authorizers: true });
  const ok = (payload: unknown): InvokeResult => ({ ok: true, payload, requestId: 'bench', durationMs: 0, logs: '' });
  const invoker: FunctionInvoker = {
    invoke(fn, event) {
      // What the Lambda service would hand back: a parsed JSON payload.
      if (fn === fixture.auth?.requestFn) {
        const arn = (event as { methodArn: string }).methodArn;
        return Promise.resolve(
          ok({
            principalId: 'bench',
            policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: arn }] },
            context: { role: 'admin' },
          }),
        );
      }
      return Promise.resolve(ok({ statusCode: 200, headers, body }));
    },
  };
  const gateway = await startApiGateway({ template: fixture.template, invoker });
  url = gateway.url;
}
console.log(`listening ${url}`);
process.on('SIGINT', () => process.exit(0));
