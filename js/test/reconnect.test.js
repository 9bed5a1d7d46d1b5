// Reconnection with backoff against Python hubs of this suite's own: a dropped connection, and a hub stopped and
// started again on the same port.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Client, NotConnected, Trigger } from "../src/index.js";
import { startHub, uniqueName, until } from "./hub.js";

test("a dropped connection: sends are buffered meanwhile and delivered in order once it is back", async () => {
  const hub = await startHub();
  const sender = new Client(uniqueName("js-sender"), hub.url, { backoff: [0.2, 0.4] });
  const receiver = new Client(uniqueName("js-receiver"), hub.url);
  /** @type {number[]} */
  const received = [];
  receiver.on(new Trigger("DATA/TEXT", "buffer-room"), (msg) => { received.push(msg.DATA); });
  try {
    await Promise.all([sender.connect(), receiver.connect()]);
    await sender.send({ TYPE: "DATA/TEXT", TO_ROOM: "buffer-room", DATA: 0 });
    await until(() => received.length === 1, 10, "the first message");
    sender.ws.close(); // the sender's connection goes; the receiver stays
    await until(() => sender.state === "reconnecting", 10, "the sender reconnecting");
    const sends = [1, 2, 3].map((i) => sender.send({ TYPE: "DATA/TEXT", TO_ROOM: "buffer-room", DATA: i }));
    await Promise.all(sends); // all three kept before the first attempt (which waits 0-0.2 s, then a handshake)
    assert.equal(sender.connected, false);
    await until(() => received.length === 4, 10, "the buffered messages");
    assert.deepEqual(received, [0, 1, 2, 3]);
    assert.equal(sender.stats.reconnects, 1);
    assert.equal(sender.endpoint.buffer.length, 0);
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
    await hub.stop();
  }
});

test("a restarted hub: both clients come back, rejoin their rooms and keep their handlers", async () => {
  let hub = await startHub();
  const port = Number(new URL(hub.url).port);
  const sender = new Client(uniqueName("js-sender"), hub.url, { backoff: [0.05, 0.5] });
  const receiver = new Client(uniqueName("js-receiver"), hub.url, { backoff: [0.05, 0.5] });
  /** @type {number[]} */
  const received = [];
  receiver.on(new Trigger("DATA/TEXT", "reconnect-room"), (msg) => { received.push(msg.DATA); });
  try {
    await Promise.all([sender.connect(), receiver.connect()]);
    await sender.joinRoom("own-room"); // joined on request: rejoined too
    await sender.send({ TYPE: "DATA/TEXT", TO_ROOM: "reconnect-room", DATA: 0 });
    await until(() => received.length === 1, 10, "the first message");

    await hub.stop();
    await until(() => sender.state === "reconnecting" && receiver.state === "reconnecting", 10, "both reconnecting");
    hub = await startHub({ port });
    await until(() => sender.connected && receiver.connected, 20, "both connected again");
    assert.equal(sender.stats.reconnects, 1);
    assert.equal(receiver.stats.reconnects, 1);
    assert.deepEqual([...receiver.joined], ["reconnect-room"]);
    assert.deepEqual([...sender.joined], ["own-room"]);
    await sender.send({ TYPE: "DATA/TEXT", TO_ROOM: "reconnect-room", DATA: 1 });
    await until(() => received.length === 2, 10, "a message after the restart");
    assert.deepEqual(received, [0, 1]);
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
    await hub.stop();
  }
});

test("without reconnection a lost hub ends run(), and a full buffer refuses more", async () => {
  const hub = await startHub();
  const client = new Client(uniqueName("js-once"), hub.url, { reconnect: false });
  try {
    await client.connect();
    const running = client.run();
    await hub.stop();
    await running;
    assert.equal(client.state, "closed");
    await assert.rejects(client.send({ TYPE: "DATA/TEXT", TO_ROOM: "r", DATA: 1 }), NotConnected);
  } finally {
    await client.close();
  }
  const small = new Client("js-small", "ws://127.0.0.1:9", { maxBuffer: 1 });
  small.state = "reconnecting"; // as after a loss: the buffer takes one message, then refuses
  await small.send({ TYPE: "DATA/TEXT", TO_ROOM: "r", DATA: 1 });
  await assert.rejects(small.send({ TYPE: "DATA/TEXT", TO_ROOM: "r", DATA: 2 }), /send buffer is full/);
  await small.close();
});

test("an unreachable hub fails connect() with NotConnected", async () => {
  const client = new Client(uniqueName("js-nowhere"), "ws://127.0.0.1:9", { timeout: 5 });
  await assert.rejects(client.connect(), NotConnected);
  assert.equal(client.state, "closed");
});
