// Thumbnails are fetched with the key (an <img src> could not send it) and shown from object URLs; a
// few at a time. Each preview is fetched once per page view and reused when a list is redrawn (the
// review queue redraws after every decision), and all are released when the page changes.
import { thumbnailUrl } from "./api.js";
import { el } from "./dom.js";

const PARALLEL = 6;
const cache = new Map();  // "area|size|name" -> Promise of an object URL
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

function fetchOnce(area, name, size) {
  const key = `${area}|${size}|${name}`;
  if (!cache.has(key)) {
    const mine = generation;
    cache.set(key, new Promise((resolve, reject) => {
      queue.push(async () => {
        if (mine !== generation) { reject(new Error("released")); return; }
        try { resolve(await thumbnailUrl(area, name, size)); } catch (error) { cache.delete(key); reject(error); }
      });
      pump();
    }));
  }
  return cache.get(key);
}

export function thumbnail(area, name, size = "small") {
  const img = el("img", { class: size === "large" ? "preview" : "thumb", alt: name });
  const mine = generation;
  fetchOnce(area, name, size).then((url) => {
    if (mine === generation) img.src = url;
  }, (error) => {
    if (mine !== generation) return;
    img.replaceWith(el("span", { class: `${img.className} missing`, text: "no preview", title: error.message }));
  });
  return img;
}

export function releaseThumbnails() {
  generation += 1;
  queue = [];
  for (const cached of cache.values()) cached.then((url) => URL.revokeObjectURL(url), () => {});
  cache.clear();
}
