// The training set: add photos to a tag (a new tag is a new folder), counts and thumbnails per tag
// folder, move or delete images one by one or several at once, the photos stored twice, and how many
// images wait untagged in review/. The container is the truth: the next retrain brings the project in line.
import { api, post, postBytes } from "./api.js";
import { append, clear, el, fileDrop, twoStep } from "./dom.js";
import { tagChoices } from "./results.js";
import { thumbnail } from "./thumbs.js";

const IMAGE_TYPES = "image/jpeg,image/png,image/gif,image/bmp,image/webp";

function firstRun() {
  return el("section", { class: "intro", id: "first-run" },
    el("h3", { text: "Start by adding photos" }),
    el("p", { text: "The pipeline classifies every photo put in the images container with a model trained on your own " +
      "examples. Give it examples first: a few photos of each thing it should recognise, one tag per kind " +
      "(for instance apple, banana, orange), at least 5 photos a tag." }),
    el("p", { text: "Choose or type a tag below and add its photos; they are stored in the training container, one " +
      "folder per tag. Then open Runs and press Retrain now." }));
}

export async function render(main, { config, status }) {
  const body = el("div", { id: "training-tags" });
  const summary = el("p", { class: "muted", id: "training-summary" });
  const untagged = el("p", { id: "training-untagged" });
  const duplicates = el("div", { id: "training-duplicates", class: "duplicates" });
  const selected = new Set();
  let folders = [];

  // --- adding photos -----------------------------------------------------------------------------
  const tagSelect = el("select", { id: "upload-tag" });
  const newTag = el("input", { id: "upload-new-tag", type: "text", maxlength: "50", autocomplete: "off",
    placeholder: "e.g. apple" });
  const newTagField = el("span", { class: "field" }, el("label", { for: "upload-new-tag", text: "New tag" }), newTag);
  const picker = el("input", { id: "upload-files", type: "file", multiple: true, accept: IMAGE_TYPES });
  const zone = el("div", { class: "dropzone", id: "upload-drop", tabindex: "0", role: "button",
    "aria-describedby": "upload-drop-help",
    text: "Drop photos here, or press Enter to pick them" });
  const progress = el("progress", { id: "upload-progress", max: "1", value: "0", hidden: true,
    "aria-label": "Upload progress" });
  const progressText = el("span", { id: "upload-status", role: "status" });
  const errors = el("ul", { class: "errors", id: "upload-errors", "aria-label": "Photos not added" });

  function targetTag() {
    return tagSelect.value === "" ? newTag.value.trim() : tagSelect.value;
  }

  function fillTagChoices() {
    const known = new Set([...(config.projectProblem ? [] : tagChoices(config)), ...folders.map((f) => f.tag)]);
    const keep = tagSelect.options.length ? tagSelect.value : null;  // null: the first fill
    clear(tagSelect);
    for (const tag of [...known].sort((a, b) => a.localeCompare(b))) tagSelect.append(el("option", { value: tag, text: tag }));
    tagSelect.append(el("option", { value: "", text: "a new tag…" }));
    tagSelect.value = keep === "" || known.has(keep) ? keep : [...known].sort()[0] ?? "";
    newTagField.hidden = tagSelect.value !== "";
  }

  async function uploadAll(files) {
    const tag = targetTag();
    clear(errors);
    if (!tag) {
      progressText.className = "message error";
      progressText.textContent = "Name the new tag first (for instance apple).";
      newTag.focus();
      return;
    }
    const list = [...files];
    progress.hidden = false;
    progress.max = list.length;
    progress.value = 0;
    progressText.className = "message";
    let stored = 0;
    for (const [i, one] of list.entries()) {
      progressText.textContent = `Adding ${i + 1} of ${list.length} to ${tag}…`;
      try {
        await postBytes("training/upload", { tag, name: one.name }, one);
        stored += 1;
      } catch (error) {
        errors.append(el("li", { text: `${one.name}: ${error.message}` }));
      }
      progress.value = i + 1;
    }
    picker.value = "";
    await refresh();
    tagSelect.value = tag;
    newTag.value = "";
    newTagField.hidden = true;
    const failed = list.length - stored;
    progressText.className = failed ? "message error" : "message ok";
    progressText.textContent = `${stored} of ${list.length} photos added to ${tag}` +
      (failed ? `; ${failed} not added (see below).` : ".");
  }

  tagSelect.addEventListener("change", () => { newTagField.hidden = tagSelect.value !== ""; });
  fileDrop(zone, picker, (files) => uploadAll(files).catch((e) => status(e.message, "error")));
  const uploadPanel = el("section", { class: "upload", id: "upload", "aria-labelledby": "upload-title" },
    el("h3", { id: "upload-title", text: "Add photos" }),
    el("div", { class: "actions" },
      el("label", { for: "upload-tag", text: "Into tag" }), tagSelect, newTagField),
    zone,
    el("p", { class: "muted", id: "upload-drop-help", text: "JPEG, PNG, GIF, BMP or WebP; each photo once (a copy already in the set is refused and named)." }),
    el("div", { class: "actions" }, el("label", { for: "upload-files", text: "Or pick files" }), picker),
    el("div", { class: "actions" }, progress, progressText), errors);

  // --- selecting several -------------------------------------------------------------------------
  const count = el("span", { id: "selection-count", role: "status" });
  const moveTo = el("select", { id: "selection-tag" });
  const moveSelected = el("button", { type: "button", id: "selection-move", text: "Move" });
  const deleteSelected = twoStep("Delete selected", "Delete them for good?", () => removeAll([...selected]),
    { id: "selection-delete" });
  const selectionBar = el("div", { class: "actions selection", id: "selection", hidden: true },
    count, el("label", { for: "selection-tag", text: "Move selected to" }), moveTo, moveSelected, deleteSelected);

  function folderNames() {
    return [...new Set([...(config.projectProblem ? [] : tagChoices(config)), ...folders.map((f) => f.tag)])].sort();
  }

  function updateSelection() {
    selectionBar.hidden = selected.size === 0;
    count.textContent = `${selected.size} selected`;
  }

  async function moveAll(names, tag) {
    let moved = 0;
    for (const name of names) {
      try {
        const done = await post("training/move", { name, tag });
        selected.delete(name);
        if (done.moved) moved += 1;
      } catch (error) { status(`${name}: ${error.message}`, "error"); await refresh(); return; }
    }
    await refresh();
    status(`Moved ${moved} image${moved === 1 ? "" : "s"} to ${tag}.`, "ok");
  }

  async function removeAll(names) {
    let gone = 0;
    for (const name of names) {
      try { await post("training/delete", { name }); selected.delete(name); gone += 1; } catch (error) {
        status(`${name}: ${error.message}`, "error"); await refresh(); return;
      }
    }
    await refresh();
    status(`Deleted ${gone} image${gone === 1 ? "" : "s"} from the training set.`, "ok");
  }

  moveSelected.addEventListener("click", () => moveAll([...selected], moveTo.value).catch((e) => status(e.message, "error")));

  // --- the folders -------------------------------------------------------------------------------
  function card(name) {
    const file = name.split("/").slice(1).join("/");
    const pick = el("input", { type: "checkbox", class: "pick-box", checked: selected.has(name) });
    const move = el("select", { "aria-label": `Tag to move ${file} to` },
      folderNames().map((t) => el("option", { value: t, text: t })));
    move.value = name.split("/")[0];
    const moveButton = el("button", { type: "button", class: "quiet", text: "Move", "aria-label": `Move ${file}` });
    const remove = twoStep("Delete", "Delete for good?", () => removeAll([name]));
    const item = el("li", { class: `card${selected.has(name) ? " selected" : ""}`, "data-name": name },
      thumbnail("training", name),
      el("label", { class: "pick" }, pick, el("span", { class: "name", text: file })),
      el("span", { class: "actions" }, move, moveButton, remove));
    pick.addEventListener("change", () => {
      if (pick.checked) selected.add(name); else selected.delete(name);
      item.classList.toggle("selected", pick.checked);
      updateSelection();
    });
    moveButton.addEventListener("click", () => {
      if (move.value === name.split("/")[0]) { status("Already in that tag: pick another one first.", "info"); return; }
      moveAll([name], move.value).catch((e) => status(e.message, "error"));
    });
    return item;
  }

  async function showAll(tag, list, button, continuation) {
    const page = await api("training/tag", { tag, continuation });
    if (!continuation) clear(list);
    for (const name of page.items) list.append(card(name));
    button.hidden = !page.continuation;
    button.onclick = () => showAll(tag, list, button, page.continuation).catch((e) => status(e.message, "error"));
  }

  async function showUntagged() {
    const waiting = await api("review");
    const n = waiting.items.length;
    clear(untagged);
    if (!n) return;
    append(untagged, `${n}${waiting.continuation ? "+" : ""} image${n === 1 ? "" : "s"} wait untagged in review/: `,
      el("a", { href: "#review", text: "label them in the review queue" }), ".");
  }

  async function showDuplicates() {
    const found = await api("training/duplicates");
    clear(duplicates);
    if (!found.groups.length) return;
    append(duplicates, el("h3", { text: "The same photo stored more than once" }),
      el("p", { text: "The retrain uploads each photo once; delete the extra copies (or keep the one in the right tag)." }),
      el("ul", {}, found.groups.map((names) => el("li", { text: names.join(" = ") }))));
  }

  async function refresh() {
    const data = await api("training");
    folders = data.tags;
    clear(body);
    const more = data.tags.some((f) => f.more);
    summary.textContent = `${data.total}${more ? "+" : ""} images in ${data.tags.length} tag folders` +
      (data.outsideFolders ? `; ${data.outsideFolders} outside any folder (ignored by the sync)` : "") +
      (data.countsAsOf ? `; counts as of the last sync, ${data.countsAsOf}` : "") + ".";
    for (const folder of data.tags) {
      const list = el("ul", { class: "cards" }, folder.samples.map(card));
      const all = el("button", { type: "button", class: "quiet", text: "Show all",
        hidden: folder.count <= folder.samples.length });
      all.onclick = () => showAll(folder.tag, list, all, null).catch((e) => status(e.message, "error"));
      body.append(el("section", { class: "tag", "data-tag": folder.tag },
        el("h3", {}, el("span", { text: folder.tag }), " ", el("span", { class: "count", text: `(${folder.count}${folder.more ? "+" : ""})` })),
        list, all));
    }
    fillTagChoices();
    clear(moveTo);
    for (const tag of folderNames()) moveTo.append(el("option", { value: tag, text: tag }));
    updateSelection();
    await Promise.all([showUntagged(), showDuplicates()]);
  }

  append(main, el("h2", { text: "Training set" }), config.firstRun ? firstRun() : null, uploadPanel,
    summary, untagged, duplicates, selectionBar, body);
  await refresh();
}
