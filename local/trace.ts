/** X-Ray trace headers as API Gateway and Lambda produce them. */
import { randomBytes } from 'node:crypto';

/**
 * `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`.
 * An incoming header with a valid Root continues that trace (as API Gateway
 * does when a client or upstream service already started one); the Parent is
 * always new, because the caller's own segment is the parent of the call.
 */
export function traceHeaderFor(incoming: string | undefined, now = Date.now()): { header: string; rootId: string } {
  const rootMatch = incoming ? /Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/i.exec(incoming) : null;
  const sampledMatch = incoming ? /Sampled=([01])/.exec(incoming) : null;
  const rootId =
    rootMatch?.[1] ??
    `1-${Math.floor(now / 1000)
      .toString(16)
      .padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
  const sampled = sampledMatch?.[1] ?? '1';
  return { header: `Root=${rootId};Parent=${randomBytes(8).toString('hex')};Sampled=${sampled}`, rootId };
}

/** A new trace, for an invocation nobody traced before. */
export function generateTraceHeader(): string {
  return traceHeaderFor(undefined).header;
}
