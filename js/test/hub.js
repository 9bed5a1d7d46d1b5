// What the Node suites share: the hub to use (SWERGIO_HUB_URL, set by tests/js/test_node_client.py), a Python hub
// of their own when a suite must stop and restart it, and the reference arrays of tests/js/peer.py built here.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { NDArray } from "../src/index.js";

/** The hub the Python test started (with its token), or fails the suite. */
export function hubUrlFromEnv() {
  const url = process.env.SWERGIO_HUB_URL;
  if (!url) throw new Error("SWERGIO_HUB_URL is not set: run these suites with `pytest tests/js`");
  return url;
}

/**
 * Start `swergio-nb hub` (the Python one) and wait for its URL.
 * @param {{port?: number, token?: string}} [options]
 * @returns {Promise<{url: string, stop: () => Promise<void>}>}
 */
export async function startHub({ port = 0, token = "node-test-token" } = {}) {
  const python = process.env.SWERGIO_PYTHON ?? "python3";
  const proc = spawn(python, ["-m", "swergio_nb.swarm.cli", "hub", "--port", String(port)], {
    env: { ...process.env, SWERGIO_TOKEN: token },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: /** @type {import("node:stream").Readable} */ (proc.stdout) });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the hub printed no URL within 30 s")), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      if (line.startsWith("swergio hub listening on ")) resolve(line.split(" ").pop());
      else reject(new Error(`unexpected first line of the hub: ${line}`));
    });
    proc.once("exit", (code) => reject(new Error(`the hub exited with ${code} before printing its URL`)));
  });
  lines.on("line", () => {}); // keep reading: a full pipe would block the hub
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(undefined);
    proc.once("exit", () => resolve(undefined));
    proc.kill("SIGTERM");
  });
  return { url: /** @type {string} */ (url), stop };
}

/**
 * Poll `predicate` every 10 ms until it holds, at most `timeout` seconds.
 * @param {() => boolean} predicate
 * @param {number} [timeout]
 * @param {string} [what]
 */
export async function until(predicate, timeout = 10, what = "the condition") {
  const deadline = Date.now() + timeout * 1000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeout} s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A name no other test uses. */
let count = 0;
export const uniqueName = (/** @type {string} */ prefix) => `${prefix}-${process.pid}-${++count}`;

/**
 * tests/js/peer.py's reference_arrays(), built here from the same numbers.
 * @returns {Record<string, NDArray>}
 */
export function referenceArrays() {
  const f32 = new Float32Array(8);
  f32.set([1.5, -0.0, Infinity, -Infinity, 1e-45, 3.4028235e38]);
  new Uint32Array(f32.buffer, 24, 2).set([0x7fc00001, 0xffa00000]); // NaN payloads
  const big = new Float32Array(20_000).map((_, i) => i / 7);
  return {
    f32: new NDArray(f32, [2, 4]),
    f64: new NDArray(new Float64Array([Math.PI, -0.0, 5e-324, NaN]), [2, 2]),
    i32: new NDArray(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -7])),
    i64: new NDArray(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n]), [2, 1, 2]),
    u8: new NDArray(Uint8Array.from({ length: 16 }, (_, i) => i * 17)),
    scalar: new NDArray(new Float64Array([2.5]), []),
    empty: new NDArray(new Float32Array(0), [0, 3]),
    big: new NDArray(big, [100, 200]),
  };
}

/**
 * The bytes of an array as hex (to compare bit for bit, NaN payloads included).
 * @param {NDArray} array
 */
export const hex = (array) => Buffer.from(array.bytes).toString("hex");
