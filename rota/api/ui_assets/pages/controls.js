// Intake and dispatch controls: block submits (all, a queue, a tenant) and pause handing
// out a queue's tasks, each with a reason the audit log keeps.
import {get, post} from "../api.js";
import {act, status} from "../actions.js";
import {field, h, input, replace, select, table, values, when} from "../dom.js";

export default {
  title: "Controls",
  async render(main, ctx) {
    const said = status();
    said.id = "action-status";
    const blocks = h("section", {id: "blocks"});
    const pauses = h("section", {id: "pauses"});
    const block = h("form", {class: "filters", id: "block", onsubmit: (e) => {
      e.preventDefault();
      const v = values(e.target);
      const body = {reason: v.reason || ""};
      if (v.scope !== "all") body[v.scope] = v.name || "";
      act(said, "Block intake", () => post("/admin/intake/block", body), ctx.refresh);
    }}, field("scope", select("scope", [["all", "all intake"], ["queue", "a queue"], ["tenant", "a tenant"]])),
    field("queue or tenant", input("name")), field("reason", input("reason", "", {required: true})),
    h("button", {type: "submit"}, "Block intake"));
    const pause = h("form", {class: "filters", id: "pause", onsubmit: (e) => {
      e.preventDefault();
      const v = values(e.target);
      act(said, "Pause dispatch", () => post("/admin/dispatch/pause", {queue: v.queue || "", reason: v.reason || ""}), ctx.refresh);
    }}, field("queue", input("queue", "", {required: true})), field("reason", input("reason", "", {required: true})),
    h("button", {type: "submit"}, "Pause dispatch"));
    main.append(h("h1", {}, "Controls"), said,
      h("h2", {}, "Intake"), h("p", {}, "A block refuses new submits (503 with its reason); tasks already in go on."),
      blocks, block,
      h("h2", {}, "Dispatch"), h("p", {}, "A paused queue takes submits but hands none of its tasks to workers."),
      pauses, pause);

    ctx.refresh = async () => {
      const [intake, dispatch] = await Promise.allSettled([get("/admin/intake"), get("/admin/dispatch")]);
      if (!ctx.live()) return;
      const shown = (result, render) => result.status === "fulfilled" ? render(result.value)
        : h("p", {class: "error"}, result.reason.message);
      replace(blocks, shown(intake, (a) => table([
        {label: "scope", cell: (b) => (b.name ? `${b.scope} ${b.name}` : b.scope)},
        {label: "reason", cell: (b) => b.reason},
        {label: "since", cell: (b) => when(b.since)},
        {label: "by", wide: true, cell: (b) => b.by},
        {label: "", cell: (b) => h("button", {type: "button", onclick: () => act(said, "Resume intake",
          () => post("/admin/intake/resume", b.scope === "all" ? {} : {[b.scope]: b.name}), ctx.refresh)}, "Resume")},
      ], a.blocks, "intake is open")));
      replace(pauses, shown(dispatch, (a) => table([
        {label: "queue", cell: (p) => p.queue},
        {label: "reason", cell: (p) => p.reason},
        {label: "since", cell: (p) => when(p.since)},
        {label: "by", wide: true, cell: (p) => p.by},
        {label: "", cell: (p) => h("button", {type: "button", onclick: () => act(said, "Resume dispatch",
          () => post("/admin/dispatch/resume", {queue: p.queue}), ctx.refresh)}, "Resume")},
      ], a.paused, "no queue is paused")));
    };
    await ctx.refresh();
  },
};
