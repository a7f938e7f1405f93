import { defineConfig } from 'vitest/config';

// Handler tests run the real Powertools chain; keep its output out of the report.
// The SDK warns on every Node < 22; the stack deploys on Node 22, so on this Node 20 machine the warning is noise.
const env = {
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/**
 * Four projects, so `vitest run --project unit` stays fast:
 * unit and cdk need nothing running; integration shares one in-memory
 * DynamoDB Local; e2e shares one local runtime (or SWITCHYARD_BASE_URL).
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
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
          globalSetup: ['tests/setup/runtime.ts'],
          // Two files at a time (vitest's default here is cores − 1 = 1): an e2e file mostly waits on the runtime's
          // process, its timers (bakes, retries) and JVM start-ups, so a second file overlaps those waits.
          maxWorkers: 2,
          // A project with its own worker count runs as its own group: after unit, cdk and integration.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
