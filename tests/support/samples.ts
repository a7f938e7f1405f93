/** A realistic receiver and release event, shared by the integration and e2e suites. */

export const receiverBody = (over: Record<string, unknown> = {}) => ({
  name: `receiver-${Math.random().toString(36).slice(2, 8)}`,
  type: 'ci.pipeline',
  version: '1.0.0',
  description: 'GitHub Actions pipeline',
  schema: {
    type: 'object',
    required: ['commit'],
    properties: { commit: { type: 'string', pattern: '^[0-9a-f]{7,40}$' }, buildUrl: { type: 'string', format: 'uri' } },
    additionalProperties: false,
  },
  ...over,
});

export const eventBody = (receiverId: string, over: Record<string, unknown> = {}) => ({
  receiverId,
  name: 'api-server',
  version: '2.3.0',
  release: '2.3',
  platformId: 'linux-arm64',
  package: 'api-server',
  description: 'release build',
  payload: { commit: 'abc1234', buildUrl: 'https://ci.example/builds/1' },
  success: true,
  eventStart: '2026-11-20T10:00:00Z',
  eventEnd: '2026-11-20T10:05:00Z',
  ...over,
});
