// The swergio hub's dashboard page in Jupyter Server ({base_url}swergio/): the traffic widget's front end
// (traffic.js), fed by polling the hub's JSON summary ({base_url}swergio/api/hub?traffic=1) instead of a kernel.
// The page stands in for the widget's model: `snapshot` comes from the server; `paused` and the filters stay in
// the page (paused: the view keeps the last snapshot; filters: the tail shows only rooms/types containing one of
// the comma-separated, case-insensitive words, as the notebook widget's filters do).
import traffic from "./traffic.js";

function pageModel(values) {
  const listeners = {};
  return {
    get: (key) => values[key],
    set(key, value) {
      values[key] = value;
      for (const listener of listeners[`change:${key}`] || []) listener();
    },
    on(event, listener) {
      (listeners[event] ||= []).push(listener);
    },
    off(event, listener) {
      listeners[event] = (listeners[event] || []).filter((l) => l !== listener);
    },
    send() {}, // the page holds the state: set() above already applied it
  };
}

function words(text) {
  return (text || "")
    .split(",")
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
}

function keep(entries, roomWords, typeWords) {
  const hit = (needles, value) => !needles.length || needles.some((n) => String(value ?? "").toLowerCase().includes(n));
  return entries.filter((e) => hit(roomWords, e.room) && hit(typeWords, e.type));
}

export function start({ el, status, api, every = 500 }) {
  const model = pageModel({ snapshot: {}, paused: false, room_filter: "", type_filter: "" });
  traffic.render({ model, el });
  let latest = {};
  const show = () => {
    if (model.get("paused")) return;
    const tail = keep(latest.tail || [], words(model.get("room_filter")), words(model.get("type_filter")));
    model.set("snapshot", { ...latest, tail });
  };
  model.on("change:room_filter", show);
  model.on("change:type_filter", show);
  model.on("change:paused", show);
  async function poll() {
    try {
      const response = await fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const hub = await response.json();
      latest = hub.traffic || {};
      const c = hub.counts || {};
      status.textContent =
        `${c.connections} connections · ${c.members} components · ${c.rooms} rooms · ` +
        `${hub.routed} routed · ${hub.dropped} dropped · ${hub.errors} errors · ${hub.slow_consumers} slow consumers`;
      status.dataset.state = "live";
      show();
    } catch (error) {
      status.textContent = `the hub's summary is unavailable: ${error.message}`;
      status.dataset.state = "error";
    }
    setTimeout(poll, every);
  }
  poll();
}
