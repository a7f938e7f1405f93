/**
 * The log channel: console lines, process.stdout/stderr writes and the
 * invocation's result travel on one ordered channel, so each invocation's log
 * holds exactly what it wrote, in the order it wrote it.
 */
import { describe, expect, it } from 'vitest';
import { errorPayload, fn, okPayload, ownLines, service, textLine } from './support.js';

describe('LambdaService logs', () => {
  it('keeps console lines and raw stdout/stderr writes in the order they were written', async () => {
    const lines: string[] = [];
    const s = service([fn('logging', 'logging', 'index.ordered')], { onLog: (_name, line) => lines.push(line) });
    const result = await s.invoke('logging', {});
    expect(okPayload(result)).toBe('done');
    const own = ownLines(result);
    const id = result.requestId;
    expect(own).toHaveLength(7);
    expect(own[0]).toMatch(textLine(id, 'INFO', 'one'));
    expect(own[1]).toBe('two continues');
    expect(own[2]).toBe('three on stderr');
    // A multi-line message is one line per physical line, as before.
    expect(own[3]).toMatch(textLine(id, 'ERROR', 'four'));
    expect(own[4]).toBe('five');
    expect(own[5]).toBe('six \u2713');
    // Text without a trailing newline still belongs to the invocation, before its END.
    expect(own[6]).toBe('seven without newline');
    expect(lines).toEqual(result.logs.trimEnd().split('\n'));
  });

  it('attributes every line to its own invocation under concurrency', async () => {
    const s = service([fn('logging', 'logging', 'index.ordered')], { maxConcurrencyPerFunction: 2 });
    const results = await Promise.all(Array.from({ length: 6 }, () => s.invoke('logging', {})));
    for (const result of results) {
      const own = ownLines(result);
      expect(own).toHaveLength(7);
      expect(own[0]).toMatch(textLine(result.requestId, 'INFO', 'one'));
      expect(own[6]).toBe('seven without newline');
      for (const other of results) if (other !== result) expect(result.logs).not.toContain(other.requestId);
    }
  });

  it('writes JSON lines with AWS_LAMBDA_LOG_FORMAT=JSON and filters by AWS_LAMBDA_LOG_LEVEL', async () => {
    const s = service([
      fn('json', 'logging', 'index.structured', { environment: { AWS_LAMBDA_LOG_FORMAT: 'JSON' } }),
      fn('warnOnly', 'logging', 'index.structured', { environment: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN' } }),
    ]);
    const result = await s.invoke('json', {});
    const entries = ownLines(result).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((e) => e.level)).toEqual(['DEBUG', 'INFO', 'WARN', 'ERROR']);
    for (const entry of entries) {
      expect(entry.requestId).toBe(result.requestId);
      expect(entry.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/);
    }
    expect(entries[1]?.message).toBe('info { a: 1 }');
    expect(entries[2]?.message).toEqual({ warned: true });
    expect(entries[3]?.message).toMatchObject({ errorType: 'Error', errorMessage: 'broken' });

    const filtered = await s.invoke('warnOnly', {});
    expect(ownLines(filtered).map((line) => (JSON.parse(line) as { level: string }).level)).toEqual(['WARN', 'ERROR']);
  });

  it('keeps what was written before process.exit, trailing partial line included', async () => {
    const s = service([fn('exit', 'logging', 'index.exitAfterWrite')]);
    const result = await s.invoke('exit', {});
    expect(errorPayload(result)).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${result.requestId} Error: Runtime exited with error: exit status 2`,
    });
    const own = ownLines(result);
    expect(own[0]).toMatch(textLine(result.requestId, 'INFO', 'before exit'));
    expect(own).toContain('last words');
  });

  it('reports what a handler logged before it blocked its thread until the timeout', async () => {
    const s = service([fn('spin', 'logging', 'index.spin', { timeoutSeconds: 1 })]);
    const result = await s.invoke('spin', {});
    expect(errorPayload(result).errorType).toBe('Sandbox.Timedout');
    expect(ownLines(result)[0]).toMatch(textLine(result.requestId, 'INFO', 'spinning'));
    expect(result.logs).toMatch(/\tStatus: timeout\n$/);
  });

  it('sends output written after the invocation to onLog only', async () => {
    const lines: string[] = [];
    const s = service([fn('background', 'logging', 'index.background')], { onLog: (_name, line) => lines.push(line) });
    const result = await s.invoke('background', {});
    expect(okPayload(result)).toBe('returned');
    await expect.poll(() => lines.some((line) => line.endsWith('\tINFO\tafter the invocation'))).toBe(true);
    expect(result.logs).not.toContain('after the invocation');
  });

  it('still captures output that bypasses process.stdout.write (the piped stdio fallback)', async () => {
    const lines: string[] = [];
    const s = service([fn('stray', 'logging', 'index.stray')], { onLog: (_name, line) => lines.push(line) });
    expect(okPayload(await s.invoke('stray', {}))).toBe('ok');
    await expect.poll(() => lines).toContain('stray line');
  });

  it('reports running out of memory as Runtime.OutOfMemory and replaces the environment', async () => {
    const s = service([fn('hog', 'logging', 'index.hog', { memorySizeMb: 64, timeoutSeconds: 30 })]);
    const result = await s.invoke('hog', {});
    expect(errorPayload(result)).toEqual({
      errorType: 'Runtime.OutOfMemory',
      errorMessage: `RequestId: ${result.requestId} Error: Runtime exited with error: signal: killed`,
    });
    expect(result.logs).toMatch(/\tStatus: error\tError Type: Runtime\.OutOfMemory\n$/);
    await expect.poll(() => s.stats().hog?.environments).toBe(0);
  });
});
