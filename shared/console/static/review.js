// The review queue: one keystroke per decision. 1..9 the n-th tag, n the Negative folder, x discard,
// arrows move, u (or Ctrl+Z) undoes the last action.
import { api, post } from "./api.js";
import { append, bars, clear, el, percent } from "./dom.js";
import { thumbnail } from "./thumbs.js";

// Why the pipeline sent the image here (the result document's reviewReason).
const REASONS = {
  low_confidence: "Low confidence: the model hesitates between tags.",
  unknown: "Unknown: unlike every training image; a distractor can go to the Negative folder (n).",
};

export async function render(main, { config, status }) {
  const tags = config.tags.filter((t) => t.type === "Regular").map((t) => t.name);
  const negative = config.negativeFolder;
  const current = el("div", { class: "current", id: "review-current" });
  const strip = el("ol", { class: "strip", id: "review-strip" });
  const last = el("p", { class: "message", id: "review-last" });
  const more = el("button", { type: "button", hidden: true, text: "Load the next images" });
  const legend = el("ul", { class: "legend" },
    tags.slice(0, 9).map((t, i) => el("li", {}, el("kbd", { text: String(i + 1) }), " ", t)),
    el("li", {}, el("kbd", { text: "n" }), ` Negative (${negative})`),
    el("li", {}, el("kbd", { text: "x" }), " discard"),
    el("li", {}, el("kbd", { text: "←" }), el("kbd", { text: "→" }), " move"),
    el("li", {}, el("kbd", { text: "u" }), " undo"));
  let items = [];
  let index = 0;
  let continuation = null;
  let undo = null;
  let busy = false;

  async function load() {
    const page = await api("review", { continuation });
    items = items.concat(page.items);
    continuation = page.continuation;
    more.hidden = !continuation;
    draw();
  }

  function draw() {
    clear(current);
    clear(strip);
    index = Math.max(0, Math.min(index, items.length - 1));
    if (!items.length) {
      current.append(el("p", { class: "muted", text: "The review queue is empty." }));
      return;
    }
    items.forEach((item, i) => {
      strip.append(el("li", { class: i === index ? "selected" : "", "data-name": item.name,
        onclick: () => { index = i; draw(); } },
        thumbnail("review", item.name), el("span", { class: "name", text: item.name })));
    });
    const item = items[index];
    const top = item.predictions[0];
    append(current,
      el("h3", { class: "name", id: "review-name", text: item.name }),
      el("p", { class: "muted", text: `${index + 1} of ${items.length}${continuation ? "+" : ""}; top: ${top ? `${top.tagName} ${percent(top.probability)}` : "no prediction"}` }),
      el("p", { class: "reason", id: "review-reason", "data-reason": item.reviewReason || "",
        text: REASONS[item.reviewReason] || "" }),
      thumbnail("review", item.name, "large"),
      bars(item.predictions),
      el("div", { class: "actions" },
        tags.slice(0, 9).map((t, i) => el("button", { type: "button", onclick: () => decide(t), text: `${i + 1} ${t}` })),
        el("button", { type: "button", onclick: () => decide(negative), text: "n Negative" }),
        el("button", { type: "button", onclick: () => discard(), text: "x discard" })));
  }

  async function act(call, describe) {
    if (busy || !items.length) return;
    busy = true;
    const item = items[index];
    try {
      const done = await call(item);
      items.splice(index, 1);
      undo = { action: done.undo, item, at: index };
      last.textContent = describe(item, done);
      if (!items.length && continuation) await load();  // the window is done: on to the next one
      else draw();
    } catch (error) {
      status(error.message, "error");
    } finally {
      busy = false;
    }
  }

  const decide = (tag) => act(
    (item) => post("review/assign", { name: item.name, tag }),
    (item, done) => `${item.name} → training/${done.moved.to.name} (u to undo)`);
  const discard = () => act(
    (item) => post("review/discard", { name: item.name }),
    (item) => `${item.name} discarded (u to undo)`);

  async function revert() {
    if (busy || !undo) return;
    busy = true;
    try {
      await post("undo", { undo: undo.action });
      items.splice(undo.at, 0, undo.item);
      index = undo.at;
      last.textContent = `Undone: ${undo.item.name} is back in the queue.`;
      undo = null;
      draw();
    } catch (error) {
      status(error.message, "error");
    } finally {
      busy = false;
    }
  }

  function onKey(event) {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    if (event.altKey || event.metaKey) return;
    if (event.ctrlKey) {
      if (event.key === "z") { event.preventDefault(); revert(); }
      return;
    }
    const key = event.key;
    if (/^[1-9]$/.test(key) && tags[Number(key) - 1]) decide(tags[Number(key) - 1]);
    else if (key === "n") decide(negative);
    else if (key === "x") discard();
    else if (key === "u") revert();
    else if (key === "ArrowRight" || key === "ArrowDown") { index += 1; draw(); }
    else if (key === "ArrowLeft" || key === "ArrowUp") { index -= 1; draw(); }
    else return;
    event.preventDefault();
  }

  more.addEventListener("click", () => load().catch((e) => status(e.message, "error")));
  append(main, el("h2", { text: "Review queue" }),
    el("p", { class: "muted", text: "Images the model was least sure of come first." }),
    legend, last, el("div", { class: "review" }, current, el("div", {}, strip, more)));
  await load();
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
