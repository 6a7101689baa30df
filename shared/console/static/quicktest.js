// Quick test: drop, pick or paste an image, or give a URL; the predictions come back as bars with the
// model that answered. "The published model" is what the pipeline uses (POST /api/classify); any trained
// iteration can be tried instead (Custom Vision's quick test, published or not). Nothing is stored.
import { api, app, postBytes } from "./api.js";
import { append, bars, clear, el, fileDrop } from "./dom.js";
import { answeredBy } from "./results.js";

const PUBLISHED = "";

export async function render(main, { status }) {
  const file = el("input", { type: "file", accept: "image/*", id: "quick-file" });
  const url = el("input", { type: "url", placeholder: "https://example.com/photo.jpg", id: "quick-url" });
  const zone = el("div", { class: "dropzone", id: "quick-drop", tabindex: "0", role: "button",
    text: "Drop an image here, press Enter to pick a file, or paste one (Ctrl+V)." });
  const model = el("select", { id: "quick-model" }, el("option", { value: PUBLISHED, text: "the published model (what the pipeline uses)" }));
  const output = el("div", { class: "quick-output", id: "quick-output", "aria-live": "polite" });
  let preview = null;

  async function ask(body, contentType) {
    if (model.value === PUBLISHED) {
      const doc = await app("classify", { method: "POST", body, contentType });
      return { doc, answered: doc.status === "ok" ? answeredBy(doc.model) : "" };
    }
    const answer = await postBytes("iteration/quick", { iteration: model.value }, body);
    return { doc: { status: "ok", predictions: answer.predictions },
      answered: `Answered by ${answer.iteration.name} (Custom Vision's quick test of that iteration).` };
  }

  async function classify(body, contentType, shown) {
    clear(output);
    if (preview) { URL.revokeObjectURL(preview); preview = null; }
    output.append(el("p", { class: "muted", text: `Classifying ${shown}…` }));
    try {
      const { doc, answered } = await ask(body, contentType);
      clear(output);
      if (body instanceof Blob) {
        preview = URL.createObjectURL(body);
        output.append(el("img", { class: "preview", src: preview, alt: shown }));
      }
      if (doc.status === "ok") {
        append(output, el("h3", { text: shown }), el("p", { class: "answered", id: "quick-answered", text: answered }),
          bars(doc.predictions));
      } else {
        append(output, el("p", { class: "message error", text: `${doc.error.code}: ${doc.error.message}` }));
      }
    } catch (error) {
      clear(output);
      output.append(el("p", { class: "message error", text: error.message }));
    }
  }

  const send = (blob) => classify(blob, blob.type || "application/octet-stream", blob.name || "pasted image");
  fileDrop(zone, file, (files) => send(files[0]));
  function onPaste(e) {
    const pasted = [...(e.clipboardData ? e.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
    if (pasted) { e.preventDefault(); send(pasted); }
  }
  document.addEventListener("paste", onPaste);
  const form = el("form", { class: "url-form" }, el("label", { for: "quick-url", class: "visually-hidden", text: "Image URL" }),
    url, el("button", { type: "submit", text: "Classify URL" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!url.value) return;
    if (model.value !== PUBLISHED) {
      clear(output);
      output.append(el("p", { class: "message error", text: "A URL is classified by the published model only: pick a file to try an iteration." }));
      return;
    }
    classify(JSON.stringify({ url: url.value }), "application/json", url.value);
  });
  append(main, el("h2", { text: "Quick test" }),
    el("div", { class: "actions" }, el("label", { for: "quick-model", text: "Model" }), model),
    zone, el("div", { class: "actions" }, el("label", { for: "quick-file", text: "Pick an image" }), file), form, output);
  try {
    const runs = await api("runs");
    for (const it of runs.iterations.filter((i) => i.status === "Completed").reverse()) {
      model.append(el("option", { value: it.id, text: `${it.name}${it.publishedName ? ` (published as ${it.publishedName})` : ""}` }));
    }
  } catch (error) { status(error.message, "error"); }
  return () => { document.removeEventListener("paste", onPaste); if (preview) URL.revokeObjectURL(preview); };
}
