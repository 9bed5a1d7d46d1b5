// The errors the client raises, as swergio_nb.exceptions names them (the Python package is the specification).

/** Root of every error this client raises on purpose. */
export class SwergioError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** An envelope or a frame breaks the protocol; `code` says which rule (`"bad-field"`, `"unknown-type"`, ...). */
export class InvalidMessage extends SwergioError {
  /**
   * @param {string} detail what was wrong
   * @param {string} [code] a short machine-readable reason
   */
  constructor(detail, code = "invalid-message") {
    super(detail);
    this.code = code;
    this.detail = detail;
  }
}

/** A `LOG/ERROR` answered a message this client sent (`REPLY_TO` its `ID`). */
export class Refused extends SwergioError {
  /** @param {Record<string, any>} message the error envelope as received */
  constructor(message) {
    const code = String(message.ERROR ?? "error");
    const detail = String(message.DETAIL ?? "");
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    /** who answered (`SENT_BY`, stamped by the hub: `"_hub"` for the hub itself) */
    this.sender = String(message.SENT_BY ?? "");
    this.envelope = message;
  }
}

/** The hub refused a message from this client (`name-taken`, `reserved-room`, `bad-field`, ...). */
export class HubError extends Refused {}

/** The component a `request()` asked answered it with `LOG/ERROR`. */
export class PeerError extends Refused {
  /** @param {Record<string, any>} message */
  constructor(message) {
    super(message);
    this.message = `${this.sender} refused: ${this.code}: ${this.detail}`;
  }
}

/** The client has no live connection to a hub (not connected yet, closed, or the reconnection buffer is full). */
export class NotConnected extends SwergioError {}

/** No answer within the deadline a call was given. */
export class TimeoutError extends SwergioError {}
