/** Where the project and the local runtime's state live (a module with no imports beyond Node, so the CLI can read it before loading anything heavy). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const LOCAL_STATE_DIR = path.join(PROJECT_ROOT, '.switchyard');
