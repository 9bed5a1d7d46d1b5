// Envelopes into WebSocket frames and back, as swergio_nb/protocol/codec.py writes and reads them.
//
// Text frames carry JSON; binary frames a msgpack map, used as soon as a message holds an array (NDArray or typed
// array), bytes (Uint8Array, ArrayBuffer), a bigint or a non-finite number (JSON has no NaN: Python writes it as
// `NaN`, which JSON.parse refuses, so this side sends such numbers as msgpack floats and reads Python's `NaN` with
// JSON5). An array is the msgpack extension of type NDARRAY_EXT whose payload is the msgpack array
// `[dtype, shape, bytes]`. A plain Uint8Array is bytes (msgpack bin, Python `bytes`); a uint8 array is an NDArray.

import { decode as unpack, encode as pack, ExtensionCodec } from "@msgpack/msgpack";
import JSON5 from "json5";
import { InvalidMessage } from "./errors.js";
import { NDArray } from "./ndarray.js";

/** msgpack extension type code of an ndarray. */
export const NDARRAY_EXT = 1;

const extensions = new ExtensionCodec();
extensions.register({
  type: NDARRAY_EXT,
  encode(value) {
    if (value instanceof NDArray) return pack([value.dtype, value.shape, value.bytes]);
    if (ArrayBuffer.isView(value) && !(value instanceof Uint8Array) && !(value instanceof DataView)) {
      const array = new NDArray(/** @type {any} */ (value));
      return pack([array.dtype, array.shape, array.bytes]);
    }
    return null;
  },
  decode(payload) {
    let parts;
    try {
      parts = unpack(payload);
    } catch (error) {
      throw new InvalidMessage(`ndarray extension is not [dtype, shape, bytes]: ${error}`, "bad-array");
    }
    if (!Array.isArray(parts) || parts.length !== 3 || !(parts[2] instanceof Uint8Array)) {
      throw new InvalidMessage("ndarray extension is not [dtype, shape, bytes]", "bad-array");
    }
    return NDArray.fromBytes(parts[2], parts[1], parts[0]);
  },
});

/**
 * True if `value` needs a binary frame (see the module comment).
 * @param {any} value
 * @param {number} depth
 * @returns {boolean}
 */
function needsBinary(value, depth = 0) {
  if (typeof value === "number") return !Number.isFinite(value);
  if (typeof value === "bigint") return true;
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof NDArray || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (depth > 1000) throw new InvalidMessage("message nested too deeply to encode", "too-deep");
  if (Array.isArray(value)) return value.some((v) => needsBinary(v, depth + 1));
  for (const key in value) if (needsBinary(value[key], depth + 1)) return true;
  return false;
}

/**
 * Encode an envelope: JSON text if it holds only JSON values, otherwise a msgpack binary frame.
 * @param {Record<string, any>} msg
 * @returns {string|Uint8Array}
 * @throws {InvalidMessage} a value that cannot be encoded
 */
export function encode(msg) {
  try {
    if (!needsBinary(msg)) return JSON.stringify(msg);
    return encodeBinary(msg);
  } catch (error) {
    if (error instanceof InvalidMessage) throw error;
    throw new InvalidMessage(`message cannot be encoded: ${error}`, "unencodable");
  }
}

/**
 * Encode `value` as a msgpack binary frame (arrays as the ndarray extension).
 * @param {any} value
 * @returns {Uint8Array}
 */
export function encodeBinary(value) {
  const data = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
  return pack(data, { extensionCodec: extensions, ignoreUndefined: true });
}

/**
 * Decode one frame: a string is JSON text, bytes are msgpack.
 * @param {string|ArrayBuffer|Uint8Array} frame
 * @returns {any} normally an envelope (`validate` checks it)
 * @throws {InvalidMessage} `bad-json`, `bad-msgpack` or `bad-array`, naming what was wrong
 */
export function decode(frame) {
  if (typeof frame === "string") {
    try {
      return JSON.parse(frame);
    } catch {
      try {
        return JSON5.parse(frame); // Python's NaN, Infinity and -Infinity
      } catch (error) {
        throw new InvalidMessage(`frame is not valid JSON: ${error}`, "bad-json");
      }
    }
  }
  const bytes = frame instanceof ArrayBuffer ? new Uint8Array(frame) : frame;
  try {
    return unpack(bytes, { extensionCodec: extensions });
  } catch (error) {
    if (error instanceof InvalidMessage) throw error;
    throw new InvalidMessage(`frame is not valid msgpack: ${error}`, "bad-msgpack");
  }
}
