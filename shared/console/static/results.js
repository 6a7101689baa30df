// Results: a gallery of result documents, newest first, 50 read per page, filtered; a result in full in a
// drawer (probability bars, which model answered, the document behind a toggle).
import { api, post } from "./api.js";
import { append, bars, clear, el, percent } from "./dom.js";
import { thumbnail } from "./thumbs.js";

const BANDS = [
  ["", "any probability"],
  ["0-0.5", "under 50%"],
  ["0.5-0.8", "50% to 80%"],
  ["0.8-0.95", "80% to 95%"],
  ["0.95-1", "95% and over"],
];

const REASONS = [
  ["", "any review reason"],
  ["low_confidence", "review: low confidence"],
  ["unknown", "review: unknown"],
];

export function tagChoices(config) {
  const names = config.tags.filter((t) => t.type === "Regular").map((t) => t.name);
  return [...names, config.negativeFolder];
}

function labelled(text, control) {
  return el("label", {}, el("span", { text }), control);
}

// "which model answered": the published name, the iteration and where it ran.
export function answeredBy(model) {
  if (!model) return "";
  const where = model.source === "onnx" ? "its ONNX export, in the app" : "Custom Vision";
  const iteration = model.iterationId ? `iteration ${model.iterationId}` : "an iteration the export does not name";
  return `Answered by ${model.publishedName || "the published model"} (${iteration}), run by ${where}.`;
}

export async function render(main, { config, status }) {
  const statusSelect = el("select", { name: "status" },
    el("option", { value: "", text: "any status" }),
    el("option", { value: "ok", text: "ok" }),
    el("option", { value: "error", text: "error" }));
  const tagSelect = el("select", { name: "tag" }, el("option", { value: "", text: "any top tag" }),
    config.tags.map((t) => el("option", { value: t.name, text: t.name })));
  const bandSelect = el("select", { name: "band" }, BANDS.map(([v, t]) => el("option", { value: v, text: t })));
  const reasonSelect = el("select", { name: "reason" }, REASONS.map(([v, t]) => el("option", { value: v, text: t })));
  const grid = el("div", { class: "grid", id: "results-grid" });
  const more = el("button", { type: "button", id: "results-more", hidden: true, text: "Load more" });
  const info = el("p", { class: "muted", id: "results-info" });
  const detail = el("aside", { class: "detail", id: "result-detail", hidden: true, role: "dialog",
    "aria-labelledby": "result-detail-title" });
  let continuation = null;
  let read = 0;
  let shown = 0;
  let generation = 0;
  let opener = null;

  async function load(reset) {
    if (reset) { clear(grid); continuation = null; read = 0; shown = 0; generation += 1; }
    const mine = generation;
    more.hidden = true;
    info.textContent = "Loading…";
    const [min, max] = bandSelect.value ? bandSelect.value.split("-") : ["", ""];
    const page = await api("results", {
      status: statusSelect.value, tag: tagSelect.value, min, max, reason: reasonSelect.value, continuation,
    });
    if (mine !== generation) return;  // the filters changed meanwhile: a newer load owns the grid
    read += page.read;
    shown += page.items.length;
    for (const item of page.items) grid.append(tile(item));
    continuation = page.continuation;
    more.hidden = !continuation;
    const order = page.order === "newest" ? "newest first" : "in name order (too many documents to sort by date)";
    info.textContent = `${shown} shown of ${read} documents read, ${order}${continuation ? "; more to read" : ""}.`;
  }

  function tile(item) {
    const label = item.status === "ok"
      ? `${item.topTag ?? "no tag"} ${percent(item.probability)}`
      : `${item.errorCode ?? "error"}`;
    const button = el("button", { type: "button", class: `tile ${item.status}`, "data-name": item.name },
      item.status === "ok" ? thumbnail("images", item.name) : el("span", { class: "thumb missing", text: "error" }),
      el("span", { class: "name", text: item.name }),
      el("span", { class: "toptag", text: label }),
      el("span", { class: `badge ${item.status}`, text: item.status }),
      item.reviewReason ? el("span", { class: "badge review", "data-reason": item.reviewReason,
        text: item.reviewReason.replace("_", " ") }) : null);
    button.addEventListener("click", () => open(item.name, button).catch((e) => status(e.message, "error")));
    return button;
  }

  function close() {
    if (detail.hidden) return;
    detail.hidden = true;
    clear(detail);
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  }

  function addToTraining(name, doc) {
    const choices = tagChoices(config);
    const choose = el("select", { name: "label-tag", id: "label-tag" }, choices.map((t) => el("option", { value: t, text: t })));
    const top = (doc.predictions || [])[0];
    if (top && choices.includes(top.tagName)) choose.value = top.tagName;
    const outcome = el("p", { class: "message", id: "label-outcome", role: "status" });
    const add = el("button", { type: "button", id: "label-add", text: "Add to training" });
    add.addEventListener("click", async () => {
      try {
        const done = await post("result/label", { name, tag: choose.value });
        const to = (done.moved || done.copied).to;
        outcome.className = "message ok";
        outcome.textContent = `Added: training/${to.name}`;
        const undo = el("button", { type: "button", class: "quiet", text: "Undo" });
        undo.addEventListener("click", async () => {
          try {
            await post("undo", { undo: done.undo });
            outcome.className = "message ok";
            outcome.textContent = "Undone.";
          } catch (error) { outcome.className = "message error"; outcome.textContent = error.message; }
        });
        outcome.append(" ", undo);
      } catch (error) { outcome.className = "message error"; outcome.textContent = error.message; }
    });
    return [el("div", { class: "actions" }, el("label", { for: "label-tag", text: "Add to training as" }), choose, add), outcome];
  }

  async function open(name, from) {
    const doc = await api("result", { name });
    clear(detail);
    opener = from;
    const closeButton = el("button", { type: "button", class: "close quiet", text: "Close" });
    closeButton.addEventListener("click", close);
    const ok = doc.status === "ok";
    append(detail,
      closeButton,
      el("h2", { id: "result-detail-title", class: "name", text: name }),
      ok ? thumbnail("images", name, "large") : null,
      ok ? el("p", { class: "answered", id: "result-answered", text: answeredBy(doc.model) }) : null,
      ok ? bars(doc.predictions) : el("p", { class: "message error", id: "result-error",
        text: `${doc.error && doc.error.code}: ${doc.error && doc.error.message}` }),
      // only a classified image can be a training example: an error result is no photo of any tag
      ok ? addToTraining(name, doc) : el("p", { class: "muted", text: "Not an image the model can learn from: nothing to add to training." }),
      el("details", { class: "raw" }, el("summary", { text: "Document (JSON)" }),
        el("pre", { class: "document", text: JSON.stringify(doc, null, 2) })));
    detail.hidden = false;
    closeButton.focus();
  }

  function onKey(event) {
    if (event.key === "Escape" && !detail.hidden) { event.preventDefault(); close(); }
  }

  for (const select of [statusSelect, tagSelect, bandSelect, reasonSelect]) {
    select.addEventListener("change", () => load(true).catch((e) => status(e.message, "error")));
  }
  more.addEventListener("click", () => load(false).catch((e) => status(e.message, "error")));
  append(main, el("h2", { text: "Results" }),
    el("div", { class: "filters" }, labelled("Status", statusSelect), labelled("Top tag", tagSelect),
      labelled("Probability", bandSelect), labelled("Review reason", reasonSelect)), info, grid, more, detail);
  await load(true);
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
