// The swergio client for browsers and Node: runs the rules of endpoint.js over a WebSocket, as
// swergio_nb/transport/client.py and connection.py do over websockets.
//
//   const client = new Client("model", "ws://127.0.0.1:8765", { token });
//   client.on(new Trigger("DATA/FORWARD", "input"), (msg) => ({ DATA: double(msg.DATA) }),
//             { replyType: "DATA/FORWARD", replyRooms: "output" });
//   await client.connect();
//
// Connecting registers the name, joins every room the handlers need (and those joined on request), then sends what
// was buffered while reconnecting, in order. A lost connection is reopened with exponential backoff and full jitter
// (the same rooms joined again, the handlers kept); meanwhile sends are buffered (bounded). Each handler handles its
// messages one at a time, in arrival order; what it returns becomes the reply (Endpoint.replies).
// No keepalive pings of its own: a browser cannot send them; the hub's pings are answered by the platform.

import { decode, encode } from "./codec.js";
import { Endpoint, Handler, backoff } from "./endpoint.js";
import { NotConnected, TimeoutError } from "./errors.js";
import { MessageType, TOKEN_ENV, validate } from "./messages.js";
import { hubUrl, redact, webSocketClass } from "./websocket.js";

/** @typedef {import("./messages.js").Envelope} Envelope */
/** @typedef {import("./endpoint.js").Trigger} Trigger */
/** @typedef {import("./endpoint.js").ReplySpec} ReplySpec */
/** @typedef {"closed"|"connecting"|"open"|"reconnecting"} ConnectionState */

/**
 * A promise with its settling functions; `done` once settled.
 * @template T
 * @typedef {{promise: Promise<T>, resolve: (value: T) => void, reject: (error: any) => void, done: boolean}} Deferred
 */

/**
 * @template T
 * @returns {Deferred<T>}
 */
function deferred() {
  /** @type {any} */
  const d = { done: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (/** @type {T} */ value) => { d.done = true; resolve(value); };
    d.reject = (/** @type {any} */ error) => { d.done = true; reject(error); };
  });
  d.promise.catch(() => {}); // a rejection nobody awaits any more is not an unhandled one
  return d;
}

/** @param {number} seconds */
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * @typedef {object} ClientOptions
 * @property {string|null} [token] the hub's token if `url` carries none (Node: default `SWERGIO_TOKEN`)
 * @property {boolean} [reconnect] reopen an established connection that was lost (default true)
 * @property {[number, number]} [backoff] `[first, longest]` caps of the waits between attempts, seconds
 * @property {number} [timeout] seconds to wait for the hub to open the connection and to acknowledge a command
 * @property {number} [maxBuffer] messages kept while reconnecting (default 1000)
 * @property {number} [maxBufferBytes] their size bound in bytes (default 128 MiB)
 * @property {Record<string, any>} [context] handed to every handler as its second argument (with `client`)
 * @property {Pick<Console, "warn"|"error"|"info">} [logger] where warnings go (default `console`)
 */

/** A swergio component connected to a hub. */
export class Client {
  /**
   * @param {string} name the component's name, unique on the hub; others address it with `TO`
   * @param {string} url the hub's URL (`ws://127.0.0.1:8765`, `wss://...`, or in a browser a path such as
   *   `"/swergio/ws"`: the Jupyter server's hub, with the page's login)
   * @param {ClientOptions} [options]
   */
  constructor(name, url, options = {}) {
    const envToken = globalThis.process?.env?.[TOKEN_ENV] ?? null;
    this.name = name;
    this.url = hubUrl(url, options.token ?? envToken);
    this.reconnect = options.reconnect ?? true;
    this.backoff = options.backoff ?? [0.05, 5.0];
    this.timeout = options.timeout ?? 10.0;
    this.logger = options.logger ?? console;
    this.endpoint = new Endpoint(name, { maxBuffer: options.maxBuffer, maxBufferBytes: options.maxBufferBytes });
    this.context = { ...options.context, client: this };
    /** @type {ConnectionState} */
    this.state = "closed";
    /** @type {Array<(handler: Handler, message: Envelope, error: any) => void>} called when a handler throws */
    this.errorListeners = [];
    /** @type {any} the open WebSocket, or null */
    this.ws = null;
    this.closing = false;
    /** @type {Promise<Client>|null} */
    this.connecting = null;
    /** @type {Set<Promise<void>>} */
    this.pendingJoins = new Set();
    /** @type {Deferred<void>} */
    this.finished = deferred();
  }

  /** True while the connection is open and registered (false while reconnecting). */
  get connected() {
    return this.state === "open" && this.ws !== null;
  }

  /** Rooms the hub has confirmed this client is in. */
  get joined() {
    return new Set(this.endpoint.joined);
  }

  /** Counters: frames sent and received, undecodable frames, unasked hub errors, reconnections. */
  get stats() {
    return this.endpoint.stats;
  }

  /** The registered handlers, in registration order. */
  get handlers() {
    return this.endpoint.handlers;
  }

  // -- lifecycle -------------------------------------------------------------------------------------------------

  /**
   * Open the connection, register the name, join every room the handlers need. Safe to call while connecting.
   * @returns {Promise<Client>}
   * @throws {import("./errors.js").HubError} the hub refused the registration (e.g. `name-taken`)
   * @throws {NotConnected} the hub cannot be reached
   * @throws {TimeoutError} the hub did not answer within `timeout`
   */
  connect() {
    if (this.connected) return Promise.resolve(this);
    if (this.connecting) return this.connecting;
    this.closing = false;
    if (this.finished.done) this.finished = deferred();
    this.state = "connecting";
    this.connecting = this.open().then(
      () => this,
      (error) => {
        this.state = "closed";
        throw error;
      },
    );
    this.connecting.finally(() => { this.connecting = null; }).catch(() => {});
    return this.connecting;
  }

  /** Serve until close(), or until the connection is lost and `reconnect` is false; connects first if needed. */
  async run() {
    await this.connect();
    await this.finished.promise;
  }

  /** Close the connection for good (no reconnection); what was buffered for a reconnection is dropped. */
  async close() {
    this.closing = true;
    this.state = "closed";
    const dropped = this.endpoint.takeBuffered().length;
    if (dropped) this.logger.warn(`${this.name}: closing with ${dropped} buffered messages unsent`);
    this.fail(new NotConnected("the client was closed"));
    const ws = this.ws;
    this.ws = null;
    if (ws) await closeSocket(ws);
    if (!this.finished.done) this.finished.resolve();
  }

  // -- handlers --------------------------------------------------------------------------------------------------

  /**
   * Run `fn` on every message matching `trigger`; what it returns (an object, a list of objects, or nothing; or a
   * promise of one) becomes the reply. Its rooms are joined (at once if connected; the next send waits for that).
   * @param {Trigger} trigger
   * @param {(msg: Envelope, context: Record<string, any>) => any} fn
   * @param {ReplySpec} [spec] `replyType`, `replyRooms` (one copy each), `replyTo` (a name or SENDER)
   * @returns {Handler}
   */
  on(trigger, fn, spec = {}) {
    const handler = new Handler(fn, trigger, spec);
    this.endpoint.handlers.push(handler);
    if (this.connected) {
      const missing = this.endpoint.roomsToJoin(handler.rooms());
      if (missing.length) this.track(this.joinAll(missing));
    }
    return handler;
  }

  /**
   * Unregister `handler` (its rooms stay joined).
   * @param {Handler} handler
   */
  removeHandler(handler) {
    const i = this.endpoint.handlers.indexOf(handler);
    if (i < 0) throw new RangeError("that handler is not registered");
    this.endpoint.handlers.splice(i, 1);
  }

  // -- sending ---------------------------------------------------------------------------------------------------

  /**
   * Send a message; fills `ID` (and `ROOT_ID` = `ID`) when missing. While reconnecting it is buffered.
   * @param {Envelope} msg the envelope; `DATA` may hold NDArrays and typed arrays (sent as a binary frame)
   * @returns {Promise<Envelope>} the message as sent
   * @throws {import("./errors.js").InvalidMessage} the message breaks the protocol (nothing is sent)
   * @throws {NotConnected} no live connection and none coming back, or the reconnection buffer is full
   */
  async send(msg) {
    const completed = this.endpoint.complete(msg);
    const frame = encode(completed);
    await this.ready();
    this.write(frame);
    return completed;
  }

  /**
   * Send `msg` and wait for the reply in its chain (same `ROOT_ID`): the first message of the chain that arrives in
   * `replyRoom` (joined first if needed) or, without one, that is addressed to this component; of `replyType` if
   * given. Handlers do not see the reply.
   * @param {Envelope} msg
   * @param {{replyRoom?: string|null, replyType?: string|null, timeout?: number|null}} [options] `timeout`: one
   *   deadline in seconds for everything (default 30; null waits forever)
   * @returns {Promise<Envelope>}
   * @throws {TimeoutError} no reply within `timeout`
   * @throws {import("./errors.js").HubError} the hub refused `msg`
   * @throws {import("./errors.js").PeerError} the asked component answered with LOG/ERROR
   * @throws {NotConnected} the connection closed while waiting
   */
  async request(msg, { replyRoom = null, replyType = null, timeout = 30.0 } = {}) {
    const completed = this.endpoint.complete(msg);
    const frame = encode(completed);
    /** @type {Deferred<Envelope>} */
    const reply = deferred();
    const timer = timeout === null ? null : setTimeout(() => {
      reply.reject(new TimeoutError(`no reply to ${completed.TYPE} ${completed.ID} within ${timeout} s`));
    }, timeout * 1000);
    const race = (/** @type {Promise<any>} */ step) => Promise.race([step, reply.promise]);
    const root = completed.ROOT_ID;
    /** @type {import("./endpoint.js").Waiter|null} */
    let waiter = null;
    try {
      await race(this.ready());
      if (replyRoom !== null) await race(this.joinRoom(replyRoom));
      if (reply.done) return await reply.promise;
      waiter = this.endpoint.expectReply(root, reply, {
        room: replyRoom, type: replyType, request: completed.ID, asked: completed.TO ?? null,
      });
      this.endpoint.expectAnswer(completed.ID, reply); // the hub's LOG/ERROR about msg fails the request
      this.write(frame);
      return await reply.promise;
    } finally {
      if (timer !== null) clearTimeout(timer);
      this.endpoint.answers.delete(completed.ID);
      if (waiter) this.endpoint.forgetReply(root, waiter);
    }
  }

  /**
   * Join `room` (no-op if in it already); resolves once the hub confirmed, and rejoins it after a reconnection.
   * @param {string} room
   * @throws {import("./errors.js").HubError} the hub refused (`forbidden-room`, `too-many-rooms`, `bad-name`)
   */
  async joinRoom(room) {
    await this.ready(false);
    await this.joinAll([room]);
  }

  /**
   * Leave `room`; resolves once the hub confirmed.
   * @param {string} room
   */
  async leaveRoom(room) {
    await this.ready(false);
    this.endpoint.wanted.delete(room);
    await this.command(this.endpoint.command(MessageType.COMMAND_LEAVEROOM, { ROOM: room }));
  }

  /**
   * Every room on the hub with the names of its members (asked page by page).
   * @returns {Promise<Record<string, string[]>>}
   */
  async roomTable() {
    await this.ready(false);
    /** @type {Record<string, string[]>} */
    const table = {};
    /** @type {Envelope} */
    let after = {};
    for (;;) {
      const ack = await this.command(this.endpoint.command(MessageType.COMMAND_ROOMS, after));
      Object.assign(table, ack.TABLE);
      const rooms = Object.keys(ack.TABLE ?? {});
      if (!ack.MORE || !rooms.length) return table;
      after = { AFTER: rooms[rooms.length - 1] };
    }
  }

  // -- internals -------------------------------------------------------------------------------------------------

  /**
   * Wait for a connection in progress and (unless `joins` is false) for the rooms being joined.
   * @param {boolean} [joins]
   */
  async ready(joins = true) {
    if (this.connecting) await this.connecting;
    if (this.state === "closed") throw new NotConnected(`client ${JSON.stringify(this.name)} is not connected`);
    while (joins && this.pendingJoins.size) await Promise.all(this.pendingJoins);
  }

  /** @param {Promise<void>} join */
  track(join) {
    this.pendingJoins.add(join);
    join.catch((error) => this.logger.warn(`${this.name}: joining a handler's room failed: ${error}`))
      .finally(() => this.pendingJoins.delete(join));
  }

  /** @param {string|Uint8Array} frame */
  write(frame) {
    const ws = this.ws;
    if (this.state === "reconnecting" || (this.state === "open" && (!ws || ws.readyState !== 1) && this.reconnect)) {
      this.endpoint.keep(frame);
      return;
    }
    if (this.state !== "open" || !ws || ws.readyState !== 1) {
      throw new NotConnected(`client ${JSON.stringify(this.name)} is not connected`);
    }
    ws.send(frame);
    this.endpoint.stats.sent += 1;
  }

  /**
   * Send a hub command and wait for its COMMAND/ACK.
   * @param {Envelope} msg
   * @param {any} [ws] the socket of a connection being opened (its registration and joins go before it is open)
   * @returns {Promise<Envelope>}
   */
  async command(msg, ws = null) {
    /** @type {Deferred<Envelope>} */
    const answer = deferred();
    this.endpoint.expectAnswer(msg.ID, answer);
    const timer = setTimeout(() => {
      answer.reject(new TimeoutError(`the hub did not answer ${msg.TYPE} within ${this.timeout} s`));
    }, this.timeout * 1000);
    try {
      if (ws) {
        ws.send(encode(msg));
        this.endpoint.stats.sent += 1;
      } else this.write(encode(msg));
      return await answer.promise;
    } finally {
      clearTimeout(timer);
      this.endpoint.answers.delete(msg.ID);
    }
  }

  /** @param {Iterable<string>} rooms */
  async joinAll(rooms) {
    for (const room of [...rooms].sort()) {
      this.endpoint.wanted.add(room);
      if (!this.endpoint.joined.has(room)) {
        await this.command(this.endpoint.command(MessageType.COMMAND_JOINROOM, { ROOM: room }));
      }
    }
  }

  /** One attempt: connect, register, join the rooms, flush the buffer; then open. */
  async open() {
    const WebSocket = await webSocketClass();
    const ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new TimeoutError(`no connection to ${redact(this.url)} within ${this.timeout} s`));
        ws.close();
      }, this.timeout * 1000);
      ws.onopen = () => { clearTimeout(timer); resolve(undefined); };
      // a refused connection: some platforms fire only `error` (Node's undici), others `error` then `close`
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new NotConnected(`cannot connect to ${redact(this.url)}`));
      };
      ws.onclose = (/** @type {{code: number, reason: string}} */ event) => {
        clearTimeout(timer);
        reject(new NotConnected(`cannot connect to ${redact(this.url)} (close code ${event.code}${event.reason ? `: ${event.reason}` : ""})`));
      };
    });
    ws.onmessage = (/** @type {{data: string|ArrayBuffer}} */ event) => this.receive(event.data);
    ws.onclose = () => this.lost(ws);
    this.ws = ws;
    const endpoint = this.endpoint;
    try {
      endpoint.joined = new Set();
      await this.command(endpoint.command(MessageType.COMMAND_REGISTER, { NAME: this.name }), ws);
      for (const room of endpoint.roomsToJoin()) {
        await this.command(endpoint.command(MessageType.COMMAND_JOINROOM, { ROOM: room }), ws);
      }
      for (const frame of endpoint.takeBuffered()) {
        ws.send(frame);
        endpoint.stats.sent += 1;
      }
    } catch (error) {
      if (this.ws === ws) this.ws = null;
      await closeSocket(ws);
      throw error;
    }
    if (this.state === "reconnecting") endpoint.stats.reconnects += 1;
    this.state = "open";
  }

  /** @param {any} ws the socket that closed */
  lost(ws) {
    if (this.ws !== ws) return;
    this.ws = null;
    const wasOpen = this.state === "open";
    this.fail(new NotConnected(`client ${JSON.stringify(this.name)}: the connection to the hub was lost`));
    if (!wasOpen) return; // an attempt in progress fails by itself
    if (this.reconnect && !this.closing) {
      this.state = "reconnecting";
      this.logger.warn(`${this.name}: lost the connection to the hub; reconnecting`);
      this.reconnecting();
    } else {
      this.state = "closed";
      this.finished.resolve();
    }
  }

  async reconnecting() {
    for (const [wait, cap] of backoff(...this.backoff)) {
      await sleep(wait);
      if (this.closing || this.state !== "reconnecting") return;
      try {
        await this.open();
        this.logger.info(`${this.name}: reconnected to ${redact(this.url)}`);
        return;
      } catch (error) {
        this.logger.info(`${this.name}: reconnection failed (${error}) after a wait within ${cap.toFixed(2)} s`);
      }
    }
  }

  /** @param {Error} error fails every call still waiting */
  fail(error) {
    for (const token of this.endpoint.takeTokens()) if (!token.done) token.reject(error);
  }

  /** @param {string|ArrayBuffer} frame */
  receive(frame) {
    const endpoint = this.endpoint;
    endpoint.stats.received += 1;
    let msg;
    try {
      msg = validate(decode(frame), { requireAddress: false });
    } catch (error) {
      endpoint.stats.undecodable += 1;
      this.logger.warn(`${this.name}: dropped an undecodable frame: ${error}`);
      return;
    }
    const event = endpoint.handle(msg);
    if (event === null) return;
    if (event.kind === "answered" || event.kind === "replied") {
      if (!event.token.done) {
        if (event.error) event.token.reject(event.error);
        else event.token.resolve(event.message);
      }
      return;
    }
    if (event.kind === "refused") this.logger.warn(`${this.name}: the hub answered ${event.error.message}`);
    const message = event.message;
    for (const handler of event.handlers) {
      handler.tail = handler.tail.then(() => this.handle(handler, message));
    }
  }

  /**
   * Run one handler on one message and send its replies.
   * @param {Handler} handler
   * @param {Envelope} msg
   */
  async handle(handler, msg) {
    handler.calls += 1;
    try {
      const result = await handler.fn(msg, this.context);
      for (const reply of this.endpoint.replies(handler, msg, result)) await this.send(reply);
    } catch (error) {
      handler.errors += 1;
      if (!this.errorListeners.length) {
        this.logger.error(`${this.name}: handler ${handler.fn.name || "(anonymous)"} failed on ${msg.TYPE} ${msg.ID}:`, error);
      }
      for (const listener of this.errorListeners) listener(handler, msg, error);
    }
  }
}

/**
 * Close `ws` and wait until it is closed.
 * @param {any} ws
 */
function closeSocket(ws) {
  if (ws.readyState === 3) return Promise.resolve();
  return new Promise((resolve) => {
    ws.addEventListener("close", () => resolve(undefined), { once: true });
    ws.close(1000);
  });
}
