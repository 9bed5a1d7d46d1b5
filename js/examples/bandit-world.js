#!/usr/bin/env node
// The contextual bandit's world as a Node component, next to the Python policy server and trainer
// (swergio_nb/examples/bandit: server.py decides, trainer.py joins decisions with rewards, trains, pushes weights).
//
// The world of swergio_nb/examples/bandit/world.py (its own random numbers): contexts x = [1, z], z uniform on the
// unit sphere of R^(d-1); action a pays 1 with probability p_a(x) = 0.5 + 0.45 u_a . z, the hidden u_a of norm
// 0.6..1. For each event it asks room `contexts` for a decision (DATA/FORWARD, DATA the float64 context, EVENT_ID
// = ROOT_ID) and takes the answer in room `decisions`; it sends the reward (DATA/REWARD: EVENT_ID, REWARD,
// EMITTED_AT wall-clock seconds) to room `rewards` after `delay` simulated seconds (divided by `speed`), and the
// cumulative regret (max_a p_a(x) - p_chosen(x), Lattimore & Szepesvari, Bandit Algorithms, 2020, ch. 4) to room
// `regret` as LOG/KPI. At the end it prints one JSON line: the regret against the uniform random policy's.
//
//   swergio-nb hub --port 8765                                     # prints the URL with its token
//   python -m swergio_nb.examples.bandit.server --hub URL --policy linucb
//   python -m swergio_nb.examples.bandit.trainer --hub URL --policy linucb
//   node js/examples/bandit-world.js --hub URL --events 1000

import { parseArgs } from "node:util";
import { Client, NDArray, newId } from "../src/index.js";

const { values } = parseArgs({
  options: {
    hub: { type: "string" },
    name: { type: "string", default: "world" },
    events: { type: "string", default: "1000" },
    actions: { type: "string", default: "5" },
    dim: { type: "string", default: "6" },
    seed: { type: "string", default: "0" },
    delay: { type: "string", default: "10" }, // simulated seconds
    speed: { type: "string", default: "100" }, // simulated seconds per real second
    rate: { type: "string", default: "20" }, // events per simulated second
    timeout: { type: "string", default: "30" }, // seconds to wait for a decision
  },
});
if (!values.hub) {
  console.error("usage: node bandit-world.js --hub URL [--events N] [--seed S] (see the comment at the top)");
  process.exit(2);
}
const [events, K, d, seed] = [values.events, values.actions, values.dim, values.seed].map(Number);
const [delay, speed, rate, timeout] = [values.delay, values.speed, values.rate, values.timeout].map(Number);

/**
 * mulberry32: a small seeded generator of uniform numbers in [0, 1) (Tommy Ettinger, public domain).
 * @param {number} a
 */
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uniform = mulberry32(seed * 2654435761 + 1);
/** A standard normal number (Box-Muller). */
const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
/** @param {number} n a point uniform on the unit sphere of R^n */
function sphere(n) {
  const z = Array.from({ length: n }, normal);
  const norm = Math.hypot(...z);
  return z.map((v) => v / norm);
}
const dot = (/** @type {number[]} */ a, /** @type {number[]} */ b) => a.reduce((s, v, i) => s + v * b[i], 0);

/** the hidden u_a: a random direction, of norm uniform in [0.6, 1) */
const hidden = Array.from({ length: K }, () => {
  const radius = 0.6 + 0.4 * uniform();
  return sphere(d - 1).map((v) => v * radius);
});

const client = new Client(values.name, values.hub);
await client.connect();
await client.joinRoom("decisions");
let regret = 0;
let uniformRegret = 0;
let rewards = 0;
let lastVersion = -1;
const halves = [0, 0];
/** @type {Promise<any>[]} */
const sending = [];
const started = performance.now();
for (let i = 0; i < events; i++) {
  const ahead = started + (i * 1000) / (rate * speed) - performance.now();
  if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
  const z = sphere(d - 1);
  const probs = hidden.map((u) => 0.5 + 0.45 * dot(u, z));
  const id = newId();
  const reply = await client.request(
    { TYPE: "DATA/FORWARD", TO_ROOM: "contexts", ID: id, ROOT_ID: id, EVENT_ID: id, DATA: new NDArray(Float64Array.from([1, ...z])) },
    { replyRoom: "decisions", replyType: "DATA/FORWARD", timeout },
  );
  const action = Number(reply.ACTION);
  if (!(Number.isInteger(action) && action >= 0 && action < K)) throw new RangeError(`the policy chose action ${reply.ACTION}`);
  lastVersion = Math.max(lastVersion, Number(reply.VERSION ?? -1));
  const best = Math.max(...probs);
  const mean = probs.reduce((a, b) => a + b, 0) / K;
  regret += best - probs[action];
  uniformRegret += best - mean;
  halves[i < events / 2 ? 0 : 1] += best - probs[action];
  const reward = uniform() < probs[action] ? 1 : 0;
  rewards += reward;
  sending.push(new Promise((resolve) => setTimeout(resolve, (delay / speed) * 1000)).then(() =>
    client.send({ TYPE: "DATA/REWARD", TO_ROOM: "rewards", ROOT_ID: id, EVENT_ID: id, REWARD: reward, EMITTED_AT: Date.now() / 1000 }),
  ));
  if ((i + 1) % 100 === 0) {
    await client.send({ TYPE: "LOG/KPI", TO_ROOM: "regret", KPI: "regret: node world", VALUE: regret, STEP: i + 1 });
  }
}
await Promise.all(sending);
const half = Math.floor(events / 2);
console.log(JSON.stringify({
  events,
  regret,
  uniform_regret: uniformRegret,
  regret_per_event_first_half: halves[0] / half,
  regret_per_event_second_half: halves[1] / (events - half),
  uniform_regret_per_event: uniformRegret / events,
  reward_rate: rewards / events,
  rewards_sent: sending.length,
  policy_version: lastVersion,
  seconds: (performance.now() - started) / 1000,
}));
await client.close();
