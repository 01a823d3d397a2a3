/**
 * Model files are loaded only from the models root. A client path must be relative, free of '..', and must still
 * be inside the root after symlinks resolve; anything else is refused before the engine sees it.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { errors, MocError } from '../../src/errors.js';

export async function resolveModelPath(modelsRoot: string, relative: string): Promise<string> {
  if (path.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative)) {
    throw errors.invalidArgument('path', `'${relative}' is absolute; give a path relative to the models root`);
  }
  if (relative.split(/[\\/]/).includes('..')) {
    throw errors.invalidArgument('path', `'${relative}' contains '..'; give a path inside the models root`);
  }
  if (relative.includes('\0')) throw errors.invalidArgument('path', 'contains a NUL byte');
  const root = await realpath(modelsRoot).catch(() => path.resolve(modelsRoot));
  let real: string;
  try {
    real = await realpath(path.join(root, relative));
  } catch {
    throw new MocError('MOC_ERR_MODEL_NOT_FOUND', `no file '${relative}' under the models root ${root}; copy the GGUF there first`,
      { path: relative, modelsRoot: root });
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw errors.invalidArgument('path', `'${relative}' resolves outside the models root (symlink?); models load only from ${root}`);
  }
  const s = await stat(real);
  if (!s.isFile()) throw errors.invalidArgument('path', `'${relative}' is not a file`);
  return real;
}
