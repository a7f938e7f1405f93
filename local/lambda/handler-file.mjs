// @ts-check
/**
 * Resolving a Lambda handler string (`index.handler`, `src/app.api.get`) to the
 * file and export the Node.js runtime would load, following the order of the
 * AWS Lambda Node.js runtime interface client (UserFunction.js).
 *
 * Plain JavaScript on purpose: the worker bootstrap imports it and runs in a
 * worker thread where no TypeScript loader is installed.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * @typedef {object} ParsedHandler
 * @property {string} moduleRoot   directory part of the handler string, relative to the task root ('' or 'src/')
 * @property {string} moduleName   module file name without extension ('index')
 * @property {string} exportPath   export to call, possibly nested ('handler', 'api.get')
 */

/**
 * @typedef {object} ResolvedHandlerFile
 * @property {string} file          absolute path of the module to load
 * @property {'commonjs' | 'module'} format  how the Lambda runtime would load it (require vs import)
 * @property {string} moduleName
 * @property {string} exportPath
 */

/**
 * An Error whose `name` is the Lambda runtime error type (e.g. `Runtime.HandlerNotFound`),
 * so it is reported as `errorType` exactly like Lambda reports it.
 * @param {string} type
 * @param {string} message
 * @returns {Error}
 */
export function runtimeError(type, message) {
  const err = new Error(message);
  // On the prototype in the runtime, so not an own enumerable property in logged JSON.
  Object.defineProperty(err, 'name', { value: type, enumerable: false, writable: true, configurable: true });
  return err;
}

/**
 * Split `dir/module.export.path` like the Lambda runtime does.
 * @param {string} handler
 * @returns {ParsedHandler}
 */
export function parseHandler(handler) {
  if (handler.includes('..')) {
    throw runtimeError(
      'Runtime.MalformedHandlerName',
      `'${handler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = path.basename(handler);
  const moduleRoot = handler.substring(0, handler.length - base.length);
  const match = /^([^.]*)\.(.*)$/.exec(base);
  if (!match || !match[1] || !match[2]) throw runtimeError('Runtime.MalformedHandlerName', 'Bad handler');
  return { moduleRoot, moduleName: match[1], exportPath: match[2] };
}

/**
 * Whether `.js` files in `folder` are ES modules: the nearest package.json decides.
 * Unlike Node, the walk stops at the task root (asset directory): in Lambda the
 * task root is /var/task and nothing above it has a package.json, whereas locally
 * the asset sits inside this repository whose own package.json says
 * `"type": "module"` and must not turn a CommonJS bundle into ESM.
 * @param {string} folder
 * @param {string} taskRoot
 * @returns {boolean}
 */
export function isTypeModule(folder, taskRoot) {
  const root = path.resolve(taskRoot);
  let dir = path.resolve(folder);
  for (;;) {
    if (path.basename(dir) === 'node_modules') return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8'))?.type === 'module';
      } catch {
        return false; // Lambda ignores an unreadable package.json for this purpose
      }
    }
    const parent = path.dirname(dir);
    if (dir === root || parent === dir || !isInside(parent, root)) return false;
    dir = parent;
  }
}

/**
 * @param {string} child
 * @param {string} parent
 * @returns {boolean}
 */
export function isInside(child, parent) {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * @param {string} file
 * @returns {boolean}
 */
function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The file the Lambda Node.js runtime would load for `handler` in `assetDir`,
 * or `undefined` when there is none. Order (as the runtime): extensionless
 * (require), `.js` (require, or import when package.json says type module),
 * `.mjs` (import), `.cjs` (require).
 * @param {string} assetDir
 * @param {string} handler
 * @returns {ResolvedHandlerFile | undefined}
 */
export function resolveHandlerFile(assetDir, handler) {
  const { moduleRoot, moduleName, exportPath } = parseHandler(handler);
  const base = path.resolve(assetDir, moduleRoot, moduleName);
  const typeModule = isTypeModule(path.dirname(base), assetDir);
  /** @type {Array<[string, 'commonjs' | 'module']>} */
  const candidates = [
    [base, 'commonjs'],
    [`${base}.js`, typeModule ? 'module' : 'commonjs'],
    [`${base}.mjs`, 'module'],
    [`${base}.cjs`, 'commonjs'],
  ];
  for (const [file, format] of candidates) {
    if (isFile(file)) return { file, format, moduleName, exportPath };
  }
  return undefined;
}
