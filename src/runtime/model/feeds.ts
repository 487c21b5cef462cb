/**
 * What goes into and comes out of the session: the model's inputs classified by role (from their
 * names), the feeds of one padded batch in the element types the graph declares, and the outputs
 * read back as feature rows (float16 outputs widened to float32).
 */
import ort from 'onnxruntime-node';
import { UserError } from '../errors.js';
import { LAST_INDEX_INPUT } from './layerTap.js';
import { DataType, declaredShape, elemTypeOf, type ValueInfoProto } from './onnxBuild.js';

export type Role = 'input_ids' | 'attention_mask' | 'token_type_ids' | 'position_ids' | 'past' | 'use_cache_branch' | 'last_index';
export interface InputSpec {
  readonly name: string;
  readonly role: Role;
  /** The token stream it belongs to: null for the main one, else a name the model declares (TOKEN_STREAMS_KEY). */
  readonly stream: string | null;
  readonly elemType: number;
  readonly shape: readonly (number | string | null)[] | null;
}

/** The declared token stream a model input belongs to (its name is `S.input_ids` or `S.attention_mask`), or null for the main one. */
export function streamOf(name: string | null | undefined, streams: readonly string[]): string | null {
  return streams.find((s) => name?.startsWith(`${s}.`)) ?? null;
}

export function classifyInputs(inputs: readonly ValueInfoProto[], where: string, signature: string, streams: readonly string[] = []): InputSpec[] {
  const specs = inputs.map((v): InputSpec => {
    const name = v.name ?? '';
    // A declared stream's inputs are `S.input_ids` and `S.attention_mask`, nothing else.
    const stream = streamOf(name, streams);
    if (stream !== null) {
      const role = name.slice(stream.length + 1);
      if (role !== 'input_ids' && role !== 'attention_mask') throw new UserError(`${where}: cannot feed model input ${name}: token stream ${stream} takes ${stream}.input_ids and ${stream}.attention_mask only; ${signature}`);
      return { name, role, stream, elemType: elemTypeOf(v), shape: declaredShape(v) };
    }
    const role: Role | null =
      name === LAST_INDEX_INPUT
        ? 'last_index'
        : /(^|[._/])input_ids$/.test(name)
          ? 'input_ids'
          : /(^|[._/])attention_mask$/.test(name)
            ? 'attention_mask'
            : /(^|[._/])token_type_ids$/.test(name)
              ? 'token_type_ids'
              : /(^|[._/])position_ids$/.test(name)
                ? 'position_ids'
                : /^past/.test(name)
                  ? 'past'
                  : name === 'use_cache_branch'
                    ? 'use_cache_branch'
                    : null;
    if (!role) throw new UserError(`${where}: cannot feed model input ${name} (prefrank feeds input_ids, attention_mask, token_type_ids, position_ids, past_key_values.*, use_cache_branch); ${signature}`);
    return { name, role, stream: null, elemType: elemTypeOf(v), shape: declaredShape(v) };
  });
  for (const s of [null, ...streams])
    if (!specs.some((x) => x.stream === s && x.role === 'input_ids')) throw new UserError(`${where}: the model has no ${s === null ? '' : `${s}.`}input_ids input; ${signature}`);
  return specs;
}

/**
 * The feeds of one token stream for one batch (`inputs`: that stream's): ids, mask, positions,
 * empty past, last-token indices. A batch whose rows are all empty (possible on a second stream)
 * is fed one masked pad, as a sequence of length 0 is not.
 */
export function buildFeeds(inputs: readonly InputSpec[], rows: readonly Int32Array[], padId: number, paddingSide: 'left' | 'right'): Record<string, ort.Tensor> {
  const b = rows.length;
  const T = Math.max(1, ...rows.map((x) => x.length));
  const left = paddingSide === 'left';
  const n = b * T;
  const ids = new Int32Array(n).fill(padId);
  const mask = new Int32Array(n);
  const pos = new Int32Array(n).fill(1); // pads get 1, as transformers does
  const last = new BigInt64Array(b);
  for (let r = 0; r < b; r++) {
    const x = rows[r];
    const off = r * T + (left ? T - x.length : 0);
    ids.set(x, off);
    for (let j = 0; j < x.length; j++) {
      mask[off + j] = 1;
      pos[off + j] = j;
    }
    last[r] = BigInt(off + x.length - 1);
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of inputs) {
    switch (inp.role) {
      case 'input_ids':
        feeds[inp.name] = intTensor(ids, inp.elemType, [b, T], inp.name);
        break;
      case 'attention_mask':
        feeds[inp.name] = intTensor(mask, inp.elemType, [b, T], inp.name);
        break;
      case 'token_type_ids':
        feeds[inp.name] = intTensor(new Int32Array(n), inp.elemType, [b, T], inp.name);
        break;
      case 'position_ids':
        feeds[inp.name] = intTensor(pos, inp.elemType, [b, T], inp.name);
        break;
      case 'past':
        feeds[inp.name] = emptyPast(inp, b);
        break;
      case 'use_cache_branch':
        feeds[inp.name] = new ort.Tensor('bool', Uint8Array.of(0), [1]);
        break;
      case 'last_index':
        feeds[inp.name] = new ort.Tensor('int64', last, [b]);
        break;
    }
  }
  return feeds;
}

/**
 * The model's outputs for a batch of `batch` rows as one [layers x width] feature row per input
 * row: output l of shape [batch, width] is layer l.
 */
export function featureRows(out: Record<string, ort.Tensor>, outputNames: readonly string[], batch: number): { rows: Float32Array[]; width: number } {
  const L = outputNames.length;
  let width = 0;
  const layerData: Float32Array[] = outputNames.map((name) => {
    const t = out[name];
    width = Number(t.dims[t.dims.length - 1]);
    if (t.dims.length !== 2 || Number(t.dims[0]) !== batch) throw new Error(`output ${name} has shape [${t.dims.join(', ')}], expected [${batch}, width]`);
    return toFloat32(t);
  });
  const rows: Float32Array[] = [];
  for (let r = 0; r < batch; r++) {
    const f = new Float32Array(L * width);
    for (let l = 0; l < L; l++) f.set(layerData[l].subarray(r * width, (r + 1) * width), l * width);
    rows.push(f);
  }
  return { rows, width };
}

function intTensor(data: Int32Array, elemType: number, dims: number[], name: string): ort.Tensor {
  switch (elemType) {
    case DataType.INT64:
      return new ort.Tensor('int64', toInt64(data), dims);
    case DataType.INT32:
    case DataType.UNDEFINED:
      return new ort.Tensor('int32', data, dims);
    case DataType.FLOAT:
      return new ort.Tensor('float32', Float32Array.from(data), dims);
    case DataType.BOOL:
      return new ort.Tensor('bool', Uint8Array.from(data, (x) => (x ? 1 : 0)), dims);
    default:
      throw new UserError(`model input ${name} has element type ${elemType}, which prefrank cannot feed`);
  }
}

/**
 * An empty past for decoder exports with past_key_values inputs ([batch, heads, past, head_dim]):
 * batch from the batch, the past length 0, the fixed dims as declared.
 */
function emptyPast(inp: InputSpec, batch: number): ort.Tensor {
  const shape = inp.shape;
  if (!shape) throw new UserError(`model input ${inp.name} declares no shape, so prefrank cannot build an empty past for it`);
  const dims = shape.map((d, i) => (i === 0 ? batch : typeof d === 'number' ? d : 0));
  if (!dims.slice(1).includes(0)) dims[dims.length - 2] = 0;
  switch (inp.elemType) {
    case DataType.FLOAT16:
      return new ort.Tensor('float16', new Uint16Array(0), dims);
    case DataType.FLOAT:
      return new ort.Tensor('float32', new Float32Array(0), dims);
    default:
      throw new UserError(`model input ${inp.name} has element type ${inp.elemType}; expected float or float16`);
  }
}

/**
 * int32 -> int64 without a BigInt per element (which costs more than the model run on small
 * models): write the two little-endian 32-bit halves, the high one the sign extension.
 */
function toInt64(data: Int32Array): BigInt64Array {
  const out = new BigInt64Array(data.length);
  const halves = new Int32Array(out.buffer);
  for (let i = 0; i < data.length; i++) {
    halves[2 * i] = data[i];
    halves[2 * i + 1] = data[i] < 0 ? -1 : 0;
  }
  return out;
}

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const src = t.data as Uint16Array;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
    return out;
  }
  throw new Error(`output of type ${t.type}, expected float32 or float16`);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
