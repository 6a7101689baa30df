// Iterations like the portal: metrics at a chosen probability threshold (recomputed by the service),
// images per tag, two iterations side by side with the per-tag differences, publish / unpublish /
// delete by hand (each asks again), the ONNX export as a download.
import { api, file, post } from "./api.js";
import { append, clear, el, fixed, scrollBox, twoStep } from "./dom.js";
import { SERIES } from "./chart.js";
import { thumbnail } from "./thumbs.js";

export function metricCells(metrics) {
  return SERIES.map(([key]) => el("td", { class: "num", "data-metric": key,
    "data-value": metrics && typeof metrics[key] === "number" ? metrics[key] : "", text: fixed(metrics && metrics[key]) }));
}

// Expected calibration error: how far stated probabilities are from how often they are right (lower is
// better); only localvision reports it.
function calibrationCell(metrics) {
  const value = metrics && metrics.expectedCalibrationError;
  return el("td", { class: "num", "data-metric": "expectedCalibrationError",
    "data-value": typeof value === "number" ? value : "", text: fixed(value) });
}

function imageCounts(it) {
  const counts = Object.entries(it.imageCounts || {}).sort(([a], [b]) => a.localeCompare(b));
  return counts.map(([tag, n]) => `${tag} ${n}`).join(", ");
}

async function download(it, say) {
  say(`Asking Custom Vision for the ONNX export of ${it.name}…`, "info");
  for (let attempt = 0; attempt < 120; attempt += 1) {
    const zip = await file("iteration/export", { iteration: it.id });
    if (zip) {
      const url = URL.createObjectURL(zip);
      const link = el("a", { href: url, download: `${it.name.replace(/\s+/g, "-")}-onnx.zip`, id: "export-link",
        text: `${it.name}-onnx.zip` });
      say(`The ONNX export of ${it.name} is ready (${(zip.size / 1024).toFixed(0)} KB): `, "ok", link);
      link.click();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  say(`The export of ${it.name} is still being made: try again in a minute.`, "error");
}

function actions(it, { say, changed }) {
  const run = (path, done) => async () => {
    try {
      const answer = await post(path, { iteration: it.id });
      say(done(answer), "ok");
      await changed();
    } catch (error) { say(error.message, "error"); }
  };
  const box = el("div", { class: "iteration-actions" });
  if (it.status !== "Completed") return box;
  if (it.publishedName) {
    box.append(twoStep("Unpublish", "Unpublish: sure?", run("iteration/unpublish",
      () => `${it.name} is unpublished: the pipeline has no model until one is published.`),
    { "data-action": "unpublish" }));
  } else {
    box.append(twoStep("Publish", "Publish: sure?", run("iteration/publish",
      (a) => `${a.published.name} is published as ${a.published.publishedName}` +
        (a.replaced.length ? ` instead of ${a.replaced.map((r) => r.name).join(", ")}.` : ".")),
    { "data-action": "publish", class: "quiet" }));
    box.append(twoStep("Delete", "Delete for good?", run("iteration/delete", (a) => `${a.deleted.name} is deleted.`),
      { "data-action": "delete" }));
  }
  const exportButton = el("button", { type: "button", class: "quiet", "data-action": "export", text: "ONNX",
    "aria-label": `Download the ONNX export of ${it.name}` });
  exportButton.addEventListener("click", () => download(it, say).catch((e) => say(e.message, "error")));
  box.append(exportButton);
  return box;
}

export function iterationsTable(iterations, handlers) {
  const rows = iterations.map((it) => {
    const perTag = el("ul", { class: "per-tag" }, ((it.metrics && it.metrics.perTag) || []).map((t) =>
      el("li", {}, el("span", { class: "tag", text: t.tagName }),
        ` P ${fixed(t.precision)} · R ${fixed(t.recall)} · AP ${fixed(t.averagePrecision)}`)));
    return el("tr", { "data-iteration-id": it.id },
      el("td", { text: it.name }), el("td", { text: it.status }),
      el("td", { text: it.trainedAt || it.created || "" }),
      el("td", { text: it.publishedName || "" }),
      metricCells(it.metrics), calibrationCell(it.metrics), el("td", {}, perTag),
      el("td", { class: "counts", text: imageCounts(it) }),
      el("td", {}, actions(it, handlers)));
  });
  return scrollBox("Iterations", el("table", { class: "table", id: "iterations" },
    el("thead", {}, el("tr", {}, ["Iteration", "Status", "Trained", "Published as", "Precision", "Recall", "AP",
      "ECE", "Per tag", "Images per tag", "Actions"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows)));
}

function difference(a, b) {
  if (typeof a !== "number" || typeof b !== "number") return el("td", { class: "num", text: "–" });
  const d = b - a;
  const text = `${d > 0 ? "+" : ""}${d.toFixed(3)}`;
  return el("td", { class: `num diff ${d > 0.0005 ? "up" : d < -0.0005 ? "down" : ""}`, text });
}

// The training images whose most probable tag (out of fold) differs between A and B; the thumbnail when
// the image came from a training blob the sync knows.
async function changedImages(box, a, b) {
  clear(box);
  box.append(el("p", { class: "message", text: `Looking for the images whose predicted tag changed from ${a.name} to ${b.name}…` }));
  let answer;
  try { answer = await api("iteration/compare", { a: a.id, b: b.id }); } catch (error) {
    clear(box);
    box.append(el("p", { class: "message error", text: error.message }));
    return;
  }
  clear(box);
  const rows = answer.changed.map((c) => el("tr", { "data-image-id": c.imageId },
    el("td", {}, c.name ? thumbnail("training", c.name) : null),
    el("td", { text: c.name || c.imageId }),
    el("td", { text: `${c.tagA} (${fixed(c.probabilityA)})` }),
    el("td", { text: `${c.tagB} (${fixed(c.probabilityB)})` })));
  box.append(el("p", { id: "compare-images-summary", text: `${answer.changed.length} of the ${answer.compared} images in both iterations changed their predicted tag.` }));
  if (rows.length) {
    box.append(el("table", { class: "table", id: "compare-images" },
      el("thead", {}, el("tr", {}, ["", "Image", `Tag in ${a.name}`, `Tag in ${b.name}`].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
  }
}

// Two iterations side by side: overall and per tag, each metric of A, of B and B − A; then, on request,
// the images whose predicted tag changed.
export function comparison(iterations) {
  const done = iterations.filter((it) => it.metrics);
  if (done.length < 2) return null;
  const box = el("section", { class: "compare", id: "compare", "aria-labelledby": "compare-title" });
  const pick = (id, label, chosen) => {
    const select = el("select", { id }, done.map((it) => el("option", { value: it.id, text: it.name })));
    select.value = chosen.id;
    return [el("label", { for: id, text: label }), select];
  };
  const [labelA, first] = pick("compare-a", "Compare", done[done.length - 2]);
  const [labelB, second] = pick("compare-b", "with", done[done.length - 1]);
  const table = scrollBox("The two iterations per tag", null);

  function draw() {
    const a = done.find((it) => it.id === first.value), b = done.find((it) => it.id === second.value);
    const tags = [...new Set([...(a.metrics.perTag || []), ...(b.metrics.perTag || [])].map((t) => t.tagName))].sort();
    const of = (it, tag) => (it.metrics.perTag || []).find((t) => t.tagName === tag) || {};
    const row = (name, ma, mb, countA, countB) => el("tr", { "data-tag": name },
      el("th", { scope: "row", text: name }),
      SERIES.flatMap(([key]) => [el("td", { class: "num", text: fixed(ma[key]) }), el("td", { class: "num", text: fixed(mb[key]) }),
        difference(ma[key], mb[key])]),
      el("td", { class: "num", text: countA ?? "–" }), el("td", { class: "num", text: countB ?? "–" }));
    clear(table);
    table.append(el("table", { class: "table", id: "compare-table" },
      el("thead", {}, el("tr", {}, el("th", { text: "Tag" }),
        SERIES.flatMap(([, label]) => [el("th", { text: `${label} ${a.name}` }), el("th", { text: `${label} ${b.name}` }),
          el("th", { text: "difference" })]),
        el("th", { text: `Images ${a.name}` }), el("th", { text: `Images ${b.name}` }))),
      el("tbody", {}, row("all tags", a.metrics, b.metrics, null, null),
        tags.map((tag) => row(tag, of(a, tag), of(b, tag), (a.imageCounts || {})[tag], (b.imageCounts || {})[tag])))));
  }
  const images = scrollBox("Images whose predicted tag changed", null);
  const showImages = el("button", { type: "button", class: "quiet", id: "compare-images-button", text: "Changed images" });
  showImages.addEventListener("click", () => {
    const a = done.find((it) => it.id === first.value), b = done.find((it) => it.id === second.value);
    changedImages(images, a, b);
  });
  first.addEventListener("change", () => { draw(); clear(images); });
  second.addEventListener("change", () => { draw(); clear(images); });
  append(box, el("h3", { id: "compare-title", text: "Two iterations side by side" }),
    el("div", { class: "actions" }, labelA, first, labelB, second, showImages), table, images);
  draw();
  return box;
}
