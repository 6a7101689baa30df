// Quick test: drop, pick or paste an image, or give a URL; the predictions come back as bars
// (POST /api/classify; nothing is stored).
import { app } from "./api.js";
import { append, bars, clear, el } from "./dom.js";

export async function render(main, { status }) {
  const file = el("input", { type: "file", accept: "image/*", id: "quick-file" });
  const url = el("input", { type: "url", placeholder: "https://example.com/photo.jpg", id: "quick-url" });
  const zone = el("div", { class: "dropzone", id: "quick-drop", tabindex: "0",
    text: "Drop an image here, pick a file, or paste one (Ctrl+V)." });
  const output = el("div", { class: "quick-output", id: "quick-output" });
  let preview = null;

  async function classify(body, contentType, shown) {
    clear(output);
    if (preview) { URL.revokeObjectURL(preview); preview = null; }
    output.append(el("p", { class: "muted", text: `Classifying ${shown}…` }));
    try {
      const doc = await app("classify", { method: "POST", body, contentType });
      clear(output);
      if (body instanceof Blob) {
        preview = URL.createObjectURL(body);
        output.append(el("img", { class: "preview", src: preview, alt: shown }));
      }
      if (doc.status === "ok") {
        append(output, el("h3", { text: shown }), bars(doc.predictions));
      } else {
        append(output, el("p", { class: "message", text: `${doc.error.code}: ${doc.error.message}` }));
      }
    } catch (error) {
      clear(output);
      output.append(el("p", { class: "message", text: error.message }));
      status(error.message, "error");
    }
  }

  const send = (blob) => classify(blob, blob.type || "application/octet-stream", blob.name || "pasted image");
  file.addEventListener("change", () => { if (file.files[0]) send(file.files[0]); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const dropped = e.dataTransfer.files[0];
    if (dropped) send(dropped);
  });
  function onPaste(e) {
    const pasted = [...(e.clipboardData ? e.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
    if (pasted) { e.preventDefault(); send(pasted); }
  }
  document.addEventListener("paste", onPaste);
  const form = el("form", { class: "url-form" }, url, el("button", { type: "submit", text: "Classify URL" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (url.value) classify(JSON.stringify({ url: url.value }), "application/json", url.value);
  });
  append(main, el("h2", { text: "Quick test" }), zone, el("div", { class: "actions" }, file), form, output);
  return () => { document.removeEventListener("paste", onPaste); if (preview) URL.revokeObjectURL(preview); };
}
