/** Shared helpers for the HTTP chain's unit tests. */
import { afterEach, expect, vi } from 'vitest';
import { logger } from '../../../shared/telemetry.js';

export interface ProblemBody {
  status: number;
  code: string;
  detail: string;
  title: string;
  type: string;
  requestId: string;
  errors?: Array<{ path: string; message: string }>;
}

export function problemOf(res: { statusCode: number; headers?: Record<string, unknown>; body: string }): ProblemBody {
  expect(res.headers?.['Content-Type']).toBe('application/problem+json');
  return JSON.parse(res.body) as ProblemBody;
}

/**
 * Everything the Powertools logger prints while `run` runs. The test
 * environment silences it (vitest.config.mts), so the level is raised for the
 * duration; Powertools writes through its own Console on process.stdout/stderr.
 */
export async function captureLogs<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  // injectLambdaContext resets the level to the configured one on every invocation after the first
  // (debug sampling refresh); keep the raised level for the captured run.
  const sampling = vi.spyOn(logger, 'refreshSampleRateCalculation').mockImplementation(() => undefined);
  logger.setLogLevel('DEBUG');
  try {
    const result = await run();
    return { result, lines };
  } finally {
    logger.setLogLevel('SILENT');
    sampling.mockRestore();
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());
