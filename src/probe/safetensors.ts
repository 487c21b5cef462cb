/**
 * The safetensors format, written and read by hand so that Python (`safetensors.numpy.load_file`,
 * `torch`) can load a probe: an 8-byte little-endian header length N, N bytes of JSON header
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, padded with
 * spaces to a multiple of 8), then the raw little-endian tensor bytes, contiguous, in header order.
 * Keys are sorted and tensors laid out in key order so the same tensors give the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsContent {
  readonly tensors: Readonly<Record<string, F32Tensor>>;
  readonly metadata: Readonly<Record<string, string>>;
}

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Encodes float32 tensors (and optional string metadata) as safetensors bytes. */
export function encodeSafetensors(tensors: Readonly<Record<string, F32Tensor>>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length) header.__metadata__ = Object.fromEntries(metaKeys.map((k) => [k, metadata[k]]));
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is not a tensor name');
    const t = tensors[name];
    if (elements(t.shape) !== t.data.length) throw new Error(`safetensors: tensor ${name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  const jsonBytes0 = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes0 % 8)) % 8); // the reference writer pads to 8 for aligned reads
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  let pos = 8 + jsonBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    if (isLittleEndian) out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    else for (let i = 0; i < d.length; i++) view.setFloat32(pos + 4 * i, d[i], true);
    pos += d.byteLength;
  }
  return out;
}

/** Decodes safetensors bytes holding F32 tensors; throws an Error naming what is wrong. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsContent {
  if (bytes.length < 8) throw new Error('safetensors: file shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new Error(`safetensors: header length ${n} runs past the end of the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error('safetensors: header is not JSON', { cause: err });
  }
  const base = 8 + n;
  const dataLen = bytes.length - base;
  const tensors: Record<string, F32Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = { ...(v as Record<string, string>) };
      continue;
    }
    const info = v as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (info.dtype !== 'F32') throw new Error(`safetensors: tensor ${name} has dtype ${info.dtype}; only F32 is supported`);
    const [b, e] = info.data_offsets ?? [NaN, NaN];
    const shape = info.shape ?? [];
    if (!(b >= 0 && e <= dataLen && e - b === elements(shape) * 4)) throw new Error(`safetensors: tensor ${name} has bad data_offsets [${b}, ${e}]`);
    const data = new Float32Array(elements(shape));
    // Copy rather than view: the data section is not guaranteed 4-byte aligned inside the Buffer.
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(base + b + 4 * i, true);
    tensors[name] = { shape, data };
  }
  return { tensors, metadata };
}

export function writeSafetensors(file: string, tensors: Readonly<Record<string, F32Tensor>>, metadata?: Readonly<Record<string, string>>): void {
  writeFileSync(file, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(file: string): SafetensorsContent {
  return decodeSafetensors(readFileSync(file));
}
