/** docs/events.md is generated from the event catalog and kept current (`npm run openapi`). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../shared/events/catalog.js';
import { eventsMarkdown } from '../../../shared/events/docs.js';

const file = path.resolve(import.meta.dirname, '../../../docs/events.md');

describe('docs/events.md', () => {
  it('is what the catalog generates (run `npm run openapi` after changing an event type)', async () => {
    const options = (await prettier.resolveConfig(file)) ?? {};
    expect(readFileSync(file, 'utf8')).toBe(await prettier.format(eventsMarkdown(), { ...options, parser: 'markdown' }));
  });

  it('lists every event type with its data fields', () => {
    const text = readFileSync(file, 'utf8');
    for (const type of Object.keys(EVENT_TYPES)) expect(text).toContain(`### \`${type}\``);
    expect(text).not.toContain('passwordHash');
  });
});
