// Overview: totals, each queue's depth per state and per priority, and throughput over time.
import {get} from "../api.js";
import {h, link, replace, table} from "../dom.js";

const STATES = ["scheduled", "queued", "running", "succeeded", "failed", "canceled"];
// finished counts sampled at each poll; kept across navigation, this tab only
const samples = [];
const KEEP = 100;

function chart(points) {
  const width = 600, height = 120;
  if (points.length < 2) return h("p", {class: "empty"}, "collecting: a point every 3 s");
  const rates = points.slice(1).map((p, i) => ({
    at: p.at, rate: Math.max(0, p.done - points[i].done) / ((p.at - points[i].at) / 1000)}));
  const peak = Math.max(...rates.map((r) => r.rate));
  const top = Math.max(1, peak);
  const x = (i) => (i / Math.max(1, rates.length - 1)) * width;
  const y = (v) => height - (v / top) * (height - 10);
  const line = rates.map((r, i) => `${x(i).toFixed(1)},${y(r.rate).toFixed(1)}`).join(" ");
  const last = rates[rates.length - 1].rate;
  return h("figure", {class: "chart"},
    h("svg:svg", {viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img",
      "aria-label": "tasks finished per second"},
      h("svg:polyline", {points: line, fill: "none", stroke: "currentColor", "stroke-width": "2",
        "vector-effect": "non-scaling-stroke"})),
    h("figcaption", {}, `finished per second: now ${last.toFixed(1)}, peak ${peak.toFixed(1)}`,
      ` (last ${Math.round((rates[rates.length - 1].at - points[0].at) / 1000)} s)`));
}

function priorities(byPriority) {
  const entries = Object.entries(byPriority).sort((a, b) => Number(b[0]) - Number(a[0]));
  if (!entries.length) return "—";
  return h("span", {class: "chips"}, entries.map(([p, n]) => h("span", {class: "chip"}, `p${p}: ${n}`)));
}

export default {
  title: "Overview",
  async render(main, ctx) {
    const totals = h("section", {class: "cards", id: "totals"});
    const queues = h("section", {id: "queues"});
    const throughput = h("section", {id: "throughput"});
    main.append(h("h1", {}, "Overview"), totals,
      h("h2", {}, "Throughput"), throughput, h("h2", {}, "Queues"), queues);
    ctx.refresh = async () => {
      const [stats, overview] = await Promise.all([get("/stats"), get("/queues")]);
      if (!ctx.live()) return;
      samples.push({at: Date.now(), done: (stats.states.succeeded || 0) + (stats.states.failed || 0)});
      if (samples.length > KEEP) samples.shift();
      replace(totals,
        h("div", {class: "card"}, h("b", {}, String(stats.total)), "tasks"),
        STATES.map((s) => h("div", {class: `card s-${s}`}, h("b", {}, String(stats.states[s] || 0)), s)),
        stats.unroutable ? h("div", {class: "card warn"}, h("b", {}, String(stats.unroutable)), "unroutable") : null);
      replace(throughput, chart(samples));
      const rows = overview.queues.sort((a, b) => a.name.localeCompare(b.name));
      replace(queues, table([
        {label: "queue", cell: (q) => link(`/ui/queues/${encodeURIComponent(q.name)}`, q.name)},
        ...STATES.map((s) => ({label: s, wide: !["queued", "running", "failed"].includes(s),
          cell: (q) => String(q.states[s] || 0)})),
        {label: "queued by priority", cell: (q) => priorities(q.queued_by_priority)},
      ], rows, "no tasks yet"));
    };
    await ctx.refresh();
  },
};
