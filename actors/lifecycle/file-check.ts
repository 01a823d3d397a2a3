/**
 * The re-check at load. Registration vouched for a file (inside the models root, its size, mtime, header and
 * sha256), but the path may name another file by the time it is loaded: a symlink re-pointed (even outside the
 * root), a file rewritten or truncated in place. So every load resolves the path again and compares what is there
 * with the catalog entry before a device sees it; a difference is refused, never loaded.
 *
 * Not re-hashed: hashing a multi-gigabyte GGUF at every load would cost seconds to minutes (docs/models.md, "A load
 * re-checks the file"). Size, mtime and the header catch every ordinary change; the engine checks size and mtime
 * again on the descriptor it loads from (ModelSpec.file), which closes the window between this check and its open.
 */
import { stat } from 'node:fs/promises';
import type { CatalogEntry } from '../../schemas/catalog.js';
import { errors, toMocError } from '../../src/errors.js';
import type { GgufHeader } from '../../src/model/gguf-header.js';
import { realModelsRoot, resolveModelPath, type PathProblem } from './model-path.js';

export interface HeaderInspector {
  inspect(
    file: string,
    opts: { root: string; headerOnly: true },
  ): Promise<{ header: Pick<GgufHeader, 'architecture' | 'parameterCount' | 'quantization'> }>;
}

const GONE: Record<PathProblem, string> = {
  missing: 'the file is gone',
  outside: 'the path now resolves outside the models root',
  'not-a-file': 'the path is no longer a regular file',
};

/** The real models root and the real file, once the file is known to be the one the catalog entry describes. */
export async function recheckModelFile(
  modelsRoot: string,
  entry: CatalogEntry,
  inspector: HeaderInspector,
): Promise<{ root: string; file: string }> {
  // Messages name the file as registered (relative to the root) and never quote what the path now points at.
  const changed = (why: string) => errors.modelFileChanged(entry.name, entry.path, why);
  const root = await realModelsRoot(modelsRoot);
  let file: string;
  try {
    file = await resolveModelPath(modelsRoot, entry.path);
  } catch (err) {
    const reason = toMocError(err).details.reason as PathProblem | undefined;
    if (reason && GONE[reason]) throw changed(GONE[reason]);
    throw err;
  }
  const st = await stat(file).catch(() => {
    throw changed(GONE.missing);
  }); // deleted since the line above
  if (st.size !== entry.bytes) throw changed(`${entry.bytes} bytes when registered, ${st.size} now`);
  if (st.mtimeMs !== entry.mtimeMs) throw changed('its modification time differs');
  let header: Pick<GgufHeader, 'architecture' | 'parameterCount' | 'quantization'>;
  try {
    ({ header } = await inspector.inspect(file, { root, headerOnly: true }));
  } catch (err) {
    const e = toMocError(err);
    if (e.code === 'MOC_ERR_LOAD_FAILED') throw changed('its GGUF header no longer validates');
    throw e; // busy or shutting down: not the file's fault
  }
  if (
    header.architecture !== entry.architecture ||
    header.parameterCount !== entry.parameterCount ||
    header.quantization !== entry.quantization
  ) {
    throw changed('its GGUF header differs');
  }
  return { root, file };
}
