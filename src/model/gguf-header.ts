/**
 * Strict GGUF header parser. Reads positionally through a small buffer (never the whole file) and checks every
 * count and length against the bytes that remain before allocating anything, so a hostile or truncated file costs
 * a clear MOC_ERR_LOAD_FAILED, not an out-of-memory or a llama.cpp abort.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MocError } from '../errors.js';

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kvCount: number;
  architecture: string;
  name?: string;
  parameterCount: number;
  fileType?: number;
  quantization: string;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  feedForwardLength?: number;
  vocabSize?: number;
  tensorDataBytes: number;
  fileBytes: number;
}

const MAX_COUNT = 65_536;
const MAX_STRING = 64 * 1024 * 1024;

// ggml type → [bytes per block, elements per block] (ggml's type traits).
const GGML_TYPES: Record<number, [string, number, number]> = {
  0: ['F32', 4, 1], 1: ['F16', 2, 1], 2: ['Q4_0', 18, 32], 3: ['Q4_1', 20, 32], 6: ['Q5_0', 22, 32], 7: ['Q5_1', 24, 32],
  8: ['Q8_0', 34, 32], 9: ['Q8_1', 36, 32], 10: ['Q2_K', 84, 256], 11: ['Q3_K', 110, 256], 12: ['Q4_K', 144, 256],
  13: ['Q5_K', 176, 256], 14: ['Q6_K', 210, 256], 15: ['Q8_K', 292, 256], 16: ['IQ2_XXS', 66, 256], 17: ['IQ2_XS', 74, 256],
  18: ['IQ3_XXS', 98, 256], 19: ['IQ1_S', 50, 256], 20: ['IQ4_NL', 18, 32], 21: ['IQ3_S', 110, 256], 22: ['IQ2_S', 82, 256],
  23: ['IQ4_XS', 136, 256], 24: ['I8', 1, 1], 25: ['I16', 2, 1], 26: ['I32', 4, 1], 27: ['I64', 8, 1], 28: ['F64', 8, 1],
  29: ['IQ1_M', 56, 256], 30: ['BF16', 2, 1],
};

// general.file_type (llama_ftype) names for the common ones.
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 32: 'BF16',
};

// Value types and their fixed sizes (0 = variable: string/array).
const VALUE_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 0, 9: 0, 10: 8, 11: 8, 12: 8 };

class Reader {
  private buf = Buffer.alloc(1 << 16);
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;
  constructor(private readonly fd: number, readonly size: number, private readonly file: string) {}

  fail(what: string): never {
    throw new MocError('MOC_ERR_LOAD_FAILED', `${this.file} is not a valid GGUF file: ${what}; re-download or re-convert it`, { path: this.file });
  }

  private ensure(n: number): void {
    if (this.pos + n > this.size) this.fail(`header truncated at byte ${this.pos} (needs ${n} more bytes, file has ${this.size})`);
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.bufLen) return;
    if (n > this.buf.length) this.buf = Buffer.alloc(n);
    this.bufStart = this.pos;
    this.bufLen = readSync(this.fd, this.buf, 0, Math.min(this.buf.length, this.size - this.pos), this.pos);
  }
  private at(n: number): number { this.ensure(n); const o = this.pos - this.bufStart; this.pos += n; return o; }
  u8(): number { return this.buf.readUInt8(this.at(1)); }
  u32(): number { return this.buf.readUInt32LE(this.at(4)); }
  i32(): number { return this.buf.readInt32LE(this.at(4)); }
  f32(): number { return this.buf.readFloatLE(this.at(4)); }
  u64(): number {
    const v = this.buf.readBigUInt64LE(this.at(8));
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  str(what: string): string {
    const len = this.u64();
    if (len > MAX_STRING || this.pos + len > this.size) this.fail(`${what} claims a string of ${len} bytes, past the end of the file`);
    const o = this.at(len);
    return this.buf.toString('utf8', o, o + len);
  }
  skip(n: number, what: string): void {
    if (this.pos + n > this.size) this.fail(`${what} claims ${n} bytes, past the end of the file`);
    this.pos += n;
  }
}

type Scalar = number | string | boolean;

function readValue(r: Reader, type: number, key: string): Scalar | undefined {
  switch (type) {
    case 0: return r.u8();
    case 1: return (r.u8() << 24) >> 24;
    case 4: return r.u32();
    case 5: return r.i32();
    case 6: return r.f32();
    case 7: return r.u8() !== 0;
    case 8: return r.str(`value of ${key}`);
    case 10: case 11: return r.u64();
    case 2: case 3: r.skip(2, key); return undefined;
    case 12: r.skip(8, key); return undefined;
    case 9: {
      const elemType = r.u32();
      const count = r.u64();
      if (!(elemType in VALUE_SIZE) || elemType === 9) r.fail(`${key} is an array of unsupported type ${elemType}`);
      const fixed = VALUE_SIZE[elemType]!;
      // Every element takes at least 8 bytes (strings) or its fixed size: bound the count before walking it.
      if (count * (fixed || 8) > r.size - r.pos) r.fail(`${key} claims ${count} array elements, more than the file can hold`);
      if (fixed) r.skip(count * fixed, key);
      else for (let i = 0; i < count; i++) r.str(`${key}[${i}]`);
      return undefined;
    }
    default: return r.fail(`${key} has unknown value type ${type}`);
  }
}

export function parseGgufHeader(file: string): GgufHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new MocError('MOC_ERR_LOAD_FAILED', `cannot open ${file}: ${(err as Error).message}`, { path: file });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MocError('MOC_ERR_LOAD_FAILED', `${file} is not a regular file`, { path: file });
    const r = new Reader(fd, st.size, file);
    if (st.size < 24) r.fail(`only ${st.size} bytes`);
    const magic = [r.u8(), r.u8(), r.u8(), r.u8()];
    if (String.fromCharCode(...magic) !== 'GGUF') r.fail(`bad magic ${JSON.stringify(String.fromCharCode(...magic))} (expected "GGUF")`);
    const version = r.u32();
    if (version !== 2 && version !== 3) r.fail(`unsupported GGUF version ${version} (2 and 3 are supported)`);
    const tensorCount = r.u64();
    const kvCount = r.u64();
    if (tensorCount > MAX_COUNT) r.fail(`absurd tensor count ${tensorCount} (limit ${MAX_COUNT})`);
    if (kvCount > MAX_COUNT) r.fail(`absurd metadata count ${kvCount} (limit ${MAX_COUNT})`);

    const meta = new Map<string, Scalar>();
    for (let i = 0; i < kvCount; i++) {
      const key = r.str(`metadata key ${i}`);
      const v = readValue(r, r.u32(), key);
      if (v !== undefined) meta.set(key, v);
    }
    const alignment = typeof meta.get('general.alignment') === 'number' ? (meta.get('general.alignment') as number) : 32;
    if (alignment <= 0 || alignment % 8 !== 0) r.fail(`general.alignment ${alignment} is not a positive multiple of 8`);

    const tensors: { name: string; elements: number; type: number; offset: number }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = r.str(`tensor ${i} name`);
      const nDims = r.u32();
      if (nDims < 1 || nDims > 4) r.fail(`tensor ${name} has ${nDims} dimensions (1..4)`);
      let elements = 1;
      for (let d = 0; d < nDims; d++) {
        const dim = r.u64();
        if (dim < 1) r.fail(`tensor ${name} has an empty dimension`);
        elements *= dim;
        if (elements > 2 ** 48) r.fail(`tensor ${name} claims ${elements} elements`);
      }
      const type = r.u32();
      const offset = r.u64();
      if (offset % alignment !== 0) r.fail(`tensor ${name} offset ${offset} is not aligned to ${alignment}`);
      tensors.push({ name, elements, type, offset });
    }
    const dataStart = Math.ceil(r.pos / alignment) * alignment;
    const dataBytes = st.size - dataStart;
    let tensorDataBytes = 0;
    const typeBytes = new Map<number, number>();
    for (const t of tensors) {
      const traits = GGML_TYPES[t.type];
      if (t.offset >= dataBytes) r.fail(`tensor ${t.name} starts at data offset ${t.offset}, past the end of the file: the file is truncated`);
      if (!traits) continue; // a newer quantization: its size is unknown here, llama.cpp checks it
      const [, blockBytes, blockElems] = traits;
      if (t.elements % blockElems !== 0) r.fail(`tensor ${t.name} has ${t.elements} elements, not a multiple of its block size ${blockElems}`);
      const bytes = (t.elements / blockElems) * blockBytes;
      if (t.offset + bytes > dataBytes) {
        r.fail(`tensor ${t.name} data ends at byte ${dataStart + t.offset + bytes}, past the end of the file (${st.size} bytes): the file is truncated`);
      }
      tensorDataBytes += bytes;
      typeBytes.set(t.type, (typeBytes.get(t.type) ?? 0) + bytes);
    }

    const arch = meta.get('general.architecture');
    if (typeof arch !== 'string' || !arch) r.fail('general.architecture is missing');
    const num = (k: string) => (typeof meta.get(k) === 'number' ? (meta.get(k) as number) : undefined);
    const fileType = num('general.file_type');
    const dominant = [...typeBytes].sort((a, b) => b[1] - a[1])[0]?.[0];
    const out: GgufHeader = {
      version, tensorCount, kvCount, architecture: arch as string,
      parameterCount: tensors.reduce((s, t) => s + t.elements, 0),
      quantization: (fileType !== undefined ? FILE_TYPES[fileType] : undefined) ?? (dominant !== undefined ? GGML_TYPES[dominant]![0] : 'unknown'),
      tensorDataBytes, fileBytes: st.size,
    };
    const opt = { name: meta.get('general.name'), fileType, contextLength: num(`${arch}.context_length`),
      embeddingLength: num(`${arch}.embedding_length`), blockCount: num(`${arch}.block_count`),
      headCount: num(`${arch}.attention.head_count`), headCountKv: num(`${arch}.attention.head_count_kv`),
      feedForwardLength: num(`${arch}.feed_forward_length`), vocabSize: num(`${arch}.vocab_size`) };
    for (const [k, v] of Object.entries(opt)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
    return out;
  } finally {
    closeSync(fd);
  }
}
