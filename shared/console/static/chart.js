// A plain SVG line chart of precision, recall and AP across iterations: one point per iteration and
// metric. The value axis starts just below the lowest value (drops of 0.02 stay visible) and the three
// series are drawn side by side around each iteration, so equal values never hide each other.
import { el, svg } from "./dom.js";

export const SERIES = [
  ["precision", "Precision"],
  ["recall", "Recall"],
  ["averagePrecision", "AP"],
];
const SPREAD = 7;  // px between the series' points of one iteration

function valueRange(points) {
  const values = points.flatMap((it) => SERIES.map(([key]) => it.metrics[key])).filter((v) => typeof v === "number");
  const low = values.length ? Math.min(...values) : 0;
  const bottom = Math.max(0, Math.floor((low - 0.02) * 20) / 20);  // a multiple of 0.05 under the lowest
  return [Math.min(bottom, 0.95), 1];
}

export function metricsChart(iterations) {
  const points = iterations.filter((it) => it.metrics);
  const width = 640, height = 240, left = 44, right = 24, top = 16, bottom = 36;
  const plotW = width - left - right - 2 * SPREAD, plotH = height - top - bottom;
  const [low, high] = valueRange(points);
  const x = (i) => left + SPREAD + (points.length > 1 ? (plotW * i) / (points.length - 1) : plotW / 2);
  const y = (v) => top + plotH * (1 - (v - low) / (high - low));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", id: "metrics-chart",
    role: "img", "aria-label": `Precision, recall and AP per iteration, axis from ${low.toFixed(2)} to 1` });
  const ticks = 4;
  for (let t = 0; t <= ticks; t += 1) {
    const v = low + ((high - low) * t) / ticks;
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end", text: v.toFixed(high - low < 0.2 ? 3 : 2) }));
  }
  points.forEach((it, i) => {
    const anchor = points.length > 1 && i === 0 ? "start" : points.length > 1 && i === points.length - 1 ? "end" : "middle";
    chart.append(svg("text", { x: x(i), y: height - 12, class: "axis", "text-anchor": anchor, text: it.name }));
  });
  SERIES.forEach(([key, label], s) => {
    const dx = (s - 1) * SPREAD;
    const values = points.map((it, i) => [x(i) + dx, typeof it.metrics[key] === "number" ? y(it.metrics[key]) : null]);
    const drawn = values.filter(([, v]) => v !== null);
    if (drawn.length > 1) {
      chart.append(svg("polyline", { class: `series ${key}`, points: drawn.map(([a, b]) => `${a},${b}`).join(" ") }));
    }
    values.forEach(([a, b], i) => {
      if (b === null) return;
      chart.append(svg("circle", { cx: a, cy: b, r: 4, class: `point ${key}`, "data-iteration": points[i].id },
        svg("title", { text: `${points[i].name}: ${label} ${points[i].metrics[key].toFixed(3)}` })));
    });
  });
  const legend = el("ul", { class: "chart-legend" },
    SERIES.map(([key, label]) => el("li", { class: key, text: label })));
  return el("figure", { class: "chart-box" }, chart, legend);
}
