/**
 * E2E tests drive the HTTP API of one running stack: the local runtime,
 * started here as `npm start` would (in memory), or whatever
 * SWITCHYARD_BASE_URL points at (LocalStack, AWS).
 */
import type { TestProject } from 'vitest/node';
import { startRuntimeProcess } from '../support/runtime-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    adminApiKey: string;
    adminPassword: string;
    /** The local runtime's AWS endpoint (Secrets Manager…); empty against a deployed stack. */
    awsEndpoint: string;
  }
}

/** Fixed bootstrap credentials (the runtime seeds them from these variables), so tests can log in. */
export const E2E_ADMIN_API_KEY = 'sy_e2e_admin_key_0123456789abcdefghijklmnopqrstuv';
export const E2E_ADMIN_PASSWORD = 'e2e-admin-password-1234';

export default async function setup(project: TestProject) {
  project.provide('adminApiKey', process.env.SWITCHYARD_ADMIN_API_KEY ?? E2E_ADMIN_API_KEY);
  project.provide('adminPassword', process.env.SWITCHYARD_ADMIN_PASSWORD ?? E2E_ADMIN_PASSWORD);
  if (process.env.SWITCHYARD_BASE_URL) {
    project.provide('baseUrl', process.env.SWITCHYARD_BASE_URL.replace(/\/$/, ''));
    project.provide('awsEndpoint', '');
    project.provide('dynamoEndpoint', '');
    return;
  }
  const runtime = await startRuntimeProcess({
    env: { SWITCHYARD_ADMIN_API_KEY: E2E_ADMIN_API_KEY, SWITCHYARD_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD },
    // Short rate-limit windows and authorizer cache so the suite can watch a limit reset and a key revocation.
    // Rollouts look at their record every second, so promote, pause and resume show within a test's patience.
    context: { 'switchyard:rateLimitWindowSeconds': '10', 'switchyard:authorizerCacheSeconds': '2', 'switchyard:rolloutPollSeconds': '1' },
  });
  project.provide('baseUrl', runtime.url);
  project.provide('awsEndpoint', runtime.awsEndpoint);
  // For tests that seed what no route writes yet (edge assignments); declared in ./dynamodb.ts, empty against a deployed stack.
  project.provide('dynamoEndpoint', runtime.dynamoEndpoint);
  return async () => {
    await runtime.stop();
  };
}
