/**
 * Small helpers to write ONNX models with onnx-proto: the default model's builder, the layer tap's
 * graph rewrite, and the tests and benches that generate models all use them. Everything here is
 * deterministic: the same calls give the same bytes (protobufjs writes fields in declaration order,
 * and we never iterate over unordered containers).
 */
import { open } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = InstanceType<typeof onnxProto.onnx.ModelProto>;
export type GraphProto = InstanceType<typeof onnxProto.onnx.GraphProto>;
export type NodeProto = InstanceType<typeof onnxProto.onnx.NodeProto>;
export type TensorProto = InstanceType<typeof onnxProto.onnx.TensorProto>;
export type ValueInfoProto = InstanceType<typeof onnxProto.onnx.ValueInfoProto>;

export const DataType = onnxProto.onnx.TensorProto.DataType;
const AttrType = onnxProto.onnx.AttributeProto.AttributeType;

export type Dim = number | string | null;
export type AttrValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] } | TensorProto;

/** A float32/int64/int32 tensor stored as raw little-endian bytes (the compact form exporters use). */
export function tensor(name: string, dims: readonly number[], data: Float32Array | BigInt64Array | Int32Array | Uint8Array, dataType?: number): TensorProto {
  const type =
    dataType ??
    (data instanceof Float32Array ? DataType.FLOAT : data instanceof BigInt64Array ? DataType.INT64 : data instanceof Int32Array ? DataType.INT32 : DataType.UINT8);
  // Copy into a fresh buffer: a view over a larger ArrayBuffer must not leak its neighbours.
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: type, rawData: raw });
}

export function int64s(name: string, values: readonly number[]): TensorProto {
  return tensor(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
}

export function scalarF32(name: string, value: number): TensorProto {
  return tensor(name, [], Float32Array.of(value));
}

export function valueInfo(name: string, elemType: number, dims: readonly Dim[] | null): ValueInfoProto {
  const shape = dims === null ? undefined : { dim: dims.map((d) => (d === null ? {} : typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape } } });
}

export function node(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attrs: Readonly<Record<string, AttrValue>> = {}): NodeProto {
  const attribute = Object.keys(attrs)
    .sort()
    .map((k) => {
      const v = attrs[k];
      if (typeof v === 'number') return Number.isInteger(v) ? { name: k, type: AttrType.INT, i: v } : { name: k, type: AttrType.FLOAT, f: v };
      if (typeof v === 'string') return { name: k, type: AttrType.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name: k, type: AttrType.INTS, ints: [...v] };
      if ('float' in (v as object)) return { name: k, type: AttrType.FLOAT, f: (v as { float: number }).float };
      if ('floats' in (v as object)) return { name: k, type: AttrType.FLOATS, floats: [...(v as { floats: number[] }).floats] };
      return { name: k, type: AttrType.TENSOR, t: v as TensorProto };
    });
  return onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs], name, attribute });
}

export interface ModelSpec {
  readonly nodes: readonly NodeProto[];
  readonly initializers: readonly TensorProto[];
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
  readonly opset?: number;
  readonly name?: string;
  readonly docString?: string;
  /** The model's metadata_props (e.g. TOKEN_STREAMS_KEY), written in key order. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * metadata_props key naming a model's extra token streams (comma-separated names). A stream S is
 * the inputs `S.input_ids` and `S.attention_mask`, fed from the tokenizer in the folder S/ beside
 * model.onnx (its own tokenizer_config.json: template, length limit). Embedder.ts reads it.
 */
export const TOKEN_STREAMS_KEY = 'prefrank.token_streams';

/** The model's metadata_props as a plain object. */
export function modelMetadata(model: ModelProto): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const e of model.metadataProps ?? []) if (e.key) out[e.key] = e.value ?? '';
  return out;
}

/** The extra token streams a model declares (TOKEN_STREAMS_KEY), in order. */
export function tokenStreams(metadata: Readonly<Record<string, string>>): string[] {
  return (metadata[TOKEN_STREAMS_KEY] ?? '').split(',').filter(Boolean);
}

/** ModelProto's field number of metadata_props. */
const METADATA_FIELD = 14;

/**
 * metadata_props of an ONNX file without reading its graph: the file's top-level protobuf fields
 * are walked and every other field skipped by its length, so a multi-GB model costs a few reads.
 * For the run's config hash, which is computed without opening the model (embedOptions.ts).
 */
export async function fileMetadata(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(20);
    let at = 0;
    // A varint at `pos` of `buf`: its value (safe up to 2^53) and its length in bytes.
    const varint = (buf: Buffer, pos: number): [number, number] => {
      let v = 0;
      for (let i = 0; i < 10 && pos + i < buf.length; i++) {
        v += (buf[pos + i] & 0x7f) * 2 ** (7 * i);
        if (buf[pos + i] < 0x80) return [v, i + 1];
      }
      throw new Error(`${path}: not an ONNX model (bad protobuf varint at byte ${at})`);
    };
    while (at < size) {
      const { bytesRead } = await fh.read(head, 0, head.length, at);
      const [tag, n] = varint(head.subarray(0, bytesRead), 0);
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) at += n + varint(head.subarray(0, bytesRead), n)[1];
      else if (wire === 1) at += n + 8;
      else if (wire === 5) at += n + 4;
      else if (wire === 2) {
        const [len, m] = varint(head.subarray(0, bytesRead), n);
        if (field === METADATA_FIELD) {
          const entry = Buffer.alloc(len);
          await fh.read(entry, 0, len, at + n + m);
          const e = onnx.StringStringEntryProto.decode(entry);
          if (e.key) out[e.key] = e.value ?? '';
        }
        at += n + m + len;
      } else throw new Error(`${path}: not an ONNX model (protobuf wire type ${wire} at byte ${at})`);
    }
  } finally {
    await fh.close();
  }
  return out;
}

/** A graph under construction: nodes and initializers with generated, readable, deterministic names. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private n = 0;

  /** Adds a node with one output, named `/scope/OpType_N_output_0`; returns the output's name. */
  op(opType: string, inputs: readonly string[], scope: string, attrs: Readonly<Record<string, AttrValue>> = {}): string {
    const name = `/${scope}/${opType}_${this.n++}`;
    this.nodes.push(node(opType, inputs, [`${name}_output_0`], name, attrs));
    return `${name}_output_0`;
  }

  init(t: TensorProto): string {
    this.inits.push(t);
    return t.name!;
  }
}

/** Encodes a model. No timestamps or host names go in, so the bytes depend on the spec alone. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    producerName: 'prefrank',
    docString: spec.docString ?? '',
    metadataProps: Object.keys(spec.metadata ?? {})
      .sort()
      .map((key) => ({ key, value: spec.metadata![key] })),
    graph: {
      name: spec.name ?? 'prefrank',
      node: [...spec.nodes],
      initializer: [...spec.initializers],
      input: [...spec.inputs],
      output: [...spec.outputs],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModelProto(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Reads a `dimValue` that protobufjs may hand back as a Long. */
export function dimOf(d: { dimValue?: unknown; dimParam?: string | null } | undefined): Dim {
  if (!d) return null;
  if (d.dimParam) return d.dimParam;
  const v = d.dimValue as number | { toNumber(): number } | null | undefined;
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : v.toNumber();
  // proto3 default: a dim with neither field set decodes as dimValue 0; treat it as unknown.
  return n === 0 && !Object.prototype.hasOwnProperty.call(d, 'dimValue') ? null : n;
}

/** Shape of a graph input/output as declared in the model (null when the model does not declare it). */
export function declaredShape(v: ValueInfoProto): Dim[] | null {
  const shape = v.type?.tensorType?.shape;
  if (!shape) return null;
  return (shape.dim ?? []).map((d) => dimOf(d as never));
}

export function elemTypeOf(v: ValueInfoProto): number {
  return v.type?.tensorType?.elemType ?? DataType.UNDEFINED;
}

export const dataTypeName: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v as number, k.toLowerCase()]));

/** "name: type[d0, d1]" for error messages listing a model's inputs and outputs. */
export function describeValue(v: ValueInfoProto): string {
  const shape = declaredShape(v);
  const type = dataTypeName[elemTypeOf(v)] ?? '?';
  return `${v.name}: ${type}${shape ? `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : ''}`;
}
