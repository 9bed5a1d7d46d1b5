// Built by js/build.mjs from js/traffic.js: edit that file and run `npm --prefix js run build`.
// traffic.js
var CSS = `
.swergio-traffic { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); }
.swergio-traffic .bar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 6px; }
.swergio-traffic input[type=text] { width: 10em; font-size: 12px; }
.swergio-traffic .rates { margin: 4px 0 6px; font-family: var(--jp-code-font-family, monospace); }
.swergio-traffic .rates span { margin-right: 12px; }
.swergio-traffic table { border-collapse: collapse; margin-bottom: 8px; }
.swergio-traffic th, .swergio-traffic td { padding: 1px 8px; text-align: left; vertical-align: top;
  border-bottom: 1px solid var(--jp-border-color2, #ddd); }
.swergio-traffic td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swergio-traffic td.mono { font-family: var(--jp-code-font-family, monospace); white-space: pre; }
.swergio-traffic .tail { max-height: 18em; overflow-y: auto; }
.swergio-traffic .muted { color: var(--jp-ui-font-color2, #888); }
.swergio-traffic .paused { color: #b35c00; font-weight: bold; }
`;
function setTrait(model, name, value) {
  model.set(name, value);
  model.send({ set: { [name]: value } });
}
function h(tag, props = {}, children = []) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}
function clockTime(seconds) {
  const d = new Date(seconds * 1e3);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
function rate(value) {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}
function row(cells) {
  return h(
    "tr",
    {},
    cells.map(([text, cls]) => h("td", { textContent: text, className: cls || "" }))
  );
}
function textInput(model, trait, placeholder) {
  const input = h("input", { type: "text", placeholder, value: model.get(trait) || "" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      setTrait(model, trait, input.value);
    }, 200);
  });
  const sync = () => {
    if (document.activeElement !== input) input.value = model.get(trait) || "";
  };
  return { input, sync, stop: () => clearTimeout(timer) };
}
function render({ model, el }) {
  const root = h("div", { className: "swergio-traffic" });
  root.append(h("style", { textContent: CSS }));
  const pause = h("button", {});
  pause.addEventListener("click", () => {
    setTrait(model, "paused", !model.get("paused"));
  });
  const room = textInput(model, "room_filter", "rooms (a,b)");
  const type = textInput(model, "type_filter", "types (a,b)");
  const totals = h("span", { className: "muted" });
  root.append(h("div", { className: "bar" }, [pause, room.input, type.input, totals]));
  const rates = h("div", { className: "rates" });
  const rooms = h("table");
  const tailBody = h("tbody");
  const tail = h("div", { className: "tail" }, [
    h("table", {}, [
      h("thead", {}, [
        h("tr", {}, ["time", "room", "sender", "type", "preview"].map((t) => h("th", { textContent: t })))
      ]),
      tailBody
    ])
  ]);
  root.append(rates, rooms, tail);
  el.append(root);
  function drawPaused() {
    const paused = model.get("paused");
    pause.textContent = paused ? "resume" : "pause";
    pause.title = paused ? "show the latest counts again" : "freeze the view (counting goes on)";
    pause.className = paused ? "paused" : "";
  }
  function draw() {
    const snap = model.get("snapshot") || {};
    const types = snap.types || {};
    const typeNames = Object.keys(types);
    const t = snap.totals || { count: 0, rate: 0, rooms: 0, types: 0 };
    const stopped = !!snap.stopped;
    totals.textContent = `${t.count} messages · ${t.rooms} rooms · ${stopped ? "stopped" : `${rate(t.rate || 0)} msg/s`}`;
    rates.replaceChildren(
      ...stopped ? [] : typeNames.map((name) => h("span", { textContent: `${name}: ${rate(types[name].rate)}/s` })),
      h("span", {
        className: "muted",
        textContent: stopped ? "monitor stopped: no longer counting" : `(last ${snap.window ?? "?"} s)`
      })
    );
    const head = h("tr", {}, ["room", "members", "count", ...typeNames].map((x) => h("th", { textContent: x })));
    const body = Object.entries(snap.rooms || {}).map(
      ([name, info]) => row([
        [name],
        [(info.members || []).join(", "), "muted"],
        [String(info.count), "num"],
        ...typeNames.map((tn) => [String((info.types || {})[tn] ?? 0), "num"])
      ])
    );
    rooms.replaceChildren(h("thead", {}, [head]), h("tbody", {}, body));
    const entries = (snap.tail || []).slice().reverse();
    tailBody.replaceChildren(
      ...entries.map(
        (e) => row([[clockTime(e.time), "mono"], [e.room], [e.sender ?? ""], [e.type], [e.preview ?? "", "mono"]])
      )
    );
  }
  drawPaused();
  draw();
  const onRoom = () => room.sync();
  const onType = () => type.sync();
  model.on("change:snapshot", draw);
  model.on("change:paused", drawPaused);
  model.on("change:room_filter", onRoom);
  model.on("change:type_filter", onType);
  return () => {
    room.stop();
    type.stop();
    model.off("change:snapshot", draw);
    model.off("change:paused", drawPaused);
    model.off("change:room_filter", onRoom);
    model.off("change:type_filter", onType);
  };
}
var traffic_default = { render };
export {
  traffic_default as default
};
