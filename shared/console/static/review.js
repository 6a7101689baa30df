// The review queue: one keystroke (or tap) per decision. 1..9 the n-th tag, n the Negative folder,
// x discard, arrows move, u (or Ctrl+Z, or the Undo button) undoes the last action, again and again.
// Each decision is announced to screen readers; previews are fetched once (see thumbs.js).
import { api, post } from "./api.js";
import { append, bars, clear, el, percent } from "./dom.js";
import { thumbnail } from "./thumbs.js";

const UNDO_LEVELS = 50;
// Why the pipeline sent the image here (the result document's reviewReason).
const REASONS = {
  low_confidence: "Low confidence: the model hesitates between tags.",
  unknown: "Unknown: unlike every training image; a distractor can go to the Negative folder (n).",
};

export async function render(main, { config, status }) {
  const tags = config.tags.filter((t) => t.type === "Regular").map((t) => t.name);
  const negative = config.negativeFolder;
  const current = el("div", { class: "current", id: "review-current" });
  const strip = el("ol", { class: "strip", id: "review-strip", "aria-label": "Images waiting for review" });
  const last = el("p", { class: "message", id: "review-last", role: "status" });
  const more = el("button", { type: "button", hidden: true, text: "Load the next images" });
  const legend = el("ul", { class: "legend", "aria-label": "Keys" },
    tags.slice(0, 9).map((t, i) => el("li", {}, el("kbd", { text: String(i + 1) }), " ", t)),
    el("li", {}, el("kbd", { text: "n" }), ` Negative (${negative})`),
    el("li", {}, el("kbd", { text: "x" }), " discard"),
    el("li", {}, el("kbd", { text: "←" }), el("kbd", { text: "→" }), " move"),
    el("li", {}, el("kbd", { text: "u" }), " undo"));
  let items = [];
  let index = 0;
  let continuation = null;
  const undos = [];
  let busy = false;

  async function load() {
    const page = await api("review", { continuation });
    items = items.concat(page.items);
    continuation = page.continuation;
    more.hidden = !continuation;
    draw();
  }

  function say(text, kind) {
    last.className = `message ${kind}`;
    last.textContent = text;
  }

  function undoButton() {
    const button = el("button", { type: "button", class: "quiet", id: "review-undo",
      text: undos.length ? `Undo (${undos.length})` : "Undo", disabled: !undos.length,
      "aria-keyshortcuts": "u" });
    button.addEventListener("click", () => revert());
    return button;
  }

  function draw() {
    clear(current);
    clear(strip);
    index = Math.max(0, Math.min(index, items.length - 1));
    if (!items.length) {
      current.append(el("p", { class: "muted", text: "The review queue is empty." }), undoButton());
      return;
    }
    items.forEach((item, i) => {
      const entry = el("li", { class: i === index ? "selected" : "", "data-name": item.name,
        "aria-current": i === index ? "true" : null },
        thumbnail("review", item.name), el("span", { class: "name", text: item.name }));
      entry.addEventListener("click", () => { index = i; draw(); });
      strip.append(entry);
    });
    const item = items[index];
    const top = item.predictions[0];
    const choice = (text, key, onclick) => {
      const button = el("button", { type: "button", text, "aria-keyshortcuts": key });
      button.addEventListener("click", onclick);
      return button;
    };
    append(current,
      el("h3", { class: "name", id: "review-name", text: item.name }),
      el("p", { class: "muted", text: `${index + 1} of ${items.length}${continuation ? "+" : ""}; top: ${top ? `${top.tagName} ${percent(top.probability)}` : "no prediction"}` }),
      el("p", { class: "reason", id: "review-reason", "data-reason": item.reviewReason || "",
        text: REASONS[item.reviewReason] || "" }),
      el("div", { class: "actions review-actions" },
        tags.slice(0, 9).map((t, i) => choice(`${i + 1} ${t}`, String(i + 1), () => decide(t))),
        choice("n Negative", "n", () => decide(negative)),
        choice("x discard", "x", () => discard()),
        undoButton()),
      bars(item.predictions),
      thumbnail("review", item.name, "large"));
  }

  async function act(call, describe) {
    if (busy || !items.length) return;
    busy = true;
    const item = items[index];
    try {
      const done = await call(item);
      items.splice(index, 1);
      undos.push({ action: done.undo, item, at: index });
      if (undos.length > UNDO_LEVELS) undos.shift();
      say(describe(item, done), "ok");
      if (!items.length && continuation) await load();  // the window is done: on to the next one
      else draw();
    } catch (error) {
      say(error.message, "error");
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
    if (busy || !undos.length) return;
    busy = true;
    const undo = undos[undos.length - 1];
    try {
      await post("undo", { undo: undo.action });
      undos.pop();
      const at = Math.min(undo.at, items.length);
      items.splice(at, 0, undo.item);
      index = at;
      say(`Undone: ${undo.item.name} is back in the queue.`, "ok");
      draw();
    } catch (error) {
      say(error.message, "error");
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
    el("p", { class: "muted", text: "Images the model was least sure of come first: file each under its tag." }),
    legend, last, el("div", { class: "review" }, current, el("div", {}, strip, more)));
  await load();
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
