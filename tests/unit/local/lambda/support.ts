/** Shared by the local Lambda tests: function definitions on the fixture bundles, services stopped after each test. */
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { LambdaService } from '../../../../local/lambda/service.js';
import type { LambdaServiceOptions } from '../../../../local/lambda/service.js';
import type { InvokeResult, LocalFunctionDefinition } from '../../../../local/types.js';

export const FIXTURES = fileURLToPath(new URL('../../../fixtures/lambda/', import.meta.url));

export function fn(
  functionName: string,
  asset: string,
  handler: string,
  overrides: Partial<LocalFunctionDefinition> = {},
): LocalFunctionDefinition {
  return {
    logicalId: `${functionName}Function0A1B2C3D`,
    functionName,
    assetDir: FIXTURES + asset,
    handler,
    runtime: 'nodejs22.x',
    timeoutSeconds: 5,
    memorySizeMb: 256,
    environment: {},
    ...overrides,
  };
}

const services: LambdaService[] = [];

/** A service stopped after the test. */
export function service(defs: LocalFunctionDefinition[], options: Partial<LambdaServiceOptions> = {}): LambdaService {
  const s = new LambdaService(defs, { baseEnvironment: { AWS_REGION: 'eu-west-1' }, ...options });
  services.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

export function okPayload<T>(result: InvokeResult): T {
  if (!result.ok) throw new Error(`invocation failed: ${JSON.stringify(result.payload)}`);
  return result.payload as T;
}

export function errorPayload(result: InvokeResult) {
  if (result.ok) throw new Error(`invocation succeeded: ${JSON.stringify(result.payload)}`);
  expect(result.functionError).toBe('Unhandled');
  return result.payload;
}

/** The lines a handler wrote: between START and END of its invocation. */
export function ownLines(result: InvokeResult): string[] {
  const lines = result.logs.trimEnd().split('\n');
  const start = lines.indexOf(`START RequestId: ${result.requestId} Version: $LATEST`);
  const end = lines.indexOf(`END RequestId: ${result.requestId}`);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** `<ISO time>\t<request id>\t<LEVEL>\t<message>` as the Lambda runtime's text format writes it. */
export function textLine(requestId: string, level: string, message: string): RegExp {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${requestId}\\t${level}\\t${escaped}$`);
}
