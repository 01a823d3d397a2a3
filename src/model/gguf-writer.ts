/**
 * A minimal GGUF v3 writer (little-endian): header, metadata key/values, tensor infos, aligned F32 or F16 tensor data.
 * Enough to produce the small llama-architecture models MOC generates for its demo and its tests.
 */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: number[] }
  | { type: 'f32[]'; value: number[] };

export interface GgufTensor {
  name: string /** innermost first, as GGUF stores them */;
  dims: number[];
  data: Float32Array;
  /** Stored as F32 (the default) or F16 (each value rounded to the nearest half, ties to even, as ggml does). */
  type?: 'F32' | 'F16';
}

const T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;
const GGML_TYPE = { F32: 0, F16: 1 } as const;

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
/** IEEE half bits of v, rounded to nearest, ties to even (ggml_compute_fp32_to_fp16 on CPUs without F16C). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = f32Bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent rounds up to it, or to inf
  return sign | half;
}

function tensorBytes(t: GgufTensor): Buffer {
  if ((t.type ?? 'F32') === 'F32') return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const b = Buffer.alloc(t.data.length * 2);
  for (let i = 0; i < t.data.length; i++) b.writeUInt16LE(toHalfBits(t.data[i]!), i * 2);
  return b;
}

class Out {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  pad(align: number): void {
    const n = (align - (this.length % align)) % align;
    if (n) this.push(Buffer.alloc(n));
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

function writeValue(o: Out, v: GgufValue): void {
  switch (v.type) {
    case 'u32':
      o.u32(T.UINT32);
      o.u32(v.value);
      return;
    case 'i32':
      o.u32(T.INT32);
      o.i32(v.value);
      return;
    case 'f32':
      o.u32(T.FLOAT32);
      o.f32(v.value);
      return;
    case 'bool':
      o.u32(T.BOOL);
      o.push(Buffer.from([v.value ? 1 : 0]));
      return;
    case 'string':
      o.u32(T.STRING);
      o.str(v.value);
      return;
    case 'string[]':
      o.u32(T.ARRAY);
      o.u32(T.STRING);
      o.u64(v.value.length);
      for (const s of v.value) o.str(s);
      return;
    case 'i32[]':
      o.u32(T.ARRAY);
      o.u32(T.INT32);
      o.u64(v.value.length);
      for (const n of v.value) o.i32(n);
      return;
    case 'f32[]':
      o.u32(T.ARRAY);
      o.u32(T.FLOAT32);
      o.u64(v.value.length);
      for (const n of v.value) o.f32(n);
      return;
  }
}

export function writeGguf(metadata: Record<string, GgufValue>, tensors: GgufTensor[], alignment = 32): Buffer {
  const o = new Out();
  o.push(Buffer.from('GGUF', 'ascii'));
  o.u32(3);
  o.u64(tensors.length);
  o.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    o.str(key);
    writeValue(o, value);
  }
  let offset = 0;
  const data = tensors.map(tensorBytes);
  for (const [i, t] of tensors.entries()) {
    const expected = t.dims.reduce((a, b) => a * b, 1);
    if (expected !== t.data.length)
      throw new Error(`tensor ${t.name}: dims give ${expected} values, data has ${t.data.length}`);
    o.str(t.name);
    o.u32(t.dims.length);
    for (const d of t.dims) o.u64(d);
    o.u32(GGML_TYPE[t.type ?? 'F32']);
    o.u64(offset);
    offset += Math.ceil(data[i]!.length / alignment) * alignment;
  }
  o.pad(alignment);
  for (const b of data) {
    o.push(b);
    o.pad(alignment);
  }
  return o.concat();
}
