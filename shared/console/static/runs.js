// Runs: the retrain history, every iteration's precision / recall / AP (overall and per tag) with a chart,
// and "Retrain now", which follows the run it started until it ends.
import { api, app } from "./api.js";
import { append, clear, el, fixed } from "./dom.js";
import { SERIES, metricsChart } from "./chart.js";

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

function gateText(run) {
  const gate = run.gate;
  if (!gate) return "";
  return gate.passed ? "passed" : `refused: ${gate.reasons.join("; ")}`;
}

function metricCells(metrics) {
  return SERIES.map(([key]) => el("td", { class: "num", "data-metric": key,
    "data-value": metrics && typeof metrics[key] === "number" ? metrics[key] : "", text: fixed(metrics && metrics[key]) }));
}

// Expected calibration error: how far stated probabilities are from how often they are right (lower is
// better); only localvision reports it.
function calibrationCell(metrics) {
  const value = metrics && metrics.expectedCalibrationError;
  return el("td", { class: "num", "data-metric": "expectedCalibrationError",
    "data-value": typeof value === "number" ? value : "", text: fixed(value) });
}

function iterationsTable(iterations) {
  const rows = iterations.map((it) => {
    const perTag = el("ul", { class: "per-tag" }, ((it.metrics && it.metrics.perTag) || []).map((t) =>
      el("li", {}, el("span", { class: "tag", text: t.tagName }),
        ` P ${fixed(t.precision)} · R ${fixed(t.recall)} · AP ${fixed(t.averagePrecision)}`)));
    return el("tr", { "data-iteration-id": it.id },
      el("td", { text: it.name }), el("td", { text: it.status }),
      el("td", { text: it.trainedAt || it.created || "" }),
      el("td", { text: it.publishedName || "" }),
      metricCells(it.metrics), calibrationCell(it.metrics), el("td", {}, perTag));
  });
  return el("table", { class: "table", id: "iterations" },
    el("thead", {}, el("tr", {}, ["Iteration", "Status", "Trained", "Published as", "Precision", "Recall", "AP", "ECE", "Per tag"]
      .map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}

function runsTable(runs) {
  const rows = runs.map((run) => el("tr", { "data-run-id": run.runId, class: run.status },
    el("td", { text: run.runId }), el("td", { text: run.trigger }),
    el("td", {}, el("span", { class: `badge ${run.status}`, text: run.status })),
    el("td", { text: run.step }), el("td", { text: run.createdAt }), el("td", { text: timings(run) }),
    el("td", { text: syncCounts(run.sync) }),
    el("td", { text: run.iteration ? run.iteration.name : "" }),
    metricCells(run.metrics),
    el("td", { text: gateText(run) }),
    el("td", { text: (run.error && run.error.message) || run.reason || "" })));
  return el("table", { class: "table", id: "runs" },
    el("thead", {}, el("tr", {}, ["Run", "Trigger", "Status", "Step", "Created", "Timings", "Sync", "Iteration",
      "Precision", "Recall", "AP", "Gate", "Reason"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
}

export async function render(main, { status }) {
  const live = el("div", { class: "live", id: "run-live" });
  const content = el("div");
  const button = el("button", { type: "button", id: "retrain-now", text: "Retrain now" });
  let stopped = false;

  let latest = null;

  async function refresh() {
    const data = await api("runs");
    latest = data.runs[0] || null;
    clear(content);
    if (data.projectProblem) content.append(el("p", { class: "message", text: data.projectProblem.message }));
    append(content,
      el("h3", { text: `Iterations (metrics at threshold ${data.threshold})` }),
      metricsChart(data.iterations), iterationsTable(data.iterations),
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
    button.disabled = true;
    try {
      const run = await follow(runId);
      if (run) { status(`Retrain ${run.runId} ${run.status}.`); await refresh(); }
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const started = await app("retrain", { method: "POST" });
      status(started.started ? `Retrain ${started.runId} started.` : `Retrain ${started.runId} is already running: following it.`);
      await followToTheEnd(started.runId);
    } catch (error) {
      status(error.message, "error");
      button.disabled = false;
    }
  });
  append(main, el("h2", { text: "Runs" }), el("div", { class: "actions" }, button), live, content);
  await refresh();
  if (latest && !TERMINAL.has(latest.status)) {  // a run under way (started elsewhere): follow it too
    followToTheEnd(latest.runId).catch((error) => status(error.message, "error"));
  }
  return () => { stopped = true; };
}
