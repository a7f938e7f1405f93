/**
 * Random identifiers of the Lambda service, drawn from one pooled buffer.
 *
 * Why not `generateTraceHeader()` from ../trace.ts: it calls `randomBytes`
 * twice per header, and each call is a synchronous trip to the OS entropy
 * source; profiled under load (bench/lambda.ts) that was 11 % of the main
 * thread's time for invocations without a caller trace header. Here one
 * `randomFillSync` serves 200 headers. The format is the same as trace.ts's.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A new X-Ray trace header, `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`. */
export function newTraceHeader(now = Date.now()): string {
  const epoch = Math.floor(now / 1000)
    .toString(16)
    .padStart(8, '0');
  const hex = randomHex(20); // one conversion for both ids
  return `Root=1-${epoch}-${hex.slice(0, 24)};Parent=${hex.slice(24)};Sampled=1`;
}

/** `2024/01/31/[$LATEST]<32 hex>`, one per execution environment as in Lambda. */
export function newLogStreamName(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}/${pad(now.getUTCMonth() + 1)}/${pad(now.getUTCDate())}/[$LATEST]${randomHex(16)}`;
}
