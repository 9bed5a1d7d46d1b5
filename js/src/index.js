// swergio for browsers and Node: a component that joins a swergio_nb hub (the Python package is the specification).

export { Client } from "./client.js";
export { decode, encode, NDARRAY_EXT } from "./codec.js";
export { Endpoint, Handler, SENDER, Trigger, backoff } from "./endpoint.js";
export { HubError, InvalidMessage, NotConnected, PeerError, Refused, SwergioError, TimeoutError } from "./errors.js";
export { HUB_COMMANDS, HUB_NAME, MessageType, ModelStatus, makeMessage, newId, validate } from "./messages.js";
export { NDArray, dtypeOf } from "./ndarray.js";
export { hubUrl, redact } from "./websocket.js";
