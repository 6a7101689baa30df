// Results: a gallery of result documents, 50 read per page, filtered; a document in full on click.
import { api, post } from "./api.js";
import { append, clear, el, percent } from "./dom.js";
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
  const detail = el("aside", { class: "detail", id: "result-detail", hidden: true });
  let continuation = null;
  let read = 0;
  let shown = 0;

  let generation = 0;

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
    info.textContent = `${shown} shown of ${read} documents read${continuation ? "; more to read" : ""}.`;
  }

  function tile(item) {
    const label = item.status === "ok"
      ? `${item.topTag ?? "no tag"} ${percent(item.probability)}`
      : `${item.errorCode ?? "error"}`;
    return el("button", { type: "button", class: `tile ${item.status}`, "data-name": item.name,
      onclick: () => open(item.name).catch((e) => status(e.message, "error")) },
      item.status === "ok" ? thumbnail("images", item.name) : el("span", { class: "thumb missing", text: "error" }),
      el("span", { class: "name", text: item.name }),
      el("span", { class: "toptag", text: label }),
      el("span", { class: `badge ${item.status}`, text: item.status }),
      item.reviewReason ? el("span", { class: "badge review", "data-reason": item.reviewReason,
        text: item.reviewReason.replace("_", " ") }) : null);
  }

  async function open(name) {
    const doc = await api("result", { name });
    clear(detail);
    detail.hidden = false;
    const choose = el("select", { name: "label-tag" }, tagChoices(config).map((t) => el("option", { value: t, text: t })));
    const top = (doc.predictions || [])[0];
    if (top && tagChoices(config).includes(top.tagName)) choose.value = top.tagName;
    const outcome = el("p", { class: "message" });
    const add = el("button", { type: "button", text: "Add to training as", onclick: async () => {
      try {
        const done = await post("result/label", { name, tag: choose.value });
        const to = (done.moved || done.copied).to;
        outcome.textContent = `Added: training/${to.name}`;
        const undo = el("button", { type: "button", class: "quiet", text: "Undo", onclick: async () => {
          await post("undo", { undo: done.undo });
          outcome.textContent = "Undone.";
        } });
        outcome.append(" ", undo);
      } catch (error) { outcome.textContent = error.message; }
    } });
    append(detail,
      el("button", { type: "button", class: "close quiet", text: "Close", onclick: () => { detail.hidden = true; } }),
      el("h2", { text: name }),
      doc.status === "ok" ? thumbnail("images", name, "large") : null,
      el("div", { class: "actions" }, add, choose),
      outcome,
      el("pre", { class: "document", text: JSON.stringify(doc, null, 2) }));
  }

  for (const select of [statusSelect, tagSelect, bandSelect, reasonSelect]) {
    select.addEventListener("change", () => load(true).catch((e) => status(e.message, "error")));
  }
  more.addEventListener("click", () => load(false).catch((e) => status(e.message, "error")));
  append(main, el("h2", { text: "Results" }),
    el("div", { class: "filters" }, statusSelect, tagSelect, bandSelect, reasonSelect), info, grid, more, detail);
  await load(true);
}
