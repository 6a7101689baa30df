// The training set: counts and thumbnails per tag folder; move an image to another tag, or delete it.
// The next retrain brings the project in line (moves retag, deletes delete).
import { api, post } from "./api.js";
import { append, clear, el } from "./dom.js";
import { tagChoices } from "./results.js";
import { thumbnail } from "./thumbs.js";

export async function render(main, { config, status }) {
  const body = el("div", { id: "training-tags" });
  const summary = el("p", { class: "muted", id: "training-summary" });
  append(main, el("h2", { text: "Training set" }), summary, body);
  const choices = tagChoices(config);

  function card(name) {
    const move = el("select", { "aria-label": "Move to tag" },
      el("option", { value: "", text: "move to…" }),
      choices.map((t) => el("option", { value: t, text: t })));
    const remove = el("button", { type: "button", class: "quiet danger", text: "Delete" });
    const item = el("li", { class: "card", "data-name": name },
      thumbnail("training", name), el("span", { class: "name", text: name.split("/").slice(1).join("/") }),
      el("span", { class: "actions" }, move, remove));
    move.addEventListener("change", async () => {
      if (!move.value) return;
      try {
        const done = await post("training/move", { name, tag: move.value });
        status(done.moved ? `Moved ${name} to training/${done.moved.to.name}` : "Already in that tag.");
        await refresh();
      } catch (error) { status(error.message, "error"); }
    });
    remove.addEventListener("click", async () => {
      if (remove.dataset.armed !== "yes") {
        remove.dataset.armed = "yes";
        remove.textContent = "Delete for good?";
        return;
      }
      try {
        await post("training/delete", { name });
        status(`Deleted training/${name}`);
        item.remove();
      } catch (error) { status(error.message, "error"); }
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

  async function refresh() {
    const data = await api("training");
    clear(body);
    summary.textContent = `${data.total} images in ${data.tags.length} tag folders` +
      (data.outsideFolders ? `; ${data.outsideFolders} outside any folder (ignored by the sync)` : "") + ".";
    for (const folder of data.tags) {
      const list = el("ul", { class: "cards" }, folder.samples.map(card));
      const all = el("button", { type: "button", class: "quiet", text: "Show all",
        hidden: folder.count <= folder.samples.length });
      all.onclick = () => showAll(folder.tag, list, all, null).catch((e) => status(e.message, "error"));
      body.append(el("section", { class: "tag", "data-tag": folder.tag },
        el("h3", {}, el("span", { text: folder.tag }), " ", el("span", { class: "count", text: `(${folder.count})` })),
        list, all));
    }
  }

  await refresh();
}
