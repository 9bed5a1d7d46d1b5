// Interop with Python components through the Python hub: the Python side is tests/js/peer.py ("py-peer").

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Client, HubError, InvalidMessage, NDArray, PeerError, SENDER, TimeoutError, Trigger } from "../src/index.js";
import { hex, hubUrlFromEnv, referenceArrays, uniqueName } from "./hub.js";

const PEER = "py-peer";
const url = hubUrlFromEnv();

describe("a Node component and a Python component", () => {
  /** @type {Client} */
  let client;
  /** @type {Array<Record<string, any>>} */
  const midway = [];

  before(async () => {
    client = new Client(uniqueName("js-interop"), url);
    // the middle of the chain py-in -> js-mid -> py-grad -> js-end; and Python's requests, answered doubled
    client.on(new Trigger("DATA/FORWARD", "js-mid"), (msg) => {
      midway.push(msg);
      return { DATA: msg.DATA };
    }, { replyType: "DATA/GRADIENT", replyRooms: "py-grad" });
    client.on(new Trigger("DATA/CUSTOM"), (msg) => {
      if (msg.OP !== "double") return null;
      /** @type {Record<string, NDArray>} */
      const doubled = {};
      for (const [key, array] of Object.entries(msg.DATA)) {
        if (array.dtype === "<f4" || array.dtype === "<f8") {
          doubled[key] = new NDArray(array.data.map((/** @type {number} */ x) => x * 2), array.shape, array.dtype);
        }
      }
      return { DATA: doubled };
    }, { replyType: "DATA/CUSTOM", replyTo: SENDER });
    await client.connect();
  });

  after(() => client.close());

  test("registers and joins its handlers' rooms (trigger and reply rooms)", async () => {
    assert.ok(client.connected);
    assert.deepEqual([...client.joined].sort(), ["js-mid", "py-grad"]);
    const table = await client.roomTable();
    assert.deepEqual(table["js-mid"], [client.name, PEER].sort()); // Python replies into js-mid: it joined it too
    assert.ok(table["py-in"].includes(PEER), JSON.stringify(table));
  });

  test("text frames: JSON values arrive in Python as sent", async () => {
    const data = { text: "grüße ✓ 🎵", int: 42, float: 0.25, list: [1, [2, null]], flag: true, nothing: null };
    const reply = await client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "describe", DATA: data });
    assert.equal(reply.SENT_BY, PEER);
    assert.deepEqual(reply.DATA.text, { type: "str", value: data.text });
    assert.deepEqual(reply.DATA.int, { type: "int", value: 42 });
    assert.deepEqual(reply.DATA.float, { type: "float", value: 0.25 });
    assert.deepEqual(reply.DATA.list, { type: "list", value: [1, [2, null]] });
    assert.deepEqual(reply.DATA.nothing, { type: "NoneType", value: null });
  });

  test("binary frames: each dtype arrives in Python with its dtype, shape and bytes", async () => {
    const arrays = referenceArrays();
    const reply = await client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "describe", DATA: arrays });
    for (const [key, array] of Object.entries(arrays)) {
      const sha256 = createHash("sha256").update(array.bytes).digest("hex");
      assert.deepEqual(reply.DATA[key], { dtype: array.dtype, shape: array.shape, sha256 }, key);
    }
    // a typed array on its own is a one-dimensional array of its dtype; a Uint8Array is bytes
    const plain = await client.request({
      TYPE: "DATA/CUSTOM", TO: PEER, OP: "describe",
      DATA: { f64: new Float64Array([1, 2, 3]), i32: new Int32Array([7]), raw: new Uint8Array([1, 2]) },
    });
    assert.deepEqual(plain.DATA.f64.dtype, "<f8");
    assert.deepEqual(plain.DATA.f64.shape, [3]);
    assert.deepEqual(plain.DATA.i32, { dtype: "<i4", shape: [1], sha256: createHash("sha256").update(new Uint8Array(new Int32Array([7]).buffer)).digest("hex") });
    assert.deepEqual(plain.DATA.raw.type, "bytes");
  });

  test("Python's arrays arrive as typed arrays with shape and dtype, bit for bit", async () => {
    const reply = await client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "arrays" });
    const expected = referenceArrays();
    assert.deepEqual(Object.keys(reply.DATA).sort(), Object.keys(expected).sort());
    for (const [key, want] of Object.entries(expected)) {
      const got = reply.DATA[key];
      assert.ok(got instanceof NDArray, key);
      assert.equal(got.dtype, want.dtype, key);
      assert.deepEqual(got.shape, want.shape, key);
      assert.equal(got.data.constructor, want.data.constructor, key);
      assert.equal(hex(got), hex(want), key);
    }
    assert.equal(reply.DATA.i64.data[1], 2n ** 63n - 1n);
    assert.ok(Object.is(reply.DATA.f64.data[1], -0));
    assert.equal(reply.DATA.big.data[140], 20);
  });

  test("arrays go to Python and back unchanged", async () => {
    const arrays = referenceArrays();
    const reply = await client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "echo", DATA: arrays });
    for (const [key, array] of Object.entries(arrays)) {
      assert.equal(reply.DATA[key].dtype, array.dtype, key);
      assert.deepEqual(reply.DATA[key].shape, array.shape, key);
      assert.equal(hex(reply.DATA[key]), hex(array), key);
    }
  });

  test("replies carry ROOT_ID and MODEL_STATUS along a chain through both languages", async () => {
    const x = new NDArray(new Float32Array([1, -2, 3.5]));
    const sent = await client.send({ TYPE: "DATA/TEXT", TO_ROOM: "nobody-listens", DATA: "a new chain" });
    assert.equal(sent.ROOT_ID, sent.ID);
    const end = await client.request(
      { TYPE: "DATA/FORWARD", TO_ROOM: "py-in", MODEL_STATUS: 1, DATA: x },
      { replyRoom: "js-end", replyType: "DATA/REWARD", timeout: 10 },
    );
    const root = end.ROOT_ID;
    assert.equal(end.SEEN_ROOT, root);
    assert.equal(end.SEEN_STATUS, 1);
    assert.equal(end.MODEL_STATUS, 1);
    assert.equal(end.SENT_BY, PEER);
    assert.deepEqual([...end.DATA.data], [2, -4, 7]); // doubled by Python, passed on by this component's handler
    const mid = midway.find((m) => m.ROOT_ID === root);
    assert.ok(mid, "the handler in js-mid saw the chain");
    assert.equal(mid.MODEL_STATUS, 1);
    assert.notEqual(mid.ID, root);
  });

  test("Python requests this component; the reply carries the request's ROOT_ID and MODEL_STATUS", async () => {
    const reply = await client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "request" }, { timeout: 15 });
    const { sent_id: sentId, root_id: rootId, model_status: status, doubled } = reply.DATA;
    assert.equal(rootId, sentId);
    assert.equal(status, 2);
    assert.deepEqual(doubled, { f32: true, f64: true, scalar: true, empty: true, big: true });
  });

  test("a component's LOG/ERROR fails the request with PeerError", async () => {
    await assert.rejects(client.request({ TYPE: "DATA/CUSTOM", TO: PEER, OP: "refuse" }), (error) => {
      assert.ok(error instanceof PeerError);
      assert.equal(error.code, "refused");
      assert.equal(error.sender, PEER);
      return true;
    });
  });

  test("request() keeps its deadline when nobody answers", async () => {
    const started = performance.now();
    await assert.rejects(
      client.request({ TYPE: "DATA/CUSTOM", TO_ROOM: "nobody-listens" }, { replyRoom: "js-never", timeout: 0.3 }),
      TimeoutError,
    );
    assert.ok(performance.now() - started >= 290);
    assert.equal(client.endpoint.waiters.size, 0, "the waiter is forgotten");
    assert.equal(client.endpoint.answers.size, 0);
  });

  test("the hub's refusals: a reserved room, a taken name, a hub name", async () => {
    await assert.rejects(client.request({ TYPE: "DATA/CUSTOM", TO_ROOM: "_logging" }), (error) => {
      assert.ok(error instanceof HubError);
      assert.equal(error.code, "reserved-room");
      assert.equal(error.sender, "_hub");
      return true;
    });
    await assert.rejects(new Client(PEER, url).connect(), (error) => error instanceof HubError && error.code === "name-taken");
    await assert.rejects(new Client("_mine", url).connect(), (error) => error instanceof HubError && error.code === "bad-name");
    assert.ok(client.connected, "a refusal leaves the connection open");
  });

  test("a handler that throws is counted and reported; the next message is handled", async () => {
    const other = new Client(uniqueName("js-faulty"), url);
    /** @type {any[]} */
    const reported = [];
    const handler = other.on(new Trigger("DATA/TEXT", "js-faulty-room"), (msg) => {
      if (msg.DATA === "bad") throw new Error("cannot take this");
      return { DATA: `took ${msg.DATA}` };
    }, { replyType: "DATA/TEXT", replyTo: SENDER });
    other.errorListeners.push((h, msg, error) => reported.push([h, msg.DATA, error.message]));
    await other.connect();
    try {
      await client.send({ TYPE: "DATA/TEXT", TO_ROOM: "js-faulty-room", DATA: "bad" });
      const reply = await client.request({ TYPE: "DATA/TEXT", TO_ROOM: "js-faulty-room", DATA: "good" }, { timeout: 5 });
      assert.equal(reply.DATA, "took good");
      assert.deepEqual(reported, [[handler, "bad", "cannot take this"]]);
      assert.equal(handler.calls, 2);
      assert.equal(handler.errors, 1);
    } finally {
      await other.close();
    }
  });

  test("a message that breaks the protocol is refused before it leaves", async () => {
    const sent = client.stats.sent;
    await assert.rejects(client.send({ TYPE: "DATA/NOPE", TO_ROOM: "x" }), (e) => e instanceof InvalidMessage && e.code === "unknown-type");
    await assert.rejects(client.send({ TYPE: "DATA/CUSTOM" }), (e) => e instanceof InvalidMessage && e.code === "no-address");
    await assert.rejects(client.joinRoom("a\nb"), (e) => e instanceof InvalidMessage && e.code === "bad-name");
    assert.equal(client.stats.sent, sent);
  });
});
