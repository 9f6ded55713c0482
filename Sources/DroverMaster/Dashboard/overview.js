// The overview: each queue's jobs per state and its rates, live, and a chart of the last
// fifteen minutes drawn from the throughput samples the masters keep in Redis, so every
// master's dashboard shows the same history, from before this page was opened too.
"use strict";

const RATE_SERIES = [
  { key: "completed", label: "completed", colour: "#1f8a4c" },
  { key: "failed", label: "failed attempts", colour: "#d35400" },
  { key: "deadLettered", label: "dead-lettered", colour: "#c0392b" },
];

/// Per-second rates between consecutive samples of the chosen queues (all when none is
/// chosen), summed by second: [{ at, completed, failed, deadLettered }], oldest first.
function rates(queueName) {
  const bySecond = new Map();
  for (const [queue, samples] of Object.entries(live.throughput)) {
    if (queueName && queue !== queueName) continue;
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i];
      const seconds = (b.at - a.at) / 1000;
      const point = bySecond.get(b.at) || { at: b.at, completed: 0, failed: 0, deadLettered: 0 };
      // A counter only grows; a drop means the stats were reset, not negative work.
      for (const { key } of RATE_SERIES) point[key] += Math.max(0, b[key] - a[key]) / seconds;
      bySecond.set(b.at, point);
    }
  }
  return [...bySecond.values()].sort((a, b) => a.at - b.at);
}

/// A queue's rates over its last ten seconds of samples, for the table.
function recentRate(queue, key) {
  const samples = live.throughput[queue] || [];
  if (samples.length < 2) return "—";
  const last = samples[samples.length - 1];
  const first = samples.find((s) => s.at >= last.at - 10000) || samples[0];
  if (first === last) return "—";
  return (Math.max(0, last[key] - first[key]) / ((last.at - first.at) / 1000)).toFixed(1);
}

function queueTable(queues) {
  const head = el("tr", {}, el("th", {}, "Queue"), el("th", {}, "State"), STATES.map((s) => el("th", { class: "num" }, s.replace("_", " "))),
    el("th", { class: "num", title: "completed per second, last 10 s" }, "done/s"),
    el("th", { class: "num", title: "failed attempts per second, last 10 s" }, "failed/s"), el("th", {}, ""));
  const rows = queues.map((q) =>
    el("tr", { "data-queue": q.queue },
      el("td", {}, link("#/jobs?queue=" + encodeURIComponent(q.queue) + "&state=QUEUED", q.queue)),
      el("td", {}, q.paused ? badge("PAUSED") : "running"),
      STATES.map((s) => el("td", { class: "num", "data-state": s },
        link("#/jobs?queue=" + encodeURIComponent(q.queue) + "&state=" + s, String(q[COUNT_FIELDS[s]] || 0)))),
      el("td", { class: "num", "data-rate": "completed" }, recentRate(q.queue, "completed")),
      el("td", { class: "num", "data-rate": "failed" }, recentRate(q.queue, "failed")),
      el("td", {}, q.paused
        ? actionButton("Resume", () => act("Resumed " + q.queue, "POST", "/v1/queues/" + encodeURIComponent(q.queue) + "/resume"))
        : actionButton("Pause", () => act("Paused " + q.queue, "POST", "/v1/queues/" + encodeURIComponent(q.queue) + "/pause")))));
  return el("div", { class: "wide" }, el("table", { id: "queues" }, el("thead", {}, head), el("tbody", {}, rows)));
}

/// The last fifteen minutes, time running left to right, one line per series.
function drawRates(canvas, queueName) {
  const context = canvas.getContext("2d");
  const width = (canvas.width = canvas.clientWidth);
  const height = (canvas.height = canvas.clientHeight);
  context.clearRect(0, 0, width, height);
  const points = rates(queueName);
  const end = points.length ? Math.max(Date.now(), points[points.length - 1].at) : Date.now();
  const start = end - live.windowMs;
  const shown = points.filter((p) => p.at >= start);
  const top = Math.max(1, ...shown.flatMap((p) => RATE_SERIES.map(({ key }) => p[key])));
  const x = (at) => 40 + ((at - start) / live.windowMs) * (width - 50);
  const y = (value) => height - 18 - (value / top) * (height - 40);
  context.strokeStyle = "#dde1e6";
  context.fillStyle = "#65707b";
  context.font = "11px system-ui, sans-serif";
  for (const fraction of [0, 0.5, 1]) {
    context.beginPath();
    context.moveTo(40, y(top * fraction));
    context.lineTo(width - 10, y(top * fraction));
    context.stroke();
    context.fillText((top * fraction).toFixed(top * fraction >= 10 ? 0 : 1), 4, y(top * fraction) + 4);
  }
  for (const minutes of [15, 10, 5, 0]) {
    context.fillText(minutes ? minutes + " min ago" : "now", x(end - minutes * 60000) - (minutes ? 22 : 18), height - 4);
  }
  for (const { key, colour } of RATE_SERIES) {
    context.strokeStyle = colour;
    context.lineWidth = 1.5;
    context.beginPath();
    shown.forEach((p, i) => (i === 0 ? context.moveTo(x(p.at), y(p[key])) : context.lineTo(x(p.at), y(p[key]))));
    context.stroke();
  }
  let legend = 50;
  for (const { label, colour } of RATE_SERIES) {
    context.fillStyle = colour;
    context.fillText("■ " + label, legend, 12);
    legend += context.measureText("■ " + label).width + 16;
  }
  context.fillStyle = "#65707b";
  context.fillText("jobs per second" + (shown.length ? "" : " (no samples yet: a master samples once a second)"), legend, 12);
}

async function overviewPage() {
  const table = el("div", {});
  const canvas = el("canvas", { id: "rates" });
  let chosen = "";
  const picker = el("select", { id: "chart-queue", onchange: (e) => { chosen = e.target.value; drawRates(canvas, chosen); } });
  // Counts redraw the table; samples (once a second) its rate columns and the chart.
  const render = (what) => {
    if (what.has("queues") || what.has("throughput")) table.replaceChildren(queueTable(live.queues));
    const names = live.queues.map((q) => q.queue);
    if (picker.options.length !== names.length + 1) {
      picker.replaceChildren(el("option", { value: "" }, "all queues"), names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
    }
    if (what.has("throughput")) drawRates(canvas, chosen);
  };
  if (live.queues.length === 0) live.queues = (await api("GET", "/v1/queues")).queues;
  show(el("h1", {}, "Overview"), el("h2", {}, "Queues"), table,
    el("h2", {}, "Throughput, last 15 minutes"), el("div", { class: "toolbar" }, picker), canvas);
  render(new Set(["queues", "throughput"]));
  renderLive = render;
}
