// The console's shell: the key, the pages (one per #hash) and the status line.
import { KeyRefused, api, forgetKey, getKey, setKey, whenKeyRefused } from "./api.js";
import { clear } from "./dom.js";
import * as quick from "./quicktest.js";
import * as results from "./results.js";
import * as review from "./review.js";
import * as runs from "./runs.js";
import { releaseThumbnails } from "./thumbs.js";
import * as training from "./training.js";

const PAGES = { results, review, training, runs, quick };
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
const keyPanel = document.getElementById("key-panel");
const keyMessage = document.getElementById("key-message");
const keyInput = document.getElementById("key-input");
let config = null;
let cleanup = null;

function status(text, kind = "info") {
  statusLine.textContent = text || "";
  statusLine.className = `status ${kind}`;
}

function askForKey(message) {
  config = null;
  if (cleanup) { cleanup(); cleanup = null; }
  releaseThumbnails();
  clear(main);
  keyMessage.textContent = message || "";
  keyPanel.hidden = false;
  status("");
  keyInput.focus();
}

async function loadConfig() {
  config = await api("config");
  // No project yet is the normal first run: the Training set page says what to do (add photos).
  config.firstRun = Boolean(config.projectProblem && config.projectProblem.code === "ProjectNotFound");
}

async function start() {
  if (!getKey()) { askForKey("Enter the function key to open the console."); return; }
  try {
    await loadConfig();
  } catch (error) {
    if (!(error instanceof KeyRefused)) status(error.message, "error");
    return;
  }
  keyPanel.hidden = true;
  await show();
}

async function show() {
  if (!config) return;
  if (config.firstRun) {  // until the first retrain makes the project: its tags may exist by now
    try { await loadConfig(); } catch (error) {
      if (!(error instanceof KeyRefused)) status(error.message, "error");
      return;
    }
  }
  if (cleanup) { cleanup(); cleanup = null; }
  releaseThumbnails();
  const name = PAGES[location.hash.slice(1)] ? location.hash.slice(1) : config.firstRun ? "training" : "results";
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === name);
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clear(main);
  if (config.projectProblem && !config.firstRun) status(config.projectProblem.message, "warning");
  else status("");
  main.dataset.page = name;
  try {
    cleanup = (await PAGES[name].render(main, { config, status })) || null;
  } catch (error) {
    if (!(error instanceof KeyRefused)) status(error.message, "error");
  }
}

whenKeyRefused((error) => askForKey(error.message));
document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  keyInput.value = "";
  if (!key) return;
  setKey(key);
  start();
});
document.getElementById("forget-key").addEventListener("click", () => {
  forgetKey();
  askForKey("The key is forgotten: enter it again to continue.");
});
window.addEventListener("hashchange", show);
start();
