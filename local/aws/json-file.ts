/**
 * Small JSON state files of the local AWS services (secrets, custom resource
 * state). Written atomically — a temp file in the same folder, then rename —
 * so a crash mid-write never leaves a truncated file. `write-file-atomic` does
 * the same but is not a dependency here, and the synchronous form is enough
 * for files of a few KB (one writer, no interleaving).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The parsed file, or `undefined` when it does not exist. Corrupt JSON throws (never silently reset state). */
export function readJsonFile<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes `value` as JSON, atomically; `mode` 0o600 by default (the files may hold secrets). */
export function writeJsonFileAtomic(file: string, value: unknown, mode = 0o600): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
