// Thumbnails are fetched with the key (an <img src> could not send it) and shown from object URLs; a
// few at a time, and released when the page changes.
import { thumbnailUrl } from "./api.js";
import { el } from "./dom.js";

const PARALLEL = 6;
const urls = new Set();
let queue = [];
let running = 0;
let generation = 0;

function pump() {
  while (running < PARALLEL && queue.length) {
    const job = queue.shift();
    running += 1;
    job().finally(() => { running -= 1; pump(); });
  }
}

export function thumbnail(area, name, size = "small") {
  const img = el("img", { class: size === "large" ? "preview" : "thumb", alt: name });
  const mine = generation;
  queue.push(async () => {
    if (mine !== generation) return;
    try {
      const url = await thumbnailUrl(area, name, size);
      if (mine !== generation) { URL.revokeObjectURL(url); return; }
      urls.add(url);
      img.src = url;
    } catch (error) {
      img.replaceWith(el("span", { class: `${img.className} missing`, text: "no preview", title: error.message }));
    }
  });
  pump();
  return img;
}

export function releaseThumbnails() {
  generation += 1;
  queue = [];
  for (const url of urls) URL.revokeObjectURL(url);
  urls.clear();
}
