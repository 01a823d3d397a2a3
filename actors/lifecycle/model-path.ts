/**
 * Model files are loaded only from the models root. A client path must be relative, free of '..', and must still
 * be inside the root after symlinks resolve; anything else is refused before the engine sees it.
 *
 * Messages name files as the client gave them, relative to the root: the server's filesystem layout (the absolute
 * root) is not the client's business. `details.reason` says which check failed, for callers that re-word it.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { errors, type MocError } from '../../src/errors.js';

/** How answers refer to the root, without saying where it is. */
export const ROOT_HINT = 'the models root (config modelsRoot)';

export type PathProblem = 'missing' | 'outside' | 'not-a-file';

/** The models root with its symlinks resolved: what a checked file must be inside of. */
export async function realModelsRoot(modelsRoot: string): Promise<string> {
  return realpath(modelsRoot).catch(() => path.resolve(modelsRoot));
}

/** The real (symlink-free) absolute path of a client's relative path, checked to be a regular file in the root. */
export async function resolveModelPath(modelsRoot: string, relative: string): Promise<string> {
  if (path.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw errors.invalidArgument('path', `'${relative}' is absolute; give a path relative to the models root`);
  }
  if (relative.split(/[\\/]/).includes('..')) {
    throw errors.invalidArgument('path', `'${relative}' contains '..'; give a path inside the models root`);
  }
  if (relative.includes('\0')) throw errors.invalidArgument('path', 'contains a NUL byte');
  const root = await realModelsRoot(modelsRoot);
  let real: string;
  try {
    real = await realpath(path.join(root, relative));
  } catch {
    throw errors.modelFileMissing(relative, ROOT_HINT); // details.reason: 'missing'
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw problem(
      `'${relative}' resolves outside the models root (symlink?); models load only from files inside ${ROOT_HINT}`,
      'outside',
    );
  }
  const s = await stat(real);
  if (!s.isFile()) throw problem(`'${relative}' is not a regular file`, 'not-a-file');
  return real;
}

function problem(message: string, reason: PathProblem): MocError {
  const e = errors.invalidArgument('path', message);
  e.details.reason = reason;
  return e;
}
