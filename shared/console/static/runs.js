// Runs: the retrain history, every iteration's precision / recall / AP (overall and per tag) at a
// threshold the slider sets, with a chart, two iterations compared, actions by hand; "Retrain now" and
// "Import from Custom Vision" follow the run they started until it ends.
import { api, app } from "./api.js";
import { append, clear, el, scrollBox } from "./dom.js";
import { metricsChart } from "./chart.js";
import { comparison, iterationsTable, metricCells } from "./iterations.js";

const TERMINAL = new Set(["succeeded", "rejected", "skipped", "failed"]);

function seconds(timing) {
  if (!timing || !timing.startedAt || !timing.finishedAt) return null;
  return (Date.parse(timing.finishedAt) - Date.parse(timing.startedAt)) / 1000;
}

function timings(run) {
  const ended = TERMINAL.has(run.status);
  return Object.entries(run.timings || {}).map(([step, t]) => {
    const s = seconds(t);
    if (s === null) return ended ? step : `${step} …`;
    return `${step} ${s.toFixed(0)} s`;
  }).join(", ");
}

function syncCounts(sync) {
  if (!sync) return "";
  const parts = ["listed", "uploaded", "unchanged", "duplicates", "failed", "ignored"]
    .filter((k) => typeof sync[k] === "number" && (sync[k] || k === "uploaded"))
    .map((k) => `${k} ${sync[k]}`);
  for (const k of ["retagged", "replaced", "deleted"]) if (sync[k]) parts.push(`${k} ${sync[k]}`);
  return parts.join(", ");
}

const WORSE = /^(\w+) ([\d.]+) is worse than the published iteration's ([\d.]+) by more than GATE_TOLERANCE ([\d.]+)$/;

// The gate's reasons, each once: "worse than the published iteration" ones share one line that names
// the tolerance once.
function gateCell(run) {
  const gate = run.gate;
  if (!gate) return el("td");
  if (gate.passed) return el("td", { class: "gate", text: "passed" });
  const worse = [], other = [];
  let tolerance = null;
  for (const reason of gate.reasons) {
    const m = WORSE.exec(reason);
    if (m) { worse.push(`${m[1]} ${m[2]} (was ${m[3]})`); tolerance = m[4]; } else other.push(reason);
  }
  const lines = [...other];
  if (worse.length) lines.push(`worse than the published iteration by more than ${tolerance}: ${worse.join(", ")}`);
  return el("td", { class: "gate" }, "refused:", el("ul", { class: "gate-reasons" }, lines.map((t) => el("li", { text: t }))));
}

// The reason column, without repeating the gate's reasons (a rejected run's reason quotes them).
function reasonText(run) {
  if (run.error && run.error.message) return run.error.message;
  if (run.status === "rejected" && run.gate) return "the published iteration stays";
  return run.reason || "";
}

function runsTable(runs) {
  const rows = runs.map((run) => el("tr", { "data-run-id": run.runId, class: run.status },
    el("td", { text: run.runId }), el("td", { text: run.trigger }),
    el("td", {}, el("span", { class: `badge ${run.status}`, text: run.status })),
    el("td", { text: run.step }), el("td", { text: run.createdAt }), el("td", { text: timings(run) }),
    el("td", { text: syncCounts(run.sync) }),
    el("td", { text: run.iteration ? run.iteration.name : "" }),
    metricCells(run.metrics),
    gateCell(run),
    el("td", { text: reasonText(run) })));
  return scrollBox("Retrain runs", el("table", { class: "table", id: "runs" },
    el("thead", {}, el("tr", {}, ["Run", "Trigger", "Status", "Step", "Created", "Timings", "Sync", "Iteration",
      "Precision", "Recall", "AP", "Gate", "Reason"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows)));
}

export async function render(main, { config, status }) {
  const live = el("div", { class: "live", id: "run-live" });
  const content = el("div");
  const said = el("p", { class: "message", id: "iteration-message", role: "status" });
  const button = el("button", { type: "button", id: "retrain-now", text: "Retrain now" });
  const importButton = el("button", { type: "button", class: "quiet", id: "import-now", text: "Import from Custom Vision" });
  const slider = el("input", { type: "range", id: "threshold", min: "0.01", max: "0.99", step: "0.01",
    value: String(config.predictionThreshold) });
  const sliderValue = el("output", { for: "threshold", id: "threshold-value", text: String(config.predictionThreshold) });
  let threshold = config.predictionThreshold;
  let stopped = false;
  let latest = null;

  function say(text, kind, ...extra) {
    said.className = `message ${kind}`;
    said.textContent = text;
    append(said, ...extra);
  }

  async function refresh() {
    const data = await api("runs", { threshold });
    latest = data.runs[0] || null;
    clear(content);
    if (data.projectProblem && data.projectProblem.code === "ProjectNotFound") {
      content.append(el("p", { class: "muted", id: "runs-first", text: "No model yet: add photos for each tag in the " +
        "Training set, then press Retrain now (or import the images of an existing Custom Vision project)." }));
    } else if (data.projectProblem) {
      content.append(el("p", { class: "message error", text: data.projectProblem.message }));
    }
    append(content,
      el("h3", { id: "iterations-title", text: `Iterations (metrics at threshold ${data.threshold})` }),
      data.iterations.length ? metricsChart(data.iterations) : null,
      data.iterations.length ? iterationsTable(data.iterations, { say, changed: refresh }) : null,
      comparison(data.iterations),
      el("h3", { text: "Retrain runs" }),
      data.runs.length ? runsTable(data.runs) : el("p", { class: "muted", text: "No retrain has run yet." }));
  }

  async function follow(runId) {
    while (!stopped) {
      const run = await app(`retrain/${encodeURIComponent(runId)}`);
      clear(live);
      append(live, el("strong", { text: `Run ${run.runId}: ` }),
        el("span", { class: `badge ${run.status}`, id: "run-live-status", text: run.status }),
        ` step ${run.step}; ${timings(run)}`,
        run.sync ? el("div", { text: `sync: ${syncCounts(run.sync)}` }) : null,
        run.reason || run.error ? el("div", { text: (run.error && run.error.message) || run.reason }) : null);
      if (TERMINAL.has(run.status)) return run;
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    return null;
  }

  async function followToTheEnd(runId) {
    button.disabled = importButton.disabled = true;
    try {
      const run = await follow(runId);
      if (run) {
        status(`Run ${run.runId} ${run.status}.`, run.status === "succeeded" ? "ok" : run.status === "failed" ? "error" : "info");
        await refresh();
      }
    } finally {
      button.disabled = importButton.disabled = false;
    }
  }

  function starter(path, what) {
    return async () => {
      button.disabled = importButton.disabled = true;
      try {
        const started = await app(path, { method: "POST" });
        status(started.started ? `${what} ${started.runId} started.` : `${what} ${started.runId} is already running: following it.`);
        await followToTheEnd(started.runId);
      } catch (error) {
        status(error.message, "error");
        button.disabled = importButton.disabled = false;
      }
    };
  }

  button.addEventListener("click", starter("retrain", "Retrain"));
  importButton.addEventListener("click", starter("training/import", "Import"));
  slider.addEventListener("input", () => { sliderValue.textContent = Number(slider.value).toFixed(2); });
  slider.addEventListener("change", () => {
    threshold = Number(slider.value);
    refresh().catch((error) => status(error.message, "error"));
  });
  append(main, el("h2", { text: "Runs" }), el("div", { class: "actions" }, button, importButton), live,
    el("div", { class: "threshold" }, el("label", { for: "threshold", text: "Probability threshold" }), slider, sliderValue),
    said, content);
  await refresh();
  if (latest && !TERMINAL.has(latest.status)) {  // a run under way (started elsewhere): follow it too
    followToTheEnd(latest.runId).catch((error) => status(error.message, "error"));
  }
  return () => { stopped = true; };
}
