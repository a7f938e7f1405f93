import { defineConfig } from 'vitest/config';
import { E2E_ADMIN_API_KEY, E2E_ADMIN_PASSWORD } from './tests/setup/runtime.js';

// Handler tests run the real Powertools chain; keep its output out of the report.
// The SDK warns on every Node < 22; the stack deploys on Node 22, so on this Node 20 machine the warning is noise.
const env = {
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** E2E files that start runtimes of their own (a scaled clock, a restart on disk): timed against that clock, they run alone. */
const OWN_RUNTIME = ['tests/e2e/restart.test.ts', 'tests/e2e/webhook-retries.test.ts'];

/**
 * Five projects, so `vitest run --project unit` stays fast:
 * unit and cdk need nothing running; integration shares one in-memory
 * DynamoDB Local; e2e shares one local runtime (or SWITCHYARD_BASE_URL);
 * e2e-own starts its own runtimes.
 *
 * Two files at a time (vitest's default on 2 cores is one): unit, cdk and
 * integration files are single-threaded, and an e2e file mostly waits on the
 * runtime's process, its bakes and retries. The e2e files run after the
 * rest (their own group), and the files with their own runtime after those,
 * one at a time, so nothing else competes with their clocks.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    env,
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'cdk', include: ['tests/cdk/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'integration', include: ['tests/integration/**/*.test.ts'], globalSetup: ['tests/setup/dynamodb.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          exclude: OWN_RUNTIME,
          globalSetup: ['tests/setup/runtime.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e-own',
          include: OWN_RUNTIME,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
          // Their runtimes bootstrap with the suite's credentials; the shared helpers read them as the e2e project's.
          provide: { adminApiKey: E2E_ADMIN_API_KEY, adminPassword: E2E_ADMIN_PASSWORD, baseUrl: '', awsEndpoint: '' },
        },
      },
    ],
  },
});
