// The client's rules without I/O, as swergio_nb/protocol/endpoint.py states them: triggers, which handlers a message
// fires, which waiting call an answer or a reply ends, what a handler's result becomes, the reconnection buffer and
// the backoff between attempts. client.js moves the frames.

import { HubError, NotConnected, PeerError } from "./errors.js";
import { HUB_NAME, MessageType, newId, validate } from "./messages.js";

/** Use as `replyTo: SENDER` to answer the component that sent the triggering message. */
export const SENDER = "<sender>";

const ACK = MessageType.COMMAND_ACK;
const ERROR = MessageType.LOG_ERROR;

/** @typedef {import("./messages.js").Envelope} Envelope */

/**
 * @param {string|Iterable<string>|null|undefined} value
 * @returns {string[]|null}
 */
function asList(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return [value];
  return [...value].map(String);
}

/** Which incoming messages fire a handler. */
export class Trigger {
  /**
   * @param {string|Iterable<string>} types one message type or several (`"DATA/FORWARD"`)
   * @param {string|Iterable<string>|null} [rooms] the rooms to listen to (joined automatically); null: any room this
   *   client is in
   * @param {boolean} [direct] also fire on messages addressed to this component by name (`TO`) without `TO_ROOM`
   */
  constructor(types, rooms = null, direct = true) {
    this.types = /** @type {string[]} */ (asList(types));
    this.rooms = asList(rooms);
    this.direct = direct;
  }

  /**
   * True if `msg`, received by the component called `name`, fires this trigger.
   * @param {Envelope} msg
   * @param {string} name
   */
  matches(msg, name) {
    if (!this.types.includes(msg.TYPE)) return false;
    const room = msg.TO_ROOM;
    if (room !== undefined && room !== null && (this.rooms === null || this.rooms.includes(room))) return true;
    return this.direct && msg.TO === name;
  }
}

/**
 * @typedef {object} ReplySpec
 * @property {string} [replyType] `TYPE` given to replies that set none
 * @property {string|string[]} [replyRooms] rooms each reply goes to (one copy each)
 * @property {string} [replyTo] component each reply goes to, or SENDER
 */

/** A registered handler; `calls` and `errors` count as it runs. */
export class Handler {
  /**
   * @param {(msg: Envelope, context: Record<string, any>) => any} fn plain or async; its result becomes the reply
   * @param {Trigger} trigger
   * @param {ReplySpec} [spec]
   */
  constructor(fn, trigger, { replyType, replyRooms, replyTo } = {}) {
    this.fn = fn;
    this.trigger = trigger;
    this.replyType = replyType ?? null;
    this.replyRooms = asList(replyRooms);
    this.replyTo = replyTo ?? null;
    this.calls = 0;
    this.errors = 0;
    /** @type {Promise<void>} the handler's queue: one message at a time, in arrival order */
    this.tail = Promise.resolve();
  }

  /** Rooms this handler needs to be a member of. */
  rooms() {
    return [...(this.trigger.rooms ?? []), ...(this.replyRooms ?? [])];
  }
}

/**
 * Waits between reconnection attempts: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter", 2015). Endless; yields `[wait, cap]` in seconds, the wait uniform in [0, cap], the cap
 * doubling from `first` up to `longest`.
 * @param {number} first the first cap, seconds (> 0)
 * @param {number} longest the largest cap, seconds (>= first)
 * @param {() => number} [random] uniform in [0, 1)
 * @returns {Generator<[number, number]>}
 */
export function* backoff(first, longest, random = Math.random) {
  if (!(first > 0) || !(longest >= first)) {
    throw new RangeError(`backoff caps must satisfy 0 < first <= longest, got (${first}, ${longest})`);
  }
  let cap = first;
  for (;;) {
    yield [random() * cap, cap];
    cap = Math.min(cap * 2, longest);
  }
}

/**
 * @typedef {object} Waiter
 * @property {any} token
 * @property {string|null} room
 * @property {string|null} type
 * @property {string|null} request the ID whose LOG/ERROR answer also ends the wait, as a refusal
 * @property {string|null} asked only this component's refusal counts (the request went TO it)
 */

/**
 * @param {Waiter} waiter
 * @param {Envelope} msg
 */
function refuses(waiter, msg) {
  return (
    waiter.request !== null &&
    msg.TYPE === ERROR &&
    msg.REPLY_TO === waiter.request &&
    (waiter.asked === null || msg.SENT_BY === waiter.asked)
  );
}

/**
 * @param {Waiter} waiter
 * @param {Envelope} msg
 * @param {string} name
 */
function waiterMatches(waiter, msg, name) {
  const type = msg.TYPE;
  if ((type === ACK || type === ERROR) && waiter.asked !== null && msg.SENT_BY !== waiter.asked) return false;
  if (waiter.type !== null && type !== waiter.type && !refuses(waiter, msg)) return false;
  if (waiter.room !== null) return msg.TO_ROOM === waiter.room;
  return msg.TO === name;
}

/**
 * What a received frame asks of the transport (at most one):
 * `answered` (the hub's answer a token waited for, `error` set for LOG/ERROR), `replied` (the reply in a chain a
 * token waited for), `dispatch` (handlers to run), `refused` (a hub LOG/ERROR nobody waited for), `undecodable`.
 * @typedef {{kind: "answered", token: any, message: Envelope, error: Error|null}
 *   | {kind: "replied", token: any, message: Envelope, error: Error|null}
 *   | {kind: "dispatch", message: Envelope, handlers: Handler[]}
 *   | {kind: "refused", message: Envelope, error: HubError, handlers: Handler[]}} EndpointEvent
 */

/** Every rule of a swergio client, without I/O. */
export class Endpoint {
  /**
   * @param {string} name the component's name, unique on the hub
   * @param {{maxBuffer?: number, maxBufferBytes?: number}} [options] bounds of the reconnection buffer: messages,
   *   and bytes (characters of text frames)
   */
  constructor(name, { maxBuffer = 1000, maxBufferBytes = 128 * 2 ** 20 } = {}) {
    this.name = name;
    this.maxBuffer = maxBuffer;
    this.maxBufferBytes = maxBufferBytes;
    /** @type {Handler[]} */
    this.handlers = [];
    /** @type {Set<string>} rooms joined on request, rejoined after a reconnection */
    this.wanted = new Set();
    /** @type {Set<string>} the rooms the hub last confirmed (from the latest COMMAND/ACK) */
    this.joined = new Set();
    this.stats = { sent: 0, received: 0, undecodable: 0, hubErrors: 0, reconnects: 0 };
    /** @type {Map<string, any>} message ID -> token */
    this.answers = new Map();
    /** @type {Map<string, Waiter[]>} ROOT_ID -> waiters, oldest first */
    this.waiters = new Map();
    /** @type {Array<string|Uint8Array>} */
    this.buffer = [];
    this.bufferBytes = 0;
  }

  /**
   * A copy of `msg` ready to send: `ID` filled if missing, `ROOT_ID` = `ID` if missing, `SENT_BY` removed (the hub
   * stamps it), validated.
   * @param {Envelope} msg
   * @returns {Envelope}
   * @throws {import("./errors.js").InvalidMessage} the message breaks the protocol
   */
  complete(msg) {
    const out = { ...msg };
    if (out.ID === undefined) out.ID = newId();
    if (out.ROOT_ID === undefined) out.ROOT_ID = out.ID;
    delete out.SENT_BY;
    return validate(out);
  }

  /**
   * A completed hub command, e.g. `command("COMMAND/JOINROOM", { ROOM: "input" })`.
   * @param {string} type
   * @param {Envelope} [fields]
   */
  command(type, fields = {}) {
    return this.complete({ TYPE: type, ...fields });
  }

  /**
   * Rooms to join, sorted: `rooms` (default: every wanted room and every room a handler needs) minus the joined.
   * @param {Iterable<string>} [rooms]
   * @returns {string[]}
   */
  roomsToJoin(rooms) {
    const all = new Set(rooms ?? [...this.wanted, ...this.handlers.flatMap((h) => h.rooms())]);
    return [...all].filter((r) => !this.joined.has(r)).sort();
  }

  /**
   * Keep `frame` to send after the reconnection.
   * @param {string|Uint8Array} frame
   * @throws {NotConnected} the buffer is full (`maxBuffer` messages, or `maxBufferBytes` passed)
   */
  keep(frame) {
    const size = this.bufferBytes + frameSize(frame);
    if (this.buffer.length >= this.maxBuffer || size > this.maxBufferBytes) {
      throw new NotConnected(
        `client ${JSON.stringify(this.name)} is reconnecting and its send buffer is full: ${this.buffer.length} ` +
          `messages of ${this.bufferBytes} bytes kept, this one of ${frameSize(frame)} bytes would pass the bound of ` +
          `${this.maxBuffer} messages or ${this.maxBufferBytes} bytes`,
      );
    }
    this.buffer.push(frame);
    this.bufferBytes = size;
  }

  /** The buffered frames, oldest first, removed from the buffer. */
  takeBuffered() {
    const frames = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    return frames;
  }

  /**
   * Hand the hub's answer to message `id` (COMMAND/ACK or LOG/ERROR) to `token`.
   * @param {string} id
   * @param {any} token
   */
  expectAnswer(id, token) {
    this.answers.set(id, token);
  }

  /**
   * Hand `token` the first message of chain `rootId` that arrives in `room` (or, with no room, addressed to this
   * component), of `type` if given. With `request` (the ID sent), a LOG/ERROR answering it ends the wait as a
   * refusal; with `asked` (the request went TO that component), only that component's answer counts.
   * @param {string} rootId
   * @param {any} token
   * @param {{room?: string|null, type?: string|null, request?: string|null, asked?: string|null}} [options]
   * @returns {Waiter} a handle for forgetReply
   */
  expectReply(rootId, token, { room = null, type = null, request = null, asked = null } = {}) {
    /** @type {Waiter} */
    const waiter = { token, room, type, request, asked };
    const list = this.waiters.get(rootId) ?? [];
    list.push(waiter);
    this.waiters.set(rootId, list);
    return waiter;
  }

  /**
   * @param {string} rootId
   * @param {Waiter} waiter
   */
  forgetReply(rootId, waiter) {
    const list = this.waiters.get(rootId);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.waiters.delete(rootId);
  }

  /** Every token still waiting (the connection is gone: the transport fails them); forgets them. */
  takeTokens() {
    const tokens = [...this.answers.values(), ...[...this.waiters.values()].flat().map((w) => w.token)];
    this.answers.clear();
    this.waiters.clear();
    return tokens;
  }

  /**
   * Place one decoded, valid message; returns what the transport must do, or null.
   * @param {Envelope} msg
   * @returns {EndpointEvent|null}
   */
  handle(msg) {
    const type = msg.TYPE;
    /** @type {HubError|null} */
    let refused = null;
    if ((type === ACK || type === ERROR) && msg.SENT_BY === HUB_NAME) {
      if (type === ACK && Array.isArray(msg.ROOMS)) this.joined = new Set(msg.ROOMS);
      const key = msg.REPLY_TO ?? "";
      const token = this.answers.get(key);
      if (token !== undefined) {
        this.answers.delete(key);
        return { kind: "answered", token, message: msg, error: type === ACK ? null : new HubError(msg) };
      }
      if (type === ACK) return null;
      this.stats.hubErrors += 1;
      refused = new HubError(msg);
    }
    const list = this.waiters.get(msg.ROOT_ID ?? "");
    if (list) {
      const i = list.findIndex((w) => waiterMatches(w, msg, this.name));
      if (i >= 0) {
        const [waiter] = list.splice(i, 1);
        if (!list.length) this.waiters.delete(msg.ROOT_ID);
        return { kind: "replied", token: waiter.token, message: msg, error: refuses(waiter, msg) ? new PeerError(msg) : null };
      }
    }
    const handlers = this.handlers.filter((h) => h.trigger.matches(msg, this.name));
    if (refused !== null) return { kind: "refused", message: msg, error: refused, handlers };
    return handlers.length ? { kind: "dispatch", message: msg, handlers } : null;
  }

  /**
   * The messages to send for what `handler` returned on `incoming`: none for null/undefined; each object completed
   * with `ID`, `TYPE` from the handler's replyType, `ROOT_ID` and `MODEL_STATUS` carried over from `incoming`, `TO`
   * from replyTo (SENDER: the incoming message's `SENT_BY`); with replyRooms and no `TO_ROOM` of its own, one copy
   * per room, the copies sharing the `ID`.
   * @param {Handler} handler
   * @param {Envelope} incoming
   * @param {any} result
   * @returns {Envelope[]}
   * @throws {TypeError} `result` is not null, an object or a list of objects
   */
  replies(handler, incoming, result) {
    if (result === null || result === undefined) return [];
    const items = Array.isArray(result) ? result : [result];
    /** @type {Envelope[]} */
    const out = [];
    for (const item of items) {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new TypeError(`a handler returned ${typeof item}; expected an object, a list of objects or null`);
      }
      const reply = { ...item };
      reply.ID ??= newId();
      if (handler.replyType !== null) reply.TYPE ??= handler.replyType;
      reply.ROOT_ID ??= incoming.ROOT_ID ?? incoming.ID;
      if ("MODEL_STATUS" in incoming) reply.MODEL_STATUS ??= incoming.MODEL_STATUS;
      const target = handler.replyTo === SENDER ? incoming.SENT_BY : handler.replyTo;
      if (target !== null && target !== undefined) reply.TO ??= target;
      if (handler.replyRooms && !("TO_ROOM" in reply)) {
        for (const room of handler.replyRooms) out.push({ ...reply, TO_ROOM: room });
      } else out.push(reply);
    }
    return out;
  }
}

/**
 * Size of a frame, in bytes (characters of a text frame), for the buffer's bound.
 * @param {string|Uint8Array} frame
 */
function frameSize(frame) {
  return typeof frame === "string" ? frame.length : frame.byteLength;
}
