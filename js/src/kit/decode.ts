/**
 * Binary arrays from Python, decoded without copying where possible.
 *
 * Python (`circuitwidgets/widgets/_transport.py`) sends an array as a small JSON object whose
 * `buffer` travels as a binary frame of the widget message:
 *
 *     { dtype: "float32", shape: [4, 16], buffer: <DataView>, scale?: 0.00392 }
 *
 * The bytes are little-endian and C-ordered (last axis fastest). `scale` is present for
 * quantized arrays: the value of element `i` is `data[i] * scale` (see {@link valueAt}).
 *
 * The buffer arrives as a `DataView` in JupyterLab and in static exports, and that view often
 * starts part-way into a larger `ArrayBuffer` (the whole message): always honour its
 * `byteOffset` and `byteLength`, never read `view.buffer` from 0.
 */

export type DType =
  | "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32"
  | "float16" | "float32" | "float64";

export type NumericArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array;

/** What Python sends: see the module docstring. */
export interface WireArray {
  dtype: string;
  shape: readonly number[];
  buffer: DataView | ArrayBuffer | ArrayBufferView;
  scale?: number | null;
}

/** An array as a view's decoder takes it: from a trait (wire) or from a request's answer
 * (already decoded by the request channel). */
export type Arrayish = WireArray | NDArray;

/** A decoded array: `data` is flat and C-ordered; element `i` means `data[i] * scale`. */
export interface NDArray {
  dtype: DType;
  shape: number[];
  data: NumericArray;
  scale: number;
}

type Ctor = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray };

const KINDS: Record<DType, { size: number; ctor: Ctor }> = {
  uint8: { size: 1, ctor: Uint8Array },
  int8: { size: 1, ctor: Int8Array },
  uint16: { size: 2, ctor: Uint16Array },
  int16: { size: 2, ctor: Int16Array },
  uint32: { size: 4, ctor: Uint32Array },
  int32: { size: 4, ctor: Int32Array },
  // No Float16Array everywhere yet: float16 is widened to float32 on decode.
  float16: { size: 2, ctor: Float32Array },
  float32: { size: 4, ctor: Float32Array },
  float64: { size: 8, ctor: Float64Array },
};

export const DTYPES = Object.keys(KINDS) as DType[];

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of any buffer-like value, as a `Uint8Array` over exactly its own range. */
export function asBytes(buffer: DataView | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  throw new TypeError(`expected a DataView, ArrayBuffer or typed array, got ${typeof buffer}`);
}

/** IEEE 754 half-precision bits -> number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function checkShape(shape: readonly number[]): number {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new TypeError(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/** An array already decoded (e.g. by {@link decodeArrays}, as the request channel does). */
export function isDecoded(value: unknown): value is NDArray {
  return value !== null && typeof value === "object" && ArrayBuffer.isView((value as NDArray).data);
}

/** Decode a {@link WireArray} (an {@link NDArray} is returned as it is, so a view's decoder
 * reads a trait and a request's answer alike). Throws on an unknown dtype or a size that does
 * not match. */
export function decode(wire: Arrayish): NDArray {
  if (isDecoded(wire)) return wire;
  const dtype = wire.dtype as DType;
  const kind = KINDS[dtype];
  if (kind === undefined) {
    throw new TypeError(`unknown dtype ${JSON.stringify(wire.dtype)}; expected one of ${DTYPES.join(", ")}`);
  }
  const length = checkShape(wire.shape);
  const bytes = asBytes(wire.buffer);
  if (bytes.byteLength !== length * kind.size) {
    throw new RangeError(
      `a ${dtype} array of shape [${wire.shape.join(", ")}] needs ${length * kind.size} bytes, ` +
        `but the buffer holds ${bytes.byteLength}`,
    );
  }
  const scale = wire.scale ?? 1;
  return { dtype, shape: [...wire.shape], data: readElements(dtype, bytes, length), scale };
}

let halfTable: Float32Array | null = null;

/** float16 -> float32 through a 65536-entry table (built once): an order of magnitude faster
 * than decoding bit fields per element, which matters for millions of attention weights. */
function widenHalf(bytes: Uint8Array, length: number): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToFloat(bits);
  }
  const table = halfTable;
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, length);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = table[halves[i] as number] as number;
  return out;
}

function readElements(dtype: DType, bytes: Uint8Array, length: number): NumericArray {
  const { size, ctor } = KINDS[dtype];
  if (HOST_IS_LITTLE_ENDIAN && dtype === "float16") return widenHalf(bytes, length);
  if (HOST_IS_LITTLE_ENDIAN) {
    // Zero-copy when the bytes are aligned for the element type; otherwise copy them once
    // into a fresh (aligned) buffer.
    if (bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, length);
    return new ctor(bytes.slice().buffer, 0, length);
  }
  return readPortable(dtype, bytes, length);
}

/**
 * Element-by-element little-endian read through a `DataView`: works on any host and any
 * alignment. Used for float16 and on big-endian hosts; exported so tests can check that it
 * agrees with the fast path.
 */
export function readPortable(dtype: DType, bytes: Uint8Array, length: number): NumericArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { size, ctor } = KINDS[dtype];
  const out = new ctor(new ArrayBuffer(length * (dtype === "float16" ? 4 : size)), 0, length);
  const get: (offset: number) => number = {
    uint8: (o: number) => view.getUint8(o),
    int8: (o: number) => view.getInt8(o),
    uint16: (o: number) => view.getUint16(o, true),
    int16: (o: number) => view.getInt16(o, true),
    uint32: (o: number) => view.getUint32(o, true),
    int32: (o: number) => view.getInt32(o, true),
    float16: (o: number) => halfToFloat(view.getUint16(o, true)),
    float32: (o: number) => view.getFloat32(o, true),
    float64: (o: number) => view.getFloat64(o, true),
  }[dtype];
  for (let i = 0; i < length; i++) out[i] = get(i * size);
  return out;
}

/** The value of flat element `i` (applies the quantization scale). */
export function valueAt(array: NDArray, i: number): number {
  return (array.data[i] as number) * array.scale;
}

/** Row-major flat index of a multi-index, checked against the shape. */
export function flatIndex(shape: readonly number[], index: readonly number[]): number {
  if (index.length !== shape.length) {
    throw new RangeError(`index [${index.join(", ")}] has ${index.length} axes; the array has ${shape.length}`);
  }
  let flat = 0;
  for (let axis = 0; axis < shape.length; axis++) {
    const i = index[axis] as number;
    const n = shape[axis] as number;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`index ${i} is out of range for axis ${axis} of size ${n}`);
    }
    flat = flat * n + i;
  }
  return flat;
}

/**
 * Put the binary frames of a custom message back into its wire arrays: every object with a
 * numeric `buffer_index` gets `buffer = buffers[buffer_index]` (the inverse of Python's
 * `_transport.split_buffers`). Returns the same message, filled in.
 */
export function attachBuffers<T>(message: T, buffers: readonly (DataView | ArrayBuffer | ArrayBufferView)[]): T {
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value !== null && typeof value === "object") {
      const record = value as Record<string, unknown>;
      if (typeof record.buffer_index === "number") {
        const buffer = buffers[record.buffer_index];
        if (buffer === undefined) {
          throw new RangeError(`buffer_index ${record.buffer_index} but the message has ${buffers.length} buffers`);
        }
        record.buffer = buffer;
        return;
      }
      for (const item of Object.values(record)) walk(item);
    }
  };
  walk(message);
  return message;
}

/**
 * Every wire array inside a message (an object with `dtype`, `shape` and a `buffer`), decoded
 * in place into an {@link NDArray}; the request channel's answers arrive this way. Returns the
 * same message.
 */
export function decodeArrays<T>(message: T): T {
  const isWire = (v: Record<string, unknown>) =>
    typeof v.dtype === "string" && Array.isArray(v.shape) && v.buffer !== undefined && !isDecoded(v);
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = walk(value[i]);
      return value;
    }
    if (value === null || typeof value !== "object" || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
    const record = value as Record<string, unknown>;
    if (isWire(record)) return decode(record as unknown as WireArray);
    for (const [key, item] of Object.entries(record)) record[key] = walk(item);
    return record;
  };
  return walk(message) as T;
}

/** A payload as the browser reads it: every {@link WireArray} in `T` an {@link NDArray}. */
export type Decoded<T> = T extends WireArray | NDArray
  ? NDArray
  : T extends readonly (infer U)[]
    ? Decoded<U>[]
    : T extends object
      ? { [K in keyof T]: Decoded<T[K]> }
      : T;

/**
 * The one typed decoder of the views' nested payloads (Python's `widgets/_payloads.py`, each
 * class's `TS_TYPE` its mirror here): a copy of `payload` with every wire array decoded, typed
 * as {@link Decoded}. The trait's value itself is left as it is (other views of the same model
 * read it too).
 *
 *     const scores = decodePayload(model.get("_scores"));   // Record<Kind, NDArray>
 */
export function decodePayload<T>(payload: T): Decoded<T> {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object" || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
    const record = value as Record<string, unknown>;
    if (isDecoded(record)) return record;
    if (typeof record.dtype === "string" && Array.isArray(record.shape) && record.buffer !== undefined) return decode(record as unknown as WireArray);
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, walk(item)]));
  };
  return walk(payload) as Decoded<T>;
}

/** Head `(layer, head)`'s value in a per-head array of shape `[n_layers, n_heads]` (scale
 * applied); `NaN` while the array is missing. */
export function headValue(array: NDArray | null, layer: number, head: number): number {
  if (!array) return NaN;
  return valueAt(array, layer * (array.shape[1] as number) + head);
}
