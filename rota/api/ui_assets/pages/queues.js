// Queues: the list, and one queue's settings with a form that changes only what was edited.
import {get, patch} from "../api.js";
import {act, status} from "../actions.js";
import {field, h, input, json, link, replace, select, table} from "../dom.js";

// [name, label, kind]: kind "int" | "float" | a list of choices
const SETTINGS = [
  ["max_size", "max size (waiting tasks)", "int"],
  ["concurrency_limit", "concurrency limit", "int"],
  ["tenant_concurrency_limit", "per-tenant concurrency", "int"],
  ["rate_limit", "rate limit (starts/s)", "float"],
  ["max_attempts", "max attempts", "int"],
  ["timeout", "timeout (s)", "float"],
  ["retention", "retention (s)", "float"],
  ["fairness", "fairness", ["off", "round_robin", "weighted"]],
  ["on_conflict", "on conflict", ["reject", "existing", "replace", "update_payload", "raise_priority", "update_priority", "update"]],
];

async function one(main, ctx, name) {
  const path = `/queues/${encodeURIComponent(name)}`;
  const said = status();
  said.id = "action-status";
  const facts = h("section", {id: "queue"});
  let current = null;
  const form = h("form", {class: "settings", id: "queue-settings", onsubmit: (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    const changes = {};
    for (const [key, , kind] of SETTINGS) {
      const raw = String(data.get(key) ?? "").trim();
      const value = raw === "" ? null : kind === "int" ? Number.parseInt(raw, 10)
        : kind === "float" ? Number(raw) : raw;
      if (value !== (current[key] ?? null)) changes[key] = value;
    }
    act(said, "Save", () => patch(path, changes), load);
  }});
  const pause = h("div", {class: "actions"});
  main.append(h("h1", {}, "Queue ", h("code", {}, name)), pause, said, facts,
    h("h2", {}, "Settings"), h("p", {}, "Empty resets a setting to its default."), form);

  async function load() {
    current = await get(path);
    if (!ctx.live()) return;
    replace(facts, h("dl", {class: "facts"},
      h("dt", {}, "paused"), h("dd", {id: "paused"}, current.paused ? "yes" : "no"),
      h("dt", {}, "waiting"), h("dd", {}, String(current.waiting)),
      h("dt", {}, "unroutable"), h("dd", {}, current.unroutable === null ? "—" : String(current.unroutable)),
      h("dt", {}, "aging"), h("dd", {}, current.aging ? `${current.aging.rate}/min up to ${current.aging.cap}` : "off"),
      h("dt", {}, "weights"), h("dd", {}, Object.keys(current.weights).length ? json(current.weights) : "—"),
      h("dt", {}, "retry"), h("dd", {}, current.retry ? json(current.retry) : "default")));
    replace(pause, current.paused
      ? h("button", {type: "button", id: "resume", onclick: () =>
        act(said, "Resume", () => patch(path, {paused: false}), load)}, "Resume dispatch")
      : h("button", {type: "button", id: "pause", onclick: () =>
        act(said, "Pause", () => patch(path, {paused: true}), load)}, "Pause dispatch"));
    if (!form.contains(document.activeElement)) {
      replace(form, SETTINGS.map(([key, label, kind]) => field(label, Array.isArray(kind)
        ? select(key, kind.map((v) => [v, v]), current[key])
        : input(key, current[key] ?? "", kind ? {inputmode: "decimal"} : {}))),
      h("button", {type: "submit"}, "Save"));
    }
  }
  ctx.refresh = load;
  await load();
}

export default {
  title: "Queues",
  async render(main, ctx) {
    if (ctx.params.name) return one(main, ctx, ctx.params.name);
    const list = h("section", {id: "queue-list"});
    main.append(h("h1", {}, "Queues"), list);
    ctx.refresh = async () => {
      const answer = await get("/queues");
      if (!ctx.live()) return;
      const names = answer.queues.map((q) => q.name).sort();
      const settings = await Promise.all(names.slice(0, 50).map((n) => get(`/queues/${encodeURIComponent(n)}`)));
      if (!ctx.live()) return;
      replace(list, table([
        {label: "queue", cell: (q) => link(`/ui/queues/${encodeURIComponent(q.name)}`, q.name)},
        {label: "paused", cell: (q) => (q.paused ? "paused" : "—")},
        {label: "waiting", cell: (q) => String(q.waiting)},
        {label: "max size", cell: (q) => q.max_size ?? "—"},
        {label: "concurrency", wide: true, cell: (q) => q.concurrency_limit ?? "—"},
        {label: "rate", wide: true, cell: (q) => q.rate_limit ?? "—"},
        {label: "fairness", wide: true, cell: (q) => q.fairness},
      ], settings, "no queues yet"));
    };
    await ctx.refresh();
  },
};
