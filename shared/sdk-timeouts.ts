/**
 * Timeouts for every AWS SDK client the functions create. The SDK waits
 * forever by default. A DynamoDB or Secrets Manager call answers in
 * milliseconds, so a second to connect and two to answer mean the service is
 * in trouble; with the SDK's 3 attempts a hung call gives up within ~7 s,
 * inside an API function's 10 s (lib/function.ts). Without
 * throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes.
 */
export const SDK_TIMEOUTS = { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true } as const;
