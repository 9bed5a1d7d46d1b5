// Front-end of swergio_nb.examples.melody.widget.LabellingWidget: play a melody, see its piano roll, rate it 0-5.
// Python owns the queue and the durable store: a click sends {action, key, rating}; the widget shows "saved" only
// when Python confirms (trait `confirmed`), after the rating is committed to the store.
// With the trait `hub` set (HubLabellingWidget), or on the page `{base_url}swergio/label` (`start`), the page is the
// person component itself (lib/hub-labelling.js): it joins the hub, and the label store component confirms.
// Keys: 0-5 rate, s skip, u undo, p or space play again.

import { HubLabelling } from "./lib/hub-labelling.js";

const CSS = `
.swergio-labelling { font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; outline: none;
  color: var(--jp-ui-font-color1, #222); border: 1px solid var(--jp-border-color2, #ddd); padding: 8px;
  border-radius: 4px; max-width: 680px; }
.swergio-labelling:focus { border-color: var(--jp-brand-color1, #1976d2); }
.swergio-labelling .bar { display: flex; gap: 8px; align-items: center; margin: 4px 0; flex-wrap: wrap; }
.swergio-labelling .progress { font-weight: bold; }
.swergio-labelling .rater { font-weight: bold; color: var(--jp-brand-color1, #1976d2); }
.swergio-labelling .learner { color: var(--jp-ui-font-color2, #555); }
.swergio-labelling img { max-width: 100%; display: block; }
.swergio-labelling button.rate { min-width: 2.4em; font-weight: bold; }
.swergio-labelling .status { min-height: 1.2em; color: var(--jp-success-color1, #2e7d32); }
.swergio-labelling .status.refused { color: var(--jp-warn-color1, #b35c00); }
.swergio-labelling .idle { color: var(--jp-ui-font-color2, #888); padding: 1em 0; }
`;

function h(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

function render({ model, el }) {
  const hub = model.get("hub");
  if (!hub || !hub.url) return drawWidget(model, el);
  const person = new HubLabelling(hub);
  const stop = drawWidget(person, el);
  return () => {
    stop();
    person.close();
  };
}

/**
 * The labelling page without a notebook: joins the hub as the person component and draws into `el`.
 * @param {{el: HTMLElement} & import("./lib/hub-labelling.js").HubLabellingOptions} options
 */
export function start({ el, ...options }) {
  const person = new HubLabelling(options);
  drawWidget(person, el);
  return person;
}

// Draws the widget from `model` (an anywidget model, or a HubLabelling) into `el`; returns the cleanup.
function drawWidget(model, el) {
  const root = h("div", { className: "swergio-labelling", tabIndex: 0 });
  root.append(h("style", { textContent: CSS }));
  const rater = h("span", { className: "rater" });
  const progress = h("span", { className: "progress" });
  const learner = h("span", { className: "learner" });
  const audio = h("audio", { controls: true, preload: "auto" });
  const play = h("button", { className: "play", textContent: "▶ play", title: "play again (p)" });
  const roll = h("img", { className: "roll", alt: "piano roll" });
  const idle = h("div", { className: "idle", textContent: "no melody waiting: the learner asks when its pool is full" });
  const rateButtons = [0, 1, 2, 3, 4, 5].map((r) =>
    h("button", { className: "rate", textContent: String(r), title: `rate ${r} (key ${r})`, value: String(r) }),
  );
  const skip = h("button", { className: "skip", textContent: "skip", title: "skip (s)" });
  const undo = h("button", { className: "undo", textContent: "undo", title: "undo the last rating (u)" });
  const status = h("div", { className: "status" });
  const melody = h("div", { className: "melody" }, [
    h("div", { className: "bar" }, [play, audio]),
    roll,
    h("div", { className: "bar" }, ["rating: ", ...rateButtons, skip]),
  ]);
  root.append(h("div", { className: "bar" }, [rater, progress, learner]), idle, melody, h("div", { className: "bar" }, [undo]), status);
  el.append(root);

  let pendingKey = null; // a click sent, not yet confirmed: ignore more clicks on the same melody
  // A key pressed for the melody that just left must not rate the one that replaced it: ratings and skips are
  // refused for SETTLE_MS after a new melody is shown.
  const SETTLE_MS = 400;
  let shownAt = 0;

  function showStatus(text, ok = true) {
    status.textContent = text;
    status.className = ok ? "status" : "status refused";
  }
  function send(action, rating) {
    const item = model.get("item") || {};
    if (action !== "undo" && (item.key === undefined || pendingKey === item.key)) return;
    if (action !== "undo" && performance.now() - shownAt < SETTLE_MS) {
      showStatus("a new melody: listen first, then rate it", false);
      return;
    }
    if (action !== "undo") pendingKey = item.key;
    showStatus(action === "rate" ? `saving ${rating}…` : "");
    model.send({ action, key: item.key ?? null, rating: rating ?? null });
  }
  // Keys work without a click first: a new melody takes the focus, unless the person is typing somewhere else.
  function takeFocus() {
    const active = document.activeElement;
    const typing = active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName));
    if (!typing && el.isConnected) root.focus({ preventScroll: true });
  }
  rateButtons.forEach((b, r) => b.addEventListener("click", () => { send("rate", r); root.focus(); }));
  skip.addEventListener("click", () => { send("skip"); root.focus(); });
  undo.addEventListener("click", () => { send("undo"); root.focus(); });
  play.addEventListener("click", () => { audio.currentTime = 0; audio.play().catch(() => {}); root.focus(); });
  root.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const k = event.key;
    if (k >= "0" && k <= "5" && k.length === 1) send("rate", Number(k));
    else if (k === "s") send("skip");
    else if (k === "u") send("undo");
    else if (k === "p" || k === " ") { audio.currentTime = 0; audio.play().catch(() => {}); }
    else return;
    event.preventDefault();
    event.stopPropagation(); // keep JupyterLab's command-mode shortcuts out of it
  });

  let shownKey = null;
  function draw() {
    const item = model.get("item") || {};
    const has = item.key !== undefined && item.key !== null;
    melody.style.display = has ? "" : "none";
    idle.style.display = has ? "none" : "";
    progress.textContent = has ? `${item.position} of ${item.size}` : "idle";
    if (has && item.key !== shownKey) {
      shownKey = item.key;
      pendingKey = null;
      shownAt = performance.now();
      takeFocus();
      audio.src = `data:audio/wav;base64,${item.wav}`;
      roll.src = `data:image/png;base64,${item.roll}`;
      if (model.get("autoplay")) audio.play().catch(() => {});
    }
    if (!has) shownKey = null;
    undo.disabled = !model.get("can_undo");
    const acc = model.get("accuracy");
    const labels = model.get("labels");
    const waiting = model.get("waiting");
    rater.textContent = `rating: ${model.get("rater")}`;
    learner.textContent = `learner: ${labels} labels` + (acc === null || acc === undefined ? "" :
      `, ${model.get("accuracy_label")} ${(100 * acc).toFixed(1)} %`) + (waiting ? ` · ${waiting} waiting` : "");
  }
  function confirmed() {
    const c = model.get("confirmed") || {};
    if (c.text) showStatus(c.text, c.ok !== false);
    pendingKey = null;
  }
  model.on("change:item", draw);
  model.on("change:can_undo", draw);
  model.on("change:accuracy", draw);
  model.on("change:labels", draw);
  model.on("change:waiting", draw);
  model.on("change:rater", draw);
  model.on("change:accuracy_label", draw);
  model.on("change:confirmed", confirmed);
  draw();
  confirmed();
  return () => root.remove();
}

export default { render };
