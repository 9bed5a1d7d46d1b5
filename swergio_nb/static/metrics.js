// Built by js/build.mjs from js/metrics.js: edit that file and run `npm --prefix js run build`.
// metrics.js
var CSS = `
.swergio-metrics { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); }
.swergio-metrics .bar { display: flex; gap: 12px; align-items: center; margin-bottom: 4px; }
.swergio-metrics img { max-width: 100%; display: block; }
.swergio-metrics .empty { color: var(--jp-ui-font-color2, #888); padding: 2em; }
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
function render({ model, el }) {
  const root = h("div", { className: "swergio-metrics" });
  root.append(h("style", { textContent: CSS }));
  const log = h("input", { type: "checkbox" });
  log.addEventListener("change", () => {
    setTrait(model, "log_scale", log.checked);
  });
  const slider = h("input", { type: "range", min: "0", max: "0.99", step: "0.01" });
  const shown = h("span", { className: "value" });
  slider.addEventListener("input", () => {
    shown.textContent = Number(slider.value).toFixed(2);
  });
  slider.addEventListener("change", () => {
    setTrait(model, "smoothing", Number(slider.value));
  });
  root.append(
    h("div", { className: "bar" }, [
      h("label", {}, [log, " log scale"]),
      h("label", {}, ["smoothing ", slider, " ", shown])
    ])
  );
  const img = h("img", { alt: "metrics plot" });
  const empty = h("div", { className: "empty", textContent: "no data yet" });
  root.append(img, empty);
  el.append(root);
  function drawPng() {
    const png = model.get("png");
    img.style.display = png ? "" : "none";
    empty.style.display = png ? "none" : "";
    if (png) img.src = `data:image/png;base64,${png}`;
    img.alt = model.get("title") || "metrics plot";
  }
  function drawOptions() {
    log.checked = !!model.get("log_scale");
    const s = model.get("smoothing") ?? 0;
    slider.value = String(s);
    shown.textContent = Number(s).toFixed(2);
  }
  drawPng();
  drawOptions();
  model.on("change:png", drawPng);
  model.on("change:title", drawPng);
  model.on("change:log_scale", drawOptions);
  model.on("change:smoothing", drawOptions);
  return () => {
    model.off("change:png", drawPng);
    model.off("change:title", drawPng);
    model.off("change:log_scale", drawOptions);
    model.off("change:smoothing", drawOptions);
  };
}
var metrics_default = { render };
export {
  metrics_default as default
};
