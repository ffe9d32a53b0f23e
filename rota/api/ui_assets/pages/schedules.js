// Schedules: each one's rule, next and last run; pause, resume, delete (confirmed).
import {del, get, patch} from "../api.js";
import {act, confirmed, status} from "../actions.js";
import {h, replace, table, taskLink, when} from "../dom.js";

function rule(s) {
  if (s.cron) return `cron ${s.cron}`;
  if (s.rrule) return `rrule ${s.rrule}`;
  if (s.interval !== null) return `every ${s.interval} s`;
  return `at ${s.at}`;
}

export default {
  title: "Schedules",
  async render(main, ctx) {
    const said = status();
    said.id = "action-status";
    const list = h("section", {id: "schedules"});
    main.append(h("h1", {}, "Schedules"), said, list);
    const path = (s) => `/schedules/${encodeURIComponent(s.id)}`;
    ctx.refresh = async () => {
      const answer = await get("/schedules");
      if (!ctx.live()) return;
      replace(list, table([
        {label: "name", cell: (s) => s.name},
        {label: "task", cell: (s) => `${s.task.kind ?? "?"} → ${s.task.queue ?? "default"}`},
        {label: "rule", cell: (s) => `${rule(s)} (${s.timezone})`},
        {label: "state", cell: (s) => (!s.enabled ? "disabled" : s.paused ? "paused" : "active")},
        {label: "next run", cell: (s) => when(s.next_run_at)},
        {label: "last run", wide: true, cell: (s) => (s.last_task_id
          ? h("span", {}, when(s.last_run_at), " ", taskLink(s.last_task_id)) : "—")},
        {label: "", cell: (s) => h("span", {class: "row-actions"},
          h("button", {type: "button", onclick: () => act(said, s.paused ? "Resume" : "Pause",
            () => patch(path(s), {paused: !s.paused}), ctx.refresh)}, s.paused ? "Resume" : "Pause"),
          confirmed("Delete", () => `Delete schedule ${s.name}?`,
            () => act(said, "Delete", () => del(path(s)), ctx.refresh)))},
      ], answer.schedules, "no schedules"));
    };
    await ctx.refresh();
  },
};
