import { etag } from '../domain/revisions.js';
import type { HttpResult } from './route.js';

export const ok = (body: unknown, headers?: Record<string, string>): HttpResult => ({ status: 200, body, ...(headers ? { headers } : {}) });
export const noContent = (): HttpResult => ({ status: 204 });

/** A single revisioned resource: its revision is also its ETag. */
export const entity = (value: { revision: number }, status = 200, location?: string): HttpResult => ({
  status,
  body: value,
  headers: { ETag: etag(value.revision), ...(location ? { Location: location } : {}) },
});

export const created = (value: { id: string }, location: string): HttpResult => ({
  status: 201,
  body: value,
  headers: {
    Location: location,
    ...('revision' in value && typeof value.revision === 'number' ? { ETag: etag(value.revision) } : {}),
  },
});
