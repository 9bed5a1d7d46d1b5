// The person component of the melody example, in the page: joins the hub itself (no kernel in between), takes the
// learner's label requests (DATA/CUSTOM with GENOMES in the `user` room), has the label store component render each
// melody and commit each rating, and answers the learner once every melody of a request is rated or skipped.
//
// It offers labelling.js's `render` what an anywidget model offers (get, on, send), so the page draws the same
// widget whether the kernel (LabellingWidget) or the hub drives it. The rules are LabelQueue's
// (swergio_nb/examples/melody/labelling.py): one current melody, rate / skip / undo, "saved" only once the store
// confirmed, the last decision of a request undoable for `undoWindow` seconds before the learner gets the answer.

import { Client, NDArray, Trigger } from "../src/index.js";

/** @typedef {import("../src/messages.js").Envelope} Envelope */

/**
 * @typedef {object} Item
 * @property {number} key unique in this page
 * @property {Uint8Array} genome 128 bits
 * @property {"pending"|"rated"|"skipped"} status
 * @property {number|null} rating
 * @property {number|null} row the store's row id once rated
 */

/**
 * @typedef {object} Batch one label request of the learner
 * @property {Item[]} items
 * @property {Item[]} decided in decision order, for undo
 * @property {(ratings: Array<number|null>) => void} resolve
 * @property {ReturnType<typeof setTimeout>|null} closing the pending answer (undo window)
 */

/**
 * @typedef {object} HubLabellingOptions
 * @property {string} url the hub (`"/swergio/ws"` under Jupyter Server with the page's login, or a URL with a token)
 * @property {string} [name] this component's name (default `"person"`)
 * @property {string} [store] the label store component (default `"label-store"`)
 * @property {string} [room] where the learner asks (default `"user"`)
 * @property {string} [metrics] where the learner's KPIs arrive (default `"metrics"`)
 * @property {string} [accuracyKpi] the KPI shown as accuracy (default `"cross-validated accuracy"`)
 * @property {string} [source] recorded with each rating (default `"person"`)
 * @property {string} [rater] who rates, as the page shows it (default `"you"`)
 * @property {string} [accuracyLabel] what the accuracy is measured on, as the page shows it
 * @property {boolean} [autoplay] play each new melody when it appears (default true)
 * @property {number} [undoWindow] seconds a finished request waits before it is answered (default 3)
 * @property {number} [timeout] seconds to wait for the store's answer (default 30)
 */

/**
 * Bytes as base64 (for data: URLs).
 * @param {Uint8Array} bytes
 */
function base64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * The genomes of a label request: a uint8 array (n, 128) or a list of 128-bit rows.
 * @param {any} genomes
 * @returns {Uint8Array[]}
 */
function rows(genomes) {
  if (genomes instanceof NDArray) {
    const [n, width] = genomes.shape.length === 2 ? genomes.shape : [1, genomes.size];
    const bytes = Uint8Array.from(genomes.data, Number);
    return Array.from({ length: n }, (_, i) => bytes.slice(i * width, (i + 1) * width));
  }
  return [...genomes].map((g) => (g instanceof NDArray ? Uint8Array.from(g.data, Number) : Uint8Array.from(g)));
}

export class HubLabelling {
  /** @param {HubLabellingOptions} options */
  constructor(options) {
    const { url, name = "person", store = "label-store", room = "user", metrics = "metrics" } = options;
    this.store = store;
    this.source = options.source ?? "person";
    this.accuracyKpi = options.accuracyKpi ?? "cross-validated accuracy";
    this.undoWindow = options.undoWindow ?? 3;
    this.timeout = options.timeout ?? 30;
    /** @type {Record<string, any>} the widget's state, as LabellingWidget's traits */
    this.state = {
      item: {}, confirmed: {}, can_undo: false, waiting: 0, labels: 0, accuracy: null,
      autoplay: options.autoplay ?? true, rater: options.rater ?? "you",
      accuracy_label: options.accuracyLabel ?? "accuracy",
    };
    /** @type {Map<string, Set<() => void>>} */
    this.listeners = new Map();
    /** @type {Batch[]} */
    this.batches = [];
    this.count = 0;
    this.actions = 0;
    /** @type {Map<number, {wav: string, roll: string}>} */
    this.rendered = new Map();
    this.client = new Client(name, url);
    this.client.on(new Trigger("DATA/CUSTOM", room), (msg) => this.label(msg), { replyType: "DATA/CUSTOM", replyRooms: room });
    this.client.on(new Trigger("LOG/KPI", metrics), (msg) => {
      if (msg.KPI === "labels") this.set("labels", Number(msg.VALUE));
      else if (msg.KPI === this.accuracyKpi) this.set("accuracy", Number(msg.VALUE));
    });
    /** resolves once connected (rejects if the hub refused or cannot be reached) */
    this.connected = this.client.connect().then(
      () => this.show(`connected to the hub as ${name}`),
      (error) => { this.show(`not connected to the hub: ${error.message}`, false); throw error; },
    );
    this.connected.catch(() => {});
  }

  // -- what labelling.js's render uses (an anywidget model's interface) -----------------------------------------

  /** @param {string} key */
  get(key) {
    return this.state[key];
  }

  /**
   * @param {string} event `"change:NAME"`
   * @param {() => void} callback
   */
  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    /** @type {Set<() => void>} */ (this.listeners.get(event)).add(callback);
  }

  /**
   * @param {string} event
   * @param {() => void} callback
   */
  off(event, callback) {
    this.listeners.get(event)?.delete(callback);
  }

  /**
   * A click: `{action: "rate"|"skip"|"undo", key, rating}`.
   * @param {{action: string, key: number|null, rating: number|null}} content
   */
  send(content) {
    this.act(content.action, content.key, content.rating).catch((error) => this.show(`not saved: ${error.message}`, false));
  }

  /** Leave the hub. */
  close() {
    return this.client.close();
  }

  // -- state ----------------------------------------------------------------------------------------------------

  /**
   * @param {string} key
   * @param {any} value
   */
  set(key, value) {
    this.state[key] = value;
    for (const callback of this.listeners.get(`change:${key}`) ?? []) callback();
  }

  /**
   * @param {string} text
   * @param {boolean} [ok]
   * @param {Record<string, any>} [fields]
   */
  show(text, ok = true, fields = {}) {
    this.actions += 1;
    this.set("confirmed", { ...fields, text, ok, n: this.actions });
  }

  /** The melody to rate now, or null. */
  get current() {
    for (const batch of this.batches) for (const item of batch.items) if (item.status === "pending") return item;
    return null;
  }

  /** Draw the current melody once the store has rendered it; the counters at once. */
  async refresh() {
    const item = this.current;
    this.set("can_undo", Boolean(this.batches.length && this.batches[0].decided.length));
    this.set("waiting", this.batches.reduce((n, b) => n + b.items.filter((i) => i.status === "pending").length, 0));
    if (item === null) {
      this.set("item", {});
      return;
    }
    const batch = /** @type {Batch} */ (this.batches.find((b) => b.items.includes(item)));
    const position = batch.decided.length + 1;
    const shown = this.state.item;
    if (shown.key === item.key && shown.position === position) return;
    const media = await this.render(item);
    if (this.current === item) this.set("item", { key: item.key, position, size: batch.items.length, ...media });
  }

  /**
   * The melody as the store renders it (base64 WAV and PNG), kept for the current melody only.
   * @param {Item} item
   */
  async render(item) {
    let media = this.rendered.get(item.key);
    if (!media) {
      const reply = await this.ask({ OP: "render", GENOME: new NDArray(item.genome) });
      media = { wav: base64(reply.WAV), roll: base64(reply.ROLL) };
      this.rendered = new Map([[item.key, media]]);
    }
    return media;
  }

  /**
   * A request to the store.
   * @param {Envelope} fields
   * @returns {Promise<Envelope>}
   */
  ask(fields) {
    return this.client.request({ TYPE: "DATA/CUSTOM", TO: this.store, ...fields }, { timeout: this.timeout });
  }

  // -- the learner's requests -----------------------------------------------------------------------------------

  /**
   * A label request: queue its melodies; answer once each is rated or skipped.
   * @param {Envelope} msg
   */
  async label(msg) {
    if (!("GENOMES" in msg) || "FITNESS" in msg) return null;
    const genomes = rows(msg.GENOMES);
    if (!genomes.length) return { GENOMES: new NDArray(new Uint8Array(0), [0, 0]), FITNESS: [], SKIPPED: 0 };
    /** @type {Array<number|null>} */
    const ratings = await new Promise((resolve) => {
      const items = genomes.map((genome) => ({ key: ++this.count, genome, status: /** @type {const} */ ("pending"), rating: null, row: null }));
      this.batches.push({ items, decided: [], resolve, closing: null });
      this.refresh();
    });
    const rated = genomes.filter((_, i) => ratings[i] !== null);
    const width = genomes[0].length;
    const flat = new Uint8Array(rated.length * width);
    rated.forEach((g, i) => flat.set(g, i * width));
    return {
      GENOMES: new NDArray(flat, [rated.length, width]),
      FITNESS: ratings.filter((r) => r !== null),
      SKIPPED: ratings.filter((r) => r === null).length,
    };
  }

  /**
   * Carry out a click.
   * @param {string} action
   * @param {number|null} key the melody the click was on
   * @param {number|null} rating
   */
  async act(action, key, rating) {
    const item = this.current;
    if ((action === "rate" || action === "skip") && (item === null || (key !== null && key !== item.key))) {
      return this.show("that melody was already answered", false, { action, key });
    }
    if (action === "rate" && item) {
      let reply;
      try {
        reply = await this.ask({ OP: "rate", GENOME: new NDArray(item.genome), RATING: rating, SOURCE: this.source });
      } catch (error) {
        return this.show(`not saved: ${/** @type {Error} */ (error).message}`, false, { action, key });
      }
      Object.assign(item, { status: "rated", rating, row: reply.ROW });
      this.show(`saved rating ${rating} (row ${reply.ROW})`, true, { action, key: item.key, rating, row: reply.ROW });
      return this.decided(item);
    }
    if (action === "skip" && item) {
      item.status = "skipped";
      this.show("skipped", true, { action, key: item.key });
      return this.decided(item);
    }
    if (action === "undo") return this.undo();
    return this.show(`unknown action ${JSON.stringify(action)}`, false, { action });
  }

  async undo() {
    const batch = this.batches[0];
    if (!batch || !batch.decided.length) return this.show("nothing to undo", false, { action: "undo", key: null });
    if (batch.closing !== null) clearTimeout(batch.closing);
    batch.closing = null;
    const item = /** @type {Item} */ (batch.decided.pop());
    if (item.status === "rated" && item.row !== null) {
      try {
        await this.ask({ OP: "undo", ROW: item.row });
      } catch (error) {
        batch.decided.push(item);
        return this.show(`not undone: ${/** @type {Error} */ (error).message}`, false, { action: "undo", key: item.key });
      }
    }
    Object.assign(item, { status: "pending", rating: null, row: null });
    this.show("undone: rate it again", true, { action: "undo", key: item.key });
    return this.refresh();
  }

  /** @param {Item} item */
  decided(item) {
    const batch = /** @type {Batch} */ (this.batches.find((b) => b.items.includes(item)));
    batch.decided.push(item);
    if (batch.items.every((i) => i.status !== "pending")) {
      const answer = () => {
        this.batches.splice(this.batches.indexOf(batch), 1);
        batch.resolve(batch.items.map((i) => i.rating));
        this.refresh();
      };
      if (this.undoWindow > 0) batch.closing = setTimeout(answer, this.undoWindow * 1000);
      else answer();
    }
    return this.refresh();
  }
}
