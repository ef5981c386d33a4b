import { describe, expect, it } from "vitest";
import { DTYPES, decode, flatIndex, halfToFloat, readPortable, valueAt, type DType } from "../src/kit/decode";

/** `values` as little-endian bytes of `dtype`, placed `offset` bytes into a larger buffer. */
function embedded(dtype: "float32" | "int32" | "uint8" | "float64", values: number[], offset: number): DataView {
  const size = { float32: 4, int32: 4, uint8: 1, float64: 8 }[dtype];
  const buffer = new ArrayBuffer(offset + values.length * size + 7);
  new Uint8Array(buffer).fill(0xee); // garbage around the array: reading it would show
  const view = new DataView(buffer, offset, values.length * size);
  values.forEach((v, i) => {
    if (dtype === "float32") view.setFloat32(i * 4, v, true);
    else if (dtype === "int32") view.setInt32(i * 4, v, true);
    else if (dtype === "float64") view.setFloat64(i * 8, v, true);
    else view.setUint8(i, v);
  });
  return view;
}

describe("decode", () => {
  it("reads a DataView that starts part-way into its buffer (aligned offset)", () => {
    const view = embedded("float32", [0.5, -1.25, 3, 1e-3], 8);
    const a = decode({ dtype: "float32", shape: [2, 2], buffer: view });
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data)).toEqual([0.5, -1.25, 3, Math.fround(1e-3)]);
    // zero-copy: the typed array shares the message buffer
    expect(a.data.buffer).toBe(view.buffer);
  });

  it("reads a DataView at an offset not aligned to the element size", () => {
    const view = embedded("int32", [7, -8, 2147483647], 5);
    const a = decode({ dtype: "int32", shape: [3], buffer: view });
    expect(Array.from(a.data)).toEqual([7, -8, 2147483647]);
  });

  it("reads float64 at an odd offset and uint8 from a plain ArrayBuffer", () => {
    expect(Array.from(decode({ dtype: "float64", shape: [2], buffer: embedded("float64", [Math.PI, -0.1], 3) }).data))
      .toEqual([Math.PI, -0.1]);
    const bytes = new Uint8Array([0, 128, 255]);
    expect(Array.from(decode({ dtype: "uint8", shape: [3], buffer: bytes.buffer }).data)).toEqual([0, 128, 255]);
  });

  it("accepts a typed array view as the buffer and honours its own range", () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const a = decode({ dtype: "uint8", shape: [3], buffer: whole.subarray(2, 5) });
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
  });

  it("widens float16 to float32", () => {
    // 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal = 0x0001, inf, NaN
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00];
    const view = new DataView(new ArrayBuffer(1 + bits.length * 2), 1, bits.length * 2);
    bits.forEach((b, i) => view.setUint16(i * 2, b, true));
    const a = decode({ dtype: "float16", shape: [bits.length], buffer: view });
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data)).toEqual([1, -2, 65504, 2 ** -24, Infinity, NaN]);
    expect(halfToFloat(0x8000)).toBe(-0);
  });

  it("applies the quantization scale in valueAt", () => {
    const a = decode({ dtype: "uint8", shape: [3], buffer: new Uint8Array([0, 51, 255]), scale: 1 / 255 });
    expect(valueAt(a, 0)).toBe(0);
    expect(valueAt(a, 1)).toBeCloseTo(0.2, 12);
    expect(valueAt(a, 2)).toBeCloseTo(1, 12);
    expect(decode({ dtype: "uint8", shape: [1], buffer: new Uint8Array([3]) }).scale).toBe(1);
  });

  it("handles empty arrays and scalars", () => {
    expect(decode({ dtype: "float32", shape: [0, 4], buffer: new ArrayBuffer(0) }).data.length).toBe(0);
    expect(Array.from(decode({ dtype: "int32", shape: [], buffer: new Int32Array([42]) }).data)).toEqual([42]);
  });

  it("rejects an unknown dtype, a bad shape and a size mismatch, naming the problem", () => {
    expect(() => decode({ dtype: "int64", shape: [1], buffer: new ArrayBuffer(8) })).toThrow(/unknown dtype "int64"; expected one of uint8/);
    expect(() => decode({ dtype: "uint8", shape: [-1], buffer: new ArrayBuffer(1) })).toThrow(/non-negative integers/);
    expect(() => decode({ dtype: "float32", shape: [2, 3], buffer: new ArrayBuffer(20) })).toThrow(
      "a float32 array of shape [2, 3] needs 24 bytes, but the buffer holds 20",
    );
  });

  it("the portable DataView reader agrees with the fast path for every dtype", () => {
    const bytes = new Uint8Array(64 + 3).map((_, i) => (i * 37 + 11) & 0xff).subarray(3);
    for (const dtype of DTYPES) {
      const size = { uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 }[dtype as DType];
      const n = 64 / size;
      const fast = decode({ dtype, shape: [n], buffer: bytes });
      const portable = readPortable(dtype, bytes, n);
      expect(Array.from(portable), dtype).toEqual(Array.from(fast.data));
    }
  });
});

describe("flatIndex", () => {
  it("is row-major and range-checked", () => {
    expect(flatIndex([2, 3, 4], [1, 2, 3])).toBe(23);
    expect(() => flatIndex([2, 3], [0, 3])).toThrow("index 3 is out of range for axis 1 of size 3");
    expect(() => flatIndex([2, 3], [0])).toThrow(/has 1 axes; the array has 2/);
  });
});

describe("float16 fast path", () => {
  it("agrees with the portable reader for every bit pattern, at an odd byteOffset", () => {
    const n = 65536;
    const view = new DataView(new ArrayBuffer(3 + n * 2), 3, n * 2);
    for (let b = 0; b < n; b++) view.setUint16(b * 2, b, true);
    const fast = decode({ dtype: "float16", shape: [n], buffer: view }).data;
    const slow = readPortable("float16", new Uint8Array(view.buffer, view.byteOffset, view.byteLength), n);
    expect(Array.from(fast)).toEqual(Array.from(slow));
  });
});

describe("decodeArrays", () => {
  it("decodes every wire array inside a message, and decode leaves a decoded array as it is", async () => {
    const { decodeArrays, isDecoded } = await import("../src/kit/decode");
    const ids = new Int32Array([4, 5]);
    const message = { run: 2, pages: [{ ids: { dtype: "int32", shape: [2], buffer: new DataView(ids.buffer) }, strs: ["a", "b"] }] };
    const out = decodeArrays(message);
    const array = out.pages[0]!.ids as unknown as ReturnType<typeof decode>;
    expect(isDecoded(array)).toBe(true);
    expect(Array.from(array.data)).toEqual([4, 5]);
    expect(out.pages[0]!.strs).toEqual(["a", "b"]);
    expect(decode(array)).toBe(array);
  });
});

describe("decodePayload (the typed decoder of nested payloads)", () => {
  it("decodes every wire array in a copy, leaving the trait's value as it was", async () => {
    const { decodePayload } = await import("../src/kit/decode");
    const { wire } = await import("./mock_model");
    const payload = {
      run: 3,
      heads: [[1, 2]],
      scores: { induction: wire("float32", [1, 2], [0.5, 0.25]) },
      pages: [{ page: 0, kl: wire("int32", [2], [7, 8]) }],
    };
    const decoded = decodePayload(payload);
    expect(decoded.run).toBe(3);
    expect(decoded.heads).toEqual([[1, 2]]);
    expect(Array.from(decoded.scores.induction.data)).toEqual([0.5, 0.25]);
    expect(decoded.scores.induction.shape).toEqual([1, 2]);
    expect(Array.from(decoded.pages[0]!.kl.data)).toEqual([7, 8]);
    expect(payload.scores.induction.buffer).toBeInstanceOf(DataView); // untouched
    expect(decodePayload(decoded).scores.induction).toBe(decoded.scores.induction); // decoded passes through
    expect(decodePayload(null)).toBeNull();
  });
});
