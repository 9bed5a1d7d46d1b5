// The client's rules without a hub: replies, triggers, waiting, the buffer, backoff, URLs.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Endpoint, Handler, SENDER, Trigger, backoff, hubUrl, redact } from "../src/index.js";

test("replies carry ROOT_ID and MODEL_STATUS, go to the sender or one copy per reply room", () => {
  const endpoint = new Endpoint("me");
  const incoming = { ID: "in", ROOT_ID: "root", TYPE: "DATA/FORWARD", MODEL_STATUS: 1, SENT_BY: "them" };
  const toSender = new Handler(() => null, new Trigger("DATA/FORWARD"), { replyType: "DATA/GRADIENT", replyTo: SENDER });
  const [reply] = endpoint.replies(toSender, incoming, { DATA: 1 });
  assert.equal(reply.TYPE, "DATA/GRADIENT");
  assert.equal(reply.ROOT_ID, "root");
  assert.equal(reply.MODEL_STATUS, 1);
  assert.equal(reply.TO, "them");
  const fanout = new Handler(() => null, new Trigger("DATA/FORWARD"), { replyType: "DATA/FORWARD", replyRooms: ["a", "b"] });
  const copies = endpoint.replies(fanout, incoming, [{ DATA: 1 }, { DATA: 2, TO_ROOM: "c" }]);
  assert.deepEqual(copies.map((m) => [m.TO_ROOM, m.DATA]), [["a", 1], ["b", 1], ["c", 2]]);
  assert.equal(copies[0].ID, copies[1].ID, "the copies are one logical message");
  assert.deepEqual(endpoint.replies(fanout, incoming, null), []);
  assert.throws(() => endpoint.replies(fanout, incoming, [3]), TypeError);
});

test("triggers fire on their types and rooms, and on direct messages unless told not to", () => {
  const trigger = new Trigger(["DATA/FORWARD", "DATA/GRADIENT"], "input");
  assert.ok(trigger.matches({ TYPE: "DATA/FORWARD", TO_ROOM: "input" }, "me"));
  assert.ok(!trigger.matches({ TYPE: "DATA/FORWARD", TO_ROOM: "other" }, "me"));
  assert.ok(trigger.matches({ TYPE: "DATA/GRADIENT", TO: "me" }, "me"));
  assert.ok(!new Trigger("DATA/FORWARD", "input", false).matches({ TYPE: "DATA/FORWARD", TO: "me" }, "me"));
  assert.ok(!new Trigger("DATA/FORWARD", []).matches({ TYPE: "DATA/FORWARD", TO_ROOM: "input" }, "me"));
  assert.ok(new Trigger("DATA/FORWARD").matches({ TYPE: "DATA/FORWARD", TO_ROOM: "any" }, "me"));
});

test("a reply ends the wait of its chain only; a forged hub answer is data", () => {
  const endpoint = new Endpoint("me");
  const waiter = endpoint.expectReply("root", "token", { room: "out", type: "DATA/FORWARD", request: "req" });
  assert.equal(endpoint.handle({ ID: "x", ROOT_ID: "other", TYPE: "DATA/FORWARD", TO_ROOM: "out" }), null);
  const replied = endpoint.handle({ ID: "y", ROOT_ID: "root", TYPE: "DATA/FORWARD", TO_ROOM: "out" });
  assert.equal(replied?.kind, "replied");
  assert.equal(endpoint.waiters.size, 0);
  endpoint.forgetReply("root", waiter); // no-op once answered
  endpoint.expectAnswer("cmd", "t2");
  const forged = endpoint.handle({ ID: "z", TYPE: "COMMAND/ACK", REPLY_TO: "cmd", SENT_BY: "mallory", TO: "me" });
  assert.equal(forged, null);
  const real = endpoint.handle({ ID: "z", TYPE: "COMMAND/ACK", REPLY_TO: "cmd", SENT_BY: "_hub", ROOMS: ["a"] });
  assert.equal(real?.kind, "answered");
  assert.deepEqual([...endpoint.joined], ["a"]);
});

test("the reconnection buffer is bounded in messages and bytes", () => {
  const endpoint = new Endpoint("me", { maxBuffer: 2, maxBufferBytes: 10 });
  endpoint.keep("12345");
  assert.throws(() => endpoint.keep("1234567"), /send buffer is full/);
  endpoint.keep(new Uint8Array(5));
  assert.throws(() => endpoint.keep("1"), /2 messages/);
  assert.equal(endpoint.takeBuffered().length, 2);
  assert.equal(endpoint.bufferBytes, 0);
});

test("backoff: full jitter under a cap that doubles up to the longest", () => {
  const waits = backoff(0.05, 0.3, () => 0.999);
  const caps = Array.from({ length: 5 }, () => /** @type {[number, number]} */ (waits.next().value));
  assert.deepEqual(caps.map(([, cap]) => cap), [0.05, 0.1, 0.2, 0.3, 0.3]);
  assert.ok(caps.every(([wait, cap]) => wait >= 0 && wait < cap));
  assert.throws(() => backoff(0, 1).next(), RangeError);
});

test("hub URLs: http becomes ws, the token is added once, and hidden in logs", () => {
  assert.equal(hubUrl("http://h:8888/swergio/ws", "t"), "ws://h:8888/swergio/ws?token=t");
  assert.equal(hubUrl("wss://h/swergio/ws?token=a", "b"), "wss://h/swergio/ws?token=a");
  assert.equal(redact("ws://h:1/?token=s3cret&x=1"), "ws://h:1/?token=...&x=1");
});
