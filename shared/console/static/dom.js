// Building DOM without HTML strings: every text goes through textContent, every attribute through
// setAttribute, so blob names, tag names and messages can never become markup.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

export function percent(p) {
  return typeof p === "number" ? `${(p * 100).toFixed(1)}%` : "–";
}

export function fixed(value) {
  return typeof value === "number" ? value.toFixed(3) : "–";
}

export function bars(predictions, limit = 10) {
  const list = el("ol", { class: "bars" });
  for (const p of (predictions || []).slice(0, limit)) {
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.max(0, Math.min(1, Number(p.probability) || 0)) * 100}%`;
    list.append(
      el("li", { class: "bar" },
        el("span", { class: "label", text: p.tagName }),
        el("span", { class: "track" }, fill),
        el("span", { class: "value", text: percent(p.probability) })),
    );
  }
  return list;
}

const DISARM_MS = 4000;

// A button that asks again before it acts; it forgets that it asked after DISARM_MS or when focus leaves.
export function twoStep(label, armedLabel, action, attrs = {}) {
  const button = el("button", { type: "button", class: "quiet danger", text: label, ...attrs });
  let timer = null;
  const disarm = () => {
    clearTimeout(timer);
    delete button.dataset.armed;
    button.textContent = label;
  };
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = armedLabel;
      timer = setTimeout(disarm, DISARM_MS);
      return;
    }
    disarm();
    await action();
  });
  button.addEventListener("blur", disarm);
  return button;
}

// A table that may be wider than the screen scrolls inside its own box, which the keyboard can reach.
export function scrollBox(label, child) {
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, child);
}

/** Makes `zone` open the file `picker` (click, Enter, Space) and take dropped files; `onFiles` gets the
 * picked or dropped FileList, never an empty one. */
export function fileDrop(zone, picker, onFiles) {
  const take = (files) => { if (files.length) onFiles(files); };
  picker.addEventListener("change", () => take(picker.files));
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); }
  });
  zone.addEventListener("click", () => picker.click());
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    take(e.dataTransfer.files);
  });
}
