/**
 * An ONNX graph under construction and its ModelProto encoding (field numbers from onnx/onnx.proto).
 * Only what the exporter needs: float32/int64 initialisers, float32 graph inputs/outputs with a symbolic
 * batch dimension, and int/float/ints attributes.
 */
import { ProtoWriter } from './proto.ts';

export const OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (ONNX 1.12+). */
export const IR_VERSION = 8;

const FLOAT = 1;
const INT64 = 7;

const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

export type AttrValue = number | string | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, AttrValue>;
}

interface Initializer {
  name: string;
  dims: number[];
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
}

/** A value's shape; a string is a symbolic dimension (the batch). */
export type Dims = (number | string)[];

export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: { name: string; dims: Dims }[] = [];
  readonly outputs: { name: string; dims: Dims }[] = [];
  private counter = 0;
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** A fresh value name derived from `hint`. */
  fresh(hint: string): string {
    let n = hint;
    while (this.names.has(n)) n = `${hint}_${++this.counter}`;
    this.names.add(n);
    return n;
  }

  node(op: string, inputs: string[], hint: string, attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.fresh(hint);
    this.names.add(out);
    this.nodes.push({ op, inputs, outputs: [out], name: this.fresh(`${hint}#${op}`), attrs });
    return out;
  }

  /** A node with several outputs (Split): their fresh names. */
  nodeMulti(op: string, inputs: string[], hint: string, outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(`${hint}_${i}`));
    this.nodes.push({ op, inputs, outputs: outs, name: this.fresh(`${hint}#${op}`), attrs });
    return outs;
  }

  floats(hint: string, dims: number[], data: ArrayLike<number>): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`initialiser ${hint}: ${data.length} values for shape [${dims}]`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, type: 'float32', data: Float32Array.from(data) });
    return name;
  }

  ints(hint: string, values: number[]): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [values.length], type: 'int64', data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  }

  input(name: string, dims: Dims): string {
    this.names.add(name);
    this.inputs.push({ name, dims });
    return name;
  }

  output(name: string, dims: Dims): void {
    this.outputs.push({ name, dims });
  }

  encode(meta: { producer: string; version: string; doc?: string; props?: Record<string, string> }): Uint8Array {
    const m = new ProtoWriter();
    m.varint(1, IR_VERSION);
    m.string(2, meta.producer);
    m.string(3, meta.version);
    if (meta.doc) m.string(6, meta.doc);
    m.message(7, (g) => this.writeGraph(g));
    m.message(8, (o) => o.string(1, '').varint(2, OPSET));
    for (const [key, value] of Object.entries(meta.props ?? {})) m.message(14, (e) => e.string(1, key).string(2, value));
    return m.finish();
  }

  private writeGraph(g: ProtoWriter): void {
    for (const n of this.nodes) g.message(1, (w) => writeNode(w, n));
    g.string(2, this.name);
    for (const t of this.initializers) g.message(5, (w) => writeTensor(w, t));
    for (const v of this.inputs) g.message(11, (w) => writeValueInfo(w, v.name, v.dims));
    for (const v of this.outputs) g.message(12, (w) => writeValueInfo(w, v.name, v.dims));
  }
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.op);
  for (const [name, value] of Object.entries(n.attrs)) {
    w.message(5, (a) => {
      a.string(1, name);
      if (typeof value === 'number') {
        if (!Number.isInteger(value)) throw new Error(`attribute ${n.op}.${name}: use { float } for non-integers`);
        a.varint(3, value).varint(20, ATTR_INT);
      } else if (typeof value === 'string') a.string(4, value).varint(20, ATTR_STRING);
      else if (Array.isArray(value)) {
        for (const v of value) a.varint(8, v);
        a.varint(20, ATTR_INTS);
      } else a.float(2, value.float).varint(20, ATTR_FLOAT);
    });
  }
}

function writeTensor(w: ProtoWriter, t: Initializer): void {
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.type === 'float32' ? FLOAT : INT64);
  w.string(8, t.name);
  // raw_data is little-endian, which is what typed arrays are on every platform Node runs on here.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function writeValueInfo(w: ProtoWriter, name: string, dims: Dims): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, FLOAT);
      tensor.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
      });
    }),
  );
}
