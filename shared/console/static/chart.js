// A plain SVG line chart of precision, recall and AP across iterations: one point per iteration.
import { el, svg } from "./dom.js";

export const SERIES = [
  ["precision", "Precision"],
  ["recall", "Recall"],
  ["averagePrecision", "AP"],
];

export function metricsChart(iterations) {
  const points = iterations.filter((it) => it.metrics);
  const width = 640, height = 240, left = 44, right = 16, top = 16, bottom = 36;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (i) => left + (points.length > 1 ? (plotW * i) / (points.length - 1) : plotW / 2);
  const y = (v) => top + plotH * (1 - v);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", id: "metrics-chart",
    role: "img", "aria-label": "Precision, recall and AP per iteration" });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end", text: v.toFixed(2) }));
  }
  points.forEach((it, i) => {
    const anchor = points.length > 1 && i === 0 ? "start" : points.length > 1 && i === points.length - 1 ? "end" : "middle";
    chart.append(svg("text", { x: x(i), y: height - 12, class: "axis", "text-anchor": anchor, text: it.name }));
  });
  for (const [key, label] of SERIES) {
    const values = points.map((it, i) => [x(i), typeof it.metrics[key] === "number" ? y(it.metrics[key]) : null]);
    const drawn = values.filter(([, v]) => v !== null);
    if (drawn.length > 1) {
      chart.append(svg("polyline", { class: `series ${key}`, points: drawn.map(([a, b]) => `${a},${b}`).join(" ") }));
    }
    values.forEach(([a, b], i) => {
      if (b === null) return;
      chart.append(svg("circle", { cx: a, cy: b, r: 4, class: `point ${key}`, "data-iteration": points[i].id },
        svg("title", { text: `${points[i].name}: ${label} ${points[i].metrics[key].toFixed(3)}` })));
    });
  }
  const legend = el("ul", { class: "chart-legend" },
    SERIES.map(([key, label]) => el("li", { class: key, text: label })));
  return el("figure", { class: "chart-box" }, chart, legend);
}
