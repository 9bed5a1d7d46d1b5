// The message envelope: vocabulary, construction and validation, as swergio_nb/protocol/messages.py defines them.

import { InvalidMessage } from "./errors.js";

/**
 * A message: a plain object with string keys. `ID`, `TYPE` always; `ROOT_ID` the first message of the chain;
 * `TO_ROOM` / `TO` the address; `SENT_BY` stamped by the hub; `MODEL_STATUS` 1 (TRAIN) or 2 (VALIDATE); `DATA` the
 * payload; `REPLY_TO` the id answered; free extra fields besides.
 * @typedef {Record<string, any>} Envelope
 */

/** Every `TYPE` the protocol knows (the wire strings). */
export const MessageType = Object.freeze({
  DATA_FORWARD: "DATA/FORWARD",
  DATA_GRADIENT: "DATA/GRADIENT",
  DATA_REWARD: "DATA/REWARD",
  DATA_TEXT: "DATA/TEXT",
  DATA_CUSTOM: "DATA/CUSTOM",
  COMMAND_REGISTER: "COMMAND/REGISTER",
  COMMAND_DISCONNECT: "COMMAND/DISCONNECT",
  COMMAND_JOINROOM: "COMMAND/JOINROOM",
  COMMAND_LEAVEROOM: "COMMAND/LEAVEROOM",
  COMMAND_ROOMS: "COMMAND/ROOMS",
  COMMAND_ACK: "COMMAND/ACK",
  COMMAND_ENABLELOGGING: "COMMAND/ENABLELOGGING",
  COMMAND_DISABLELOGGING: "COMMAND/DISABLELOGGING",
  COMMAND_SAVEMODELWEIGHTS: "COMMAND/SAVEMODELWEIGHTS",
  COMMAND_LOADMODELWEIGHTS: "COMMAND/LOADMODELWEIGHTS",
  COMMAND_SAVESETTINGS: "COMMAND/SAVESETTINGS",
  COMMAND_LOADSETTINGS: "COMMAND/LOADSETTINGS",
  COMMAND_CUSTOM: "COMMAND/CUSTOM",
  LOG_MESSAGES: "LOG/MESSAGES",
  LOG_TRAFFIC: "LOG/TRAFFIC",
  LOG_KPI: "LOG/KPI",
  LOG_MODELWEIGHTS: "LOG/MODELWEIGHTS",
  LOG_SETTINGS: "LOG/SETTINGS",
  LOG_RUN: "LOG/RUN",
  LOG_ERROR: "LOG/ERROR",
  LOG_CUSTOM: "LOG/CUSTOM",
});

/** `MODEL_STATUS`: a forward pass for training (gradients will come back) or for validation. */
export const ModelStatus = Object.freeze({ TRAIN: 1, VALIDATE: 2 });

/** Name the hub uses in `SENT_BY` for its own messages (acks, errors, log copies). */
export const HUB_NAME = "_hub";
/** Longest name of a room or component (and `ID`, `ROOT_ID`, `REPLY_TO`), in characters. */
export const MAX_NAME_LENGTH = 256;
/** Environment variable holding the hub token (Node only). */
export const TOKEN_ENV = "SWERGIO_TOKEN";

/** Commands addressed to the hub itself; they need neither `TO_ROOM` nor `TO`. */
/** @type {Set<string>} */
export const HUB_COMMANDS = new Set([
  MessageType.COMMAND_REGISTER,
  MessageType.COMMAND_DISCONNECT,
  MessageType.COMMAND_JOINROOM,
  MessageType.COMMAND_LEAVEROOM,
  MessageType.COMMAND_ROOMS,
  MessageType.COMMAND_ENABLELOGGING,
  MessageType.COMMAND_DISABLELOGGING,
]);

/** @type {Set<string>} */
const KNOWN_TYPES = new Set(Object.values(MessageType));
const STRING_FIELDS = ["ROOT_ID", "TO_ROOM", "TO", "REPLY_TO"];

/**
 * A fresh message id: a random (version 4) UUID as 32 lowercase hex characters, like Python's `uuid.uuid4().hex`.
 * From `crypto.getRandomValues`, which browsers offer on plain-http pages too (`randomUUID` needs a secure context).
 * @returns {string}
 */
export function newId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant RFC 4122
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Build an envelope with a fresh `ID` (and `ROOT_ID` equal to it unless given). Not validated.
 * @param {string} type the message `TYPE`
 * @param {any} [data] the `DATA` payload; left out when undefined or null
 * @param {Envelope} [fields] any other fields, e.g. `{ TO_ROOM: "input" }`
 * @returns {Envelope}
 */
export function makeMessage(type, data, fields = {}) {
  /** @type {Envelope} */
  const msg = { ID: newId(), TYPE: type };
  if (data !== undefined && data !== null) msg.DATA = data;
  Object.assign(msg, fields);
  if (msg.ROOT_ID === undefined) msg.ROOT_ID = msg.ID;
  return msg;
}

/** @param {any} value */
function describe(value) {
  let text;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  const kind = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `${kind} ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`;
}

/**
 * @param {Envelope} msg
 * @param {string} field
 * @returns {string}
 */
function checkName(msg, field) {
  const value = msg[field];
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidMessage(`${field} must be a non-empty string, got ${describe(value)}`, "bad-field");
  }
  // Python counts code points: a character outside the BMP is one character there, two UTF-16 units here
  if ([...value].length > MAX_NAME_LENGTH) {
    throw new InvalidMessage(`${field} is longer than ${MAX_NAME_LENGTH} characters`, "bad-field");
  }
  if (!value.isWellFormed()) {
    throw new InvalidMessage(`${field} is not valid Unicode (lone surrogate), got ${describe(value)}`, "bad-field");
  }
  return value;
}

/** Characters Python's `str.isprintable` refuses: controls, format characters, separators but the space. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;

/**
 * @param {string} value
 * @param {string} field
 */
function checkPrintable(value, field) {
  const bad = UNPRINTABLE.exec(value);
  if (bad) {
    const code = /** @type {number} */ (bad[0].codePointAt(0)).toString(16).toUpperCase().padStart(4, "0");
    throw new InvalidMessage(`${field} may hold only printable characters, got U+${code}`, "bad-name");
  }
}

/**
 * Check that `msg` is a well-formed envelope (the rules of Python's `validate`) and return it unchanged.
 * @param {any} msg the decoded envelope
 * @param {{requireAddress?: boolean}} [options] `requireAddress` (default true): a message that is not a hub
 *   command must address somebody with `TO_ROOM` or `TO` (a client receiving the hub's own answers does not ask it)
 * @returns {Envelope}
 * @throws {InvalidMessage} naming the first rule broken
 */
export function validate(msg, { requireAddress = true } = {}) {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg) || ArrayBuffer.isView(msg)) {
    throw new InvalidMessage(`a message must be an object, got ${describe(msg)}`, "not-an-object");
  }
  if (msg instanceof Map) throw new InvalidMessage("field names must be strings", "bad-field");
  if (!("ID" in msg)) throw new InvalidMessage("missing field ID", "missing-field");
  checkName(msg, "ID");
  if (!("TYPE" in msg)) throw new InvalidMessage("missing field TYPE", "missing-field");
  const type = msg.TYPE;
  if (typeof type !== "string" || !KNOWN_TYPES.has(type)) {
    throw new InvalidMessage(`unknown TYPE ${describe(type)}`, "unknown-type");
  }
  for (const field of STRING_FIELDS) if (field in msg) checkName(msg, field);
  const status = msg.MODEL_STATUS;
  if (status !== undefined && status !== null && status !== 1 && status !== 2) {
    throw new InvalidMessage(`MODEL_STATUS must be 1 (TRAIN) or 2 (VALIDATE), got ${describe(status)}`, "bad-field");
  }
  if (HUB_COMMANDS.has(type)) {
    if (type === MessageType.COMMAND_REGISTER) checkPrintable(checkName(msg, "NAME"), "NAME");
    else if (type === MessageType.COMMAND_JOINROOM || type === MessageType.COMMAND_LEAVEROOM) {
      checkPrintable(checkName(msg, "ROOM"), "ROOM");
    } else if (type === MessageType.COMMAND_ROOMS && "AFTER" in msg) checkName(msg, "AFTER");
  } else if (requireAddress && !("TO_ROOM" in msg) && !("TO" in msg)) {
    throw new InvalidMessage(`${type} message ${msg.ID} addresses nobody: give TO_ROOM or TO`, "no-address");
  }
  return msg;
}
