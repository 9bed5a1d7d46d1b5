// The frame codec on its own: what Python writes that JSON.parse refuses, and arrays that lie about their size.

import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidMessage, NDArray, decode, encode, newId, validate } from "../src/index.js";

test("Python's NaN and Infinity in a text frame are read; this side sends them in a binary frame", () => {
  const msg = decode('{"ID":"a","TYPE":"DATA/CUSTOM","TO":"x","DATA":[NaN,Infinity,-Infinity,1.5]}');
  assert.ok(Number.isNaN(msg.DATA[0]));
  assert.deepEqual(msg.DATA.slice(1), [Infinity, -Infinity, 1.5]);
  const frame = encode(msg);
  assert.ok(frame instanceof Uint8Array, "JSON has no NaN: binary");
  assert.deepEqual(decode(frame).DATA.slice(1), [Infinity, -Infinity, 1.5]);
  assert.equal(typeof encode({ ID: "a", TYPE: "DATA/TEXT", TO: "x", DATA: "plain" }), "string");
});

test("bad frames and bad arrays raise InvalidMessage with the protocol's codes", () => {
  assert.throws(() => decode("{nope"), (e) => e instanceof InvalidMessage && e.code === "bad-json");
  assert.throws(() => decode(new Uint8Array([0xc1])), (e) => e instanceof InvalidMessage && e.code === "bad-msgpack");
  assert.throws(() => new NDArray(new Float32Array(6), [4, 2]), (e) => e instanceof InvalidMessage && e.code === "bad-array");
  assert.throws(() => NDArray.fromBytes(new Uint8Array(4), [1], "|O8"), /forbidden dtype/);
  // a frame whose array claims 2x2 float64 but carries 8 bytes
  const lying = encode({ ID: "a", TYPE: "DATA/CUSTOM", TO: "x", DATA: new NDArray(new Float64Array(1)) });
  const bytes = /** @type {Uint8Array} */ (lying);
  const at = Buffer.from(bytes).indexOf(Buffer.from([0x91, 0x01])); // the shape [1]
  bytes.set([0x92, 0x02, 0x02], at);
  assert.throws(() => decode(bytes.subarray(0, bytes.length)), (e) => e instanceof InvalidMessage && e.code === "bad-array");
});

test("ids are 32 hex characters of a version 4 UUID; validate names the broken rule", () => {
  const id = newId();
  assert.match(id, /^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  assert.notEqual(newId(), id);
  assert.throws(() => validate({ ID: "a", TYPE: "COMMAND/JOINROOM", ROOM: "x".repeat(257) }), /longer than 256/);
  assert.throws(() => validate({ ID: "a", TYPE: "DATA/TEXT", TO: "x", MODEL_STATUS: 3 }), /MODEL_STATUS/);
  assert.throws(() => validate({ ID: "a", TYPE: "COMMAND/REGISTER", NAME: "a\u202eb" }), /U\+202E/);
  assert.doesNotThrow(() => validate({ ID: "a", TYPE: "COMMAND/REGISTER", NAME: "café ♪" }));
});
