/**
 * Strict GGUF header parser. Reads positionally through a small buffer (never the whole file) and checks every
 * count and length against the bytes that remain before allocating anything, so a hostile or truncated file costs
 * a clear MOC_ERR_LOAD_FAILED, not an out-of-memory or a llama.cpp abort.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { errors, type MocError } from '../errors.js';

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kvCount: number;
  architecture: string;
  name?: string;
  /** general.type: 'model' or absent for a model, 'adapter' for a LoRA adapter (llama.cpp's converters). */
  type?: string;
  /** Sum of the elements of all tensors. */
  parameterCount: number;
  fileType?: number;
  /** general.file_type's name (Q4_K_M, F16...), else the type holding the most tensor bytes. */
  quantization: string;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  feedForwardLength?: number;
  vocabSize?: number;
  /** Bytes of the tensors whose ggml type is known here. */
  tensorDataBytes: number;
  fileBytes: number;
}

const MAX_COUNT = 65_536;
const MAX_ELEMENTS = 2 ** 48;
const MAX_STRING = 64 * 1024 * 1024; // far above any real value (chat templates are kilobytes); bounds one allocation

// ggml type id → [name, bytes per block, elements per block]; sizes read from the bundled engine's own
// ggml_type_size()/ggml_blck_size(). Ids 4, 5, 31-33, 36-38 are retired formats: unknown, as in ggml.
const GGML_TYPES: Record<number, readonly [string, number, number]> = {
  0: ['F32', 4, 1],
  1: ['F16', 2, 1],
  2: ['Q4_0', 18, 32],
  3: ['Q4_1', 20, 32],
  6: ['Q5_0', 22, 32],
  7: ['Q5_1', 24, 32],
  8: ['Q8_0', 34, 32],
  9: ['Q8_1', 36, 32],
  10: ['Q2_K', 84, 256],
  11: ['Q3_K', 110, 256],
  12: ['Q4_K', 144, 256],
  13: ['Q5_K', 176, 256],
  14: ['Q6_K', 210, 256],
  15: ['Q8_K', 292, 256],
  16: ['IQ2_XXS', 66, 256],
  17: ['IQ2_XS', 74, 256],
  18: ['IQ3_XXS', 98, 256],
  19: ['IQ1_S', 50, 256],
  20: ['IQ4_NL', 18, 32],
  21: ['IQ3_S', 110, 256],
  22: ['IQ2_S', 82, 256],
  23: ['IQ4_XS', 136, 256],
  24: ['I8', 1, 1],
  25: ['I16', 2, 1],
  26: ['I32', 4, 1],
  27: ['I64', 8, 1],
  28: ['F64', 8, 1],
  29: ['IQ1_M', 56, 256],
  30: ['BF16', 2, 1],
  34: ['TQ1_0', 54, 256],
  35: ['TQ2_0', 66, 256],
  39: ['MXFP4', 17, 32],
  40: ['NVFP4', 36, 64],
  41: ['Q1_0', 18, 128],
  42: ['Q2_0', 18, 64],
};

// general.file_type (llama_ftype) → name, as llama.cpp's quantize tool prints it.
const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  4: 'Q4_1_SOME_F16',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4_MOE',
  39: 'NVFP4',
  40: 'Q1_0',
  41: 'Q2_0',
};

// GGUF metadata value types: fixed byte sizes; 8 (string) and 9 (array) are variable.
const STRING = 8;
const ARRAY = 9;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function loadFailed(file: string, problem: string): MocError {
  return errors.notGguf(file, problem);
}

class Reader {
  private buf = Buffer.alloc(64 * 1024);
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly file: string,
  ) {}

  get remaining(): number {
    return this.size - this.pos;
  }
  fail(problem: string): never {
    throw loadFailed(this.file, problem);
  }

  /** Makes n bytes at pos available in buf and returns their offset there. */
  private take(n: number): number {
    if (n > this.remaining)
      this.fail(`the header is truncated at byte ${this.pos} (${n} more bytes needed, the file has ${this.size})`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.bufLen) {
      if (n > this.buf.length) this.buf = Buffer.alloc(n);
      this.bufStart = this.pos;
      this.bufLen = readSync(this.fd, this.buf, 0, Math.min(this.buf.length, this.remaining), this.pos);
      if (this.bufLen < n) this.fail(`the file shrank while being read (at byte ${this.pos})`);
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }
  i8(): number {
    return this.buf.readInt8(this.take(1));
  }
  u16(): number {
    return this.buf.readUInt16LE(this.take(2));
  }
  i16(): number {
    return this.buf.readInt16LE(this.take(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }
  i32(): number {
    return this.buf.readInt32LE(this.take(4));
  }
  f32(): number {
    return this.buf.readFloatLE(this.take(4));
  }
  f64(): number {
    return this.buf.readDoubleLE(this.take(8));
  }
  i64(): number {
    return Number(this.buf.readBigInt64LE(this.take(8)));
  }
  /** Counts, lengths and offsets; values past 2^53 (all absurd) saturate, so every bound check still refuses them. */
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.take(8));
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  private strLength(what: string): number {
    const len = this.u64();
    if (len > this.remaining)
      this.fail(
        `${what} is a string of ${len} bytes but only ${this.remaining} bytes remain: the file is truncated or corrupt`,
      );
    return len;
  }
  str(what: string): string {
    const len = this.strLength(what);
    if (len > MAX_STRING) this.fail(`${what} is a string of ${len} bytes (limit ${MAX_STRING})`);
    const at = this.take(len);
    return this.buf.toString('utf8', at, at + len);
  }
  skipStr(what: string): void {
    this.skip(this.strLength(what), what);
  }
  skip(n: number, what: string): void {
    if (n > this.remaining)
      this.fail(`${what} needs ${n} bytes but only ${this.remaining} remain: the file is truncated or corrupt`);
    this.pos += n;
  }
}

export type Scalar = number | string | boolean;

function readValue(r: Reader, type: number, key: string): Scalar | undefined {
  switch (type) {
    case 0:
      return r.u8();
    case 1:
      return r.i8();
    case 2:
      return r.u16();
    case 3:
      return r.i16();
    case 4:
      return r.u32();
    case 5:
      return r.i32();
    case 6:
      return r.f32();
    case 7:
      return r.u8() !== 0;
    case STRING:
      return r.str(`the value of ${key}`);
    case ARRAY:
      skipArray(r, key);
      return undefined;
    case 10:
      return r.u64();
    case 11:
      return r.i64();
    case 12:
      return r.f64();
    default:
      return r.fail(`metadata key ${key} has unknown value type ${type} (0..12)`);
  }
}

/** Arrays (token lists, scores) are skipped, never materialized: none of the facts we return lives in one. */
function skipArray(r: Reader, key: string): void {
  const elemType = r.u32();
  if (elemType === ARRAY) r.fail(`metadata key ${key} is a nested array (not supported)`);
  if (elemType !== STRING && !(elemType in FIXED_SIZE))
    r.fail(`metadata key ${key} is an array of unknown type ${elemType}`);
  const count = r.u64();
  // A string takes at least its 8-byte length: the count is bounded by the file before a single element is read.
  const minBytes = count * (elemType === STRING ? 8 : FIXED_SIZE[elemType]!);
  if (minBytes > r.remaining) {
    r.fail(
      `metadata key ${key} claims an array of ${count} elements (at least ${minBytes} bytes) but only ${r.remaining} bytes remain: the file is truncated or corrupt`,
    );
  }
  if (elemType === STRING) for (let i = 0; i < count; i++) r.skipStr(`${key}[${i}]`);
  else r.skip(minBytes, `metadata key ${key}`);
}

/** One tensor as the header describes it. */
export interface GgufTensorInfo {
  name: string;
  /** innermost first (ne[0], ne[1], ...), as ggml counts them */
  dims: number[];
  elements: number;
  /** ggml type id; typeName is its name when known here */
  type: number;
  typeName?: string;
  /** relative to the data section */
  offset: number;
  /** its data's size, when its type is known here */
  bytes?: number;
}
type TensorInfo = GgufTensorInfo;

/** A metadata value as read: arrays are skipped (undefined value), their element type kept. */
export interface GgufMetaEntry {
  /** GGUF value type (4 u32, 6 f32, 8 string, 9 array, ...) */
  type: number;
  value: Scalar | undefined;
}

/** Everything the header holds that callers check, not just the summary. */
export interface GgufContents {
  header: GgufHeader;
  metadata: ReadonlyMap<string, GgufMetaEntry>;
  tensors: readonly GgufTensorInfo[];
}

function readTensorInfo(r: Reader, i: number, alignment: number): TensorInfo {
  const name = r.str(`the name of tensor ${i}`);
  const nDims = r.u32();
  if (nDims < 1 || nDims > 4) r.fail(`tensor ${name} has ${nDims} dimensions (1..4 allowed)`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const dim = r.u64();
    if (dim < 1) r.fail(`tensor ${name} has an empty dimension ${d}`);
    dims.push(dim);
    elements *= dim;
    if (elements > MAX_ELEMENTS)
      r.fail(`tensor ${name} claims more than 2^48 elements (dimensions ${dims.join(' x ')}...)`);
  }
  const type = r.u32();
  const offset = r.u64();
  if (offset % alignment !== 0)
    r.fail(`tensor ${name} has offset ${offset}, not a multiple of the alignment ${alignment}`);
  return { name, dims, elements, type, typeName: GGML_TYPES[type]?.[0], offset };
}

/**
 * `shown` is how messages name the file (callers pass it relative to the models root, so answers do not reveal the
 * server's layout); it defaults to the path itself.
 */
export function parseGgufHeader(filePath: string, shown = filePath): GgufHeader {
  return readGgufContents(filePath, shown).header;
}

/** parseGgufHeader's checks, returning the metadata and the tensor infos too (LoRA adapters are checked from them). */
export function readGgufContents(filePath: string, shown = filePath): GgufContents {
  let fd: number;
  try {
    fd = openSync(filePath, 'r');
  } catch (err) {
    throw errors.fileUnreadable('open', shown, ioProblem(err));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw errors.notRegularFile(shown);
    if (st.size === 0) throw loadFailed(shown, 'the file is empty');
    return parse(new Reader(fd, st.size, shown));
  } finally {
    closeSync(fd);
  }
}

/** An I/O error without the path Node appends ("ENOENT: no such file or directory, open '/abs/x'"). */
export function ioProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '.*'$/s, '');
}

function parse(r: Reader): GgufContents {
  const magic = r.size >= 4 ? [r.u8(), r.u8(), r.u8(), r.u8()] : [];
  if (String.fromCharCode(...magic) !== 'GGUF')
    r.fail(`bad magic ${JSON.stringify(String.fromCharCode(...magic))} (expected "GGUF")`);
  const version = r.u32();
  if (version !== 2 && version !== 3) r.fail(`unsupported GGUF version ${version} (2 and 3 are supported)`);
  const tensorCount = r.u64();
  const kvCount = r.u64();
  if (tensorCount > MAX_COUNT) r.fail(`absurd tensor count ${tensorCount} (limit ${MAX_COUNT})`);
  if (kvCount > MAX_COUNT) r.fail(`absurd metadata key count ${kvCount} (limit ${MAX_COUNT})`);

  const meta = new Map<string, Scalar>();
  const entries = new Map<string, GgufMetaEntry>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.str(`metadata key ${i}`);
    const type = r.u32();
    const value = readValue(r, type, key);
    entries.set(key, { type, value });
    if (value !== undefined) meta.set(key, value);
  }
  const num = (key: string): number | undefined => {
    const v = meta.get(key);
    return typeof v === 'number' ? v : undefined;
  };
  const alignment = num('general.alignment') ?? 32;
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
    r.fail(`general.alignment ${alignment} is not a power of two`);
  }
  const architecture = meta.get('general.architecture');
  if (typeof architecture !== 'string' || !architecture) r.fail('general.architecture is missing');

  const tensors: TensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) tensors.push(readTensorInfo(r, i, alignment));

  // The data section starts at the aligned end of the header; tensor offsets are relative to it.
  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  const dataBytes = r.size - dataStart;
  let tensorDataBytes = 0;
  const bytesByType = new Map<number, number>();
  for (const t of tensors) {
    if (t.offset >= dataBytes) {
      r.fail(
        `tensor ${t.name} data starts at byte ${dataStart + t.offset}, past the end of the file (${r.size} bytes): the file is truncated`,
      );
    }
    const traits = GGML_TYPES[t.type];
    if (!traits) continue; // a type unknown here: llama.cpp checks its size itself
    const [typeName, blockBytes, blockElems] = traits;
    if (t.dims[0]! % blockElems !== 0)
      r.fail(
        `tensor ${t.name} has rows of ${t.dims[0]} elements, not a multiple of the ${typeName} block (${blockElems})`,
      );
    const bytes = (t.elements / blockElems) * blockBytes;
    if (t.offset + bytes > dataBytes) {
      r.fail(
        `tensor ${t.name} data ends at byte ${dataStart + t.offset + bytes}, past the end of the file (${r.size} bytes): the file is truncated`,
      );
    }
    t.bytes = bytes;
    tensorDataBytes += bytes;
    bytesByType.set(t.type, (bytesByType.get(t.type) ?? 0) + bytes);
  }

  const fileType = num('general.file_type');
  const dominant = [...bytesByType].sort((a, b) => b[1] - a[1])[0]?.[0];
  const name = meta.get('general.name');
  const type = meta.get('general.type');
  const header: GgufHeader = {
    version,
    tensorCount,
    kvCount,
    architecture,
    name: typeof name === 'string' ? name : undefined,
    ...(typeof type === 'string' ? { type } : {}),
    parameterCount: tensors.reduce((sum, t) => sum + t.elements, 0),
    fileType,
    quantization:
      (fileType !== undefined ? FILE_TYPES[fileType] : undefined) ??
      (dominant !== undefined ? GGML_TYPES[dominant]![0] : 'unknown'),
    contextLength: num(`${architecture}.context_length`),
    embeddingLength: num(`${architecture}.embedding_length`),
    blockCount: num(`${architecture}.block_count`),
    headCount: num(`${architecture}.attention.head_count`),
    headCountKv: num(`${architecture}.attention.head_count_kv`),
    feedForwardLength: num(`${architecture}.feed_forward_length`),
    vocabSize: num(`${architecture}.vocab_size`),
    tensorDataBytes,
    fileBytes: r.size,
  };
  return { header, metadata: entries, tensors };
}
