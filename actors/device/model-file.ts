/**
 * The engine's last check of a model file before llama.cpp reads it. The catalog inspected the file at registration;
 * between then and a load, the path may have been re-pointed (a symlink to /etc/passwd) or the file rewritten. So the
 * engine opens the file once, checks the open descriptor (a regular file, inside the models root, the size and mtime
 * the catalog recorded) and hands llama.cpp /proc/self/fd/N: on Linux opening that re-opens exactly the checked inode,
 * whatever happens to the path afterwards.
 *
 * Without /proc (macOS, some containers) the checks run on the path itself and llama.cpp gets the path: a swap between
 * the check and the load is then still possible, which is the best a portable API allows.
 *
 * Messages name the file as clients registered it (relative to the models root), never the server's layout, and
 * never quote the file's bytes (the GGUF parser's own errors do: "expected GGUF but got <first bytes>").
 */
import fs from 'node:fs';
import path from 'node:path';
import { errors } from '../../src/errors.js';
import type { EngineModel } from './engine-protocol.js';

export interface OpenedModelFile {
  /** What to hand node-llama-cpp: /proc/self/fd/N (the checked inode), or the plain path where /proc is absent. */
  readonly path: string;
  /** The file as messages may show it: relative to the models root (or its base name when the root is unknown). */
  readonly shown: string;
  /** Replaces every server-side spelling of the file in a message (llama.cpp echoes the path it was given). */
  scrub(message: string): string;
  close(): void;
}

/** Name of a file for messages: relative to the models root, never an absolute server path. */
export function shownPath(spec: EngineModel): string {
  if (spec.file) {
    const rel = path.relative(spec.file.root, spec.path);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  }
  return path.basename(spec.path);
}

const refuse = (spec: EngineModel, problem: string) => errors.modelFileRefused(spec.name, shownPath(spec), problem);

const inside = (file: string, root: string) =>
  file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

export function openModelFile(spec: EngineModel): OpenedModelFile {
  let fd: number;
  try {
    fd = fs.openSync(spec.path, fs.constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw refuse(
      spec,
      `cannot be opened (${code}); check that it exists under the models root and is readable, then register it again`,
    );
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw refuse(spec, 'is not a regular file; register a GGUF file');
    const procPath = `/proc/self/fd/${fd}`;
    let real: string | null = null;
    try {
      real = fs.readlinkSync(procPath);
    } catch {
      /* no /proc: fall back to the path (see the file comment) */
    }
    if (spec.file) {
      let root: string;
      try {
        root = fs.realpathSync(spec.file.root);
      } catch {
        root = path.resolve(spec.file.root);
      }
      let target: string;
      try {
        target = real ?? fs.realpathSync(spec.path);
      } catch {
        target = '';
      }
      if (!inside(target, root)) {
        throw refuse(
          spec,
          'resolves outside the models root (a symlink re-pointed since registration?); put the file inside the models root and register it again',
        );
      }
      if (st.size !== spec.file.bytes || st.mtimeMs !== spec.file.mtimeMs) {
        throw refuse(
          spec,
          'changed since registration (size or modification time differ); register it again so it is inspected anew',
        );
      }
    }
    const shown = shownPath(spec);
    const spellings = [procPath, spec.path, ...(real ? [real] : [])].sort((a, b) => b.length - a.length);
    return {
      path: real !== null ? procPath : spec.path,
      shown,
      scrub: (message) => spellings.reduce((m, s) => m.split(s).join(shown), message),
      close: () => {
        try {
          fs.closeSync(fd);
        } catch {
          /* closed already */
        }
      },
    };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * A GGUF parser error as a message that quotes nothing from the file: node-llama-cpp's InvalidGgufMagicError quotes
 * the first bytes, which for a re-pointed path could be a secret.
 */
export function ggufProblem(err: unknown): string | null {
  const name = (err as Error | undefined)?.constructor?.name ?? '';
  const message = (err as Error | undefined)?.message ?? '';
  if (name === 'InvalidGgufMagicError' || /GGUF magic/i.test(message)) return 'is not a GGUF file (bad magic)';
  if (name === 'UnsupportedGgufValueTypeError' || /GGUF/i.test(message))
    return 'is not a readable GGUF file (unsupported or malformed header)';
  return null;
}
