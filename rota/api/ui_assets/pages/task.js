// One task: its fields, payload, result, error (with the traceback the worker sent) and
// history; cancel, retry and priority for those whose token may.
import {get, post} from "../api.js";
import {act, status} from "../actions.js";
import {badge, field, h, input, json, replace, table, when} from "../dom.js";

function facts(t) {
  const rows = [
    ["state", badge(t.state)], ["queue", t.queue], ["kind", t.kind],
    ["priority", t.priority_name ? `${t.priority} (${t.priority_name})` : String(t.priority)],
    ["attempt", `${t.attempt} of ${t.max_attempts}`], ["tenant", t.tenant ?? "—"],
    ["job", t.job_id ?? "—"], ["worker", t.worker_id ?? "—"],
    ["created", when(t.created_at)], ["run at", when(t.run_at)], ["started", when(t.started_at)],
    ["finished", when(t.finished_at)], ["timeout", t.timeout === null ? "—" : `${t.timeout} s`],
    ["requires", t.requires.length ? t.requires.join(", ") : "—"],
    ["position", t.position ? `${t.position.in_queue} in queue, ${t.position.in_priority} at its priority` : "—"],
    ["cancel requested", t.cancel_requested ? "yes" : "no"],
    ["schedule", t.schedule_id ?? "—"],
  ];
  return h("dl", {class: "facts"}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export default {
  title: "Task",
  async render(main, ctx) {
    const id = ctx.params.id;
    const path = `/tasks/${encodeURIComponent(id)}`;
    const said = status();
    said.id = "action-status";
    const body = h("div", {id: "task"});
    const actions = h("div", {class: "actions", id: "task-actions"},
      h("button", {type: "button", id: "cancel", onclick: () =>
        act(said, "Cancel", () => post(`${path}/cancel`), load)}, "Cancel"),
      h("button", {type: "button", id: "retry", onclick: () =>
        act(said, "Retry", () => post(`${path}/retry`), load)}, "Retry"),
      h("form", {class: "inline", onsubmit: (e) => {
        e.preventDefault();
        const raw = new FormData(e.target).get("priority").trim();
        const priority = /^\d+$/.test(raw) ? Number(raw) : raw;
        act(said, "Priority", () => post(`${path}/priority`, {priority}), load);
      }}, field("priority", input("priority", "", {placeholder: "high, mid, low or 0-100", size: 12})),
      h("button", {type: "submit"}, "Set")));
    main.append(h("h1", {}, "Task ", h("code", {}, id)), actions, said, body);

    async function load() {
      const [t, events] = await Promise.all([get(path), get(`${path}/events`)]);
      if (!ctx.live()) return;
      replace(body,
        facts(t),
        h("h2", {}, "Payload"), json(t.payload),
        h("h2", {}, "Result"), t.result === null ? h("p", {class: "empty"}, "—") : json(t.result),
        h("h2", {}, "Error"), t.error ? h("pre", {class: "error-text", id: "error"}, t.error) : h("p", {class: "empty"}, "—"),
        t.progress !== null ? [h("h2", {}, "Progress"), json(t.progress)] : null,
        h("h2", {}, "History"),
        table([
          {label: "at", cell: (e) => when(e.at)},
          {label: "event", cell: (e) => e.kind},
          {label: "from → to", cell: (e) => `${e.from_state ?? "—"} → ${e.to_state ?? "—"}`},
          {label: "actor", wide: true, cell: (e) => e.actor ?? e.worker_id ?? "—"},
          {label: "message", cell: (e) => e.message ?? ""},
        ], events.events, "no events"));
      return t;
    }
    ctx.refresh = load;
    await load();
  },
};
