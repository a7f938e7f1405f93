/**
 * `.switchyard/session.json`: where a running `npm start` serves and its
 * admin key, so local tools (`npm run edge-sim`, the demo) find the runtime
 * without the key on their command line (it would show in `ps`). Written by
 * `switchyard local` once ready (mode 0600), removed on stop by the process
 * that wrote it. A module with no imports beyond Node.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_STATE_DIR } from '../local/paths.js';

export const SESSION_FILE = path.join(LOCAL_STATE_DIR, 'session.json');

export interface LocalSession {
  /** The API's base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  awsEndpoint: string;
  adminApiKey: string;
  pid: number;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readRaw(file: string): LocalSession | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalSession>;
    if (typeof s.url !== 'string' || typeof s.adminApiKey !== 'string' || !Number.isInteger(s.pid)) return undefined;
    return s as LocalSession;
  } catch {
    return undefined;
  }
}

/** The running local runtime's session, or undefined when there is none (no file, or one left by a process that is gone). */
export function readLocalSession(file = SESSION_FILE): LocalSession | undefined {
  const session = readRaw(file);
  return session && isAlive(session.pid) ? session : undefined;
}

/**
 * Writes the session (0600: it holds the admin key). A session of another
 * live runtime is left alone (a second runtime, e.g. the e2e suite's, must
 * not take over the one `npm start` users reach); answers whether it wrote.
 */
export function writeLocalSession(session: LocalSession, file = SESSION_FILE): boolean {
  const current = readLocalSession(file);
  if (current && current.pid !== session.pid) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // `mode` only applies when the file is created
  return true;
}

/** Removes the session file if it is still `pid`'s. */
export function removeLocalSession(pid: number, file = SESSION_FILE): void {
  if (readRaw(file)?.pid === pid) rmSync(file, { force: true });
}
