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
  }
}

export default async function setup(project: TestProject) {
  if (process.env.SWITCHYARD_BASE_URL) {
    project.provide('baseUrl', process.env.SWITCHYARD_BASE_URL.replace(/\/$/, ''));
    return;
  }
  const runtime = await startRuntimeProcess();
  project.provide('baseUrl', runtime.url);
  return async () => {
    await runtime.stop();
  };
}
