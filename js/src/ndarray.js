// n-dimensional arrays as the protocol carries them: numpy's dtype string, a shape and C-order bytes.

import { InvalidMessage } from "./errors.js";

/**
 * @typedef {Int8Array|Uint8Array|Uint8ClampedArray|Int16Array|Uint16Array|Int32Array|Uint32Array|Float32Array
 *   |Float64Array|BigInt64Array|BigUint64Array} TypedArray
 */

/** numpy dtype string -> the typed array that views its bytes on a little-endian machine. */
const VIEWS = /** @type {Record<string, any>} */ ({
  "|b1": Uint8Array,
  "|i1": Int8Array,
  "|u1": Uint8Array,
  "<i2": Int16Array,
  "<u2": Uint16Array,
  "<i4": Int32Array,
  "<u4": Uint32Array,
  "<i8": BigInt64Array,
  "<u8": BigUint64Array,
  "<f4": Float32Array,
  "<f8": Float64Array,
});

/** @type {Array<[any, string]>} typed array class -> dtype string; Uint8Array first so it wins over bool */
const DTYPES = [
  [Uint8Array, "|u1"],
  [Uint8ClampedArray, "|u1"],
  [Int8Array, "|i1"],
  [Int16Array, "<i2"],
  [Uint16Array, "<u2"],
  [Int32Array, "<i4"],
  [Uint32Array, "<u4"],
  [BigInt64Array, "<i8"],
  [BigUint64Array, "<u8"],
  [Float32Array, "<f4"],
  [Float64Array, "<f8"],
];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** numpy's dtype strings of the kinds the protocol accepts: bool, int, uint, float, complex (byte order, kind, size). */
const DTYPE_STRING = /^([<>|=])([biufc])(\d{1,2})$/;

/**
 * An n-dimensional array: `data` in C order, `shape` (a list of non-negative ints), `dtype` numpy's dtype string with
 * byte order (`"<f4"` float32, `"<f8"` float64, `"<i4"` int32, `"<i8"` int64, `"|u1"` uint8, `"|b1"` bool, ...).
 *
 * `data` is the typed array of the dtype (`Float32Array` for `"<f4"`, `BigInt64Array` for `"<i8"`, `Uint8Array`
 * for `"|u1"` and `"|b1"`); dtypes JavaScript has no typed array for (`"<f2"`, complex, big-endian) keep their raw
 * bytes as a `Uint8Array`. The bytes go back exactly as they came (NaN payloads included).
 */
export class NDArray {
  /**
   * @param {TypedArray} data the elements, C order
   * @param {number[]} [shape] default: one dimension, `[data.length]` (for raw bytes: the element count)
   * @param {string} [dtype] default: the dtype of `data`'s class (`Float32Array` -> `"<f4"`)
   * @throws {InvalidMessage} an unknown dtype, or a shape whose size does not match the bytes of `data`
   */
  constructor(data, shape, dtype) {
    if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      throw new InvalidMessage(`NDArray data must be a typed array, got ${Object.prototype.toString.call(data)}`, "bad-array");
    }
    this.dtype = dtype ?? dtypeOf(data);
    const size = itemSize(this.dtype);
    this.shape = shape ? [...shape] : [data.byteLength / size];
    checkShape(this.shape, this.dtype, data.byteLength);
    /** @type {TypedArray} */
    this.data = data;
  }

  /** Elements in all. */
  get size() {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The raw C-order bytes (a view, not a copy). */
  get bytes() {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /**
   * The array from its raw bytes (copied once into fresh memory, so every typed array is aligned).
   * @param {Uint8Array} bytes C-order bytes
   * @param {number[]} shape
   * @param {string} dtype numpy's dtype string
   * @returns {NDArray}
   * @throws {InvalidMessage} a forbidden dtype, or a byte count that does not match the shape
   */
  static fromBytes(bytes, shape, dtype) {
    itemSize(dtype);
    checkShape(shape, dtype, bytes.byteLength);
    const copy = bytes.slice();
    const View = LITTLE_ENDIAN ? VIEWS[dtype] : undefined;
    const data = View ? new View(copy.buffer, 0, copy.byteLength / View.BYTES_PER_ELEMENT) : copy;
    return new NDArray(data, shape, dtype);
  }
}

/**
 * numpy's dtype string for a typed array.
 * @param {TypedArray} data
 * @returns {string}
 */
export function dtypeOf(data) {
  if (!LITTLE_ENDIAN) throw new InvalidMessage("arrays are sent from little-endian machines only", "bad-array");
  for (const [Class, dtype] of DTYPES) if (data instanceof Class) return dtype;
  throw new InvalidMessage(`no dtype for ${Object.prototype.toString.call(data)}`, "bad-array");
}

/**
 * Bytes per element of a dtype string.
 * @param {string} dtype
 * @returns {number}
 * @throws {InvalidMessage} not a bool, int, uint, float or complex dtype string
 */
function itemSize(dtype) {
  const match = typeof dtype === "string" ? DTYPE_STRING.exec(dtype) : null;
  if (!match) throw new InvalidMessage(`ndarray extension with forbidden dtype ${JSON.stringify(dtype)}`, "bad-array");
  return Number(match[3]);
}

/**
 * @param {any} shape
 * @param {string} dtype
 * @param {number} byteLength
 */
function checkShape(shape, dtype, byteLength) {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0) || shape.length > 64) {
    throw new InvalidMessage(`ndarray extension shape must be a list of non-negative ints, got ${JSON.stringify(shape)}`, "bad-array");
  }
  const expected = shape.reduce((a, b) => a * b, 1) * itemSize(dtype);
  if (expected !== byteLength) {
    throw new InvalidMessage(`ndarray extension shape [${shape}] of ${dtype} needs ${expected} bytes, got ${byteLength}`, "bad-array");
  }
}
