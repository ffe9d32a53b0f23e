// Tasks: filters, search by id, and pages the server bounds (its cursor, 50 a page).
import {get, query} from "../api.js";
import {badge, field, h, input, replace, select, table, taskLink, values, when} from "../dom.js";

const PAGE = 50;
export const STATE_OPTIONS = [["", "any state"], ...["scheduled", "queued", "running", "succeeded",
  "failed", "canceled"].map((s) => [s, s])];
const FILTERS = ["queue", "state", "kind", "tenant", "job_id"];

export function taskTable(tasks, empty) {
  return table([
    {label: "id", cell: (t) => taskLink(t.id)},
    {label: "state", cell: (t) => badge(t.state)},
    {label: "queue", cell: (t) => t.queue},
    {label: "kind", cell: (t) => t.kind},
    {label: "priority", cell: (t) => t.priority_name ? `${t.priority} (${t.priority_name})` : String(t.priority)},
    {label: "attempt", wide: true, cell: (t) => `${t.attempt}/${t.max_attempts}`},
    {label: "tenant", wide: true, cell: (t) => t.tenant ?? "—"},
    {label: "created", wide: true, cell: (t) => when(t.created_at)},
  ], tasks, empty);
}

export default {
  title: "Tasks",
  async render(main, ctx) {
    const q = ctx.query;
    const filters = Object.fromEntries(FILTERS.map((k) => [k, q.get(k) || ""]));
    const cursors = [null];  // the cursor of each page seen, to go back
    let page = 0;
    const list = h("section", {id: "task-list"});
    const pager = h("div", {class: "pager"});
    const search = h("form", {class: "inline", id: "search", onsubmit: (e) => {
      e.preventDefault();
      const id = new FormData(e.target).get("id").trim();
      if (id) {
        history.pushState(null, "", `/ui/tasks/${encodeURIComponent(id)}`);
        dispatchEvent(new PopStateEvent("popstate"));
      }
    }}, field("task id", input("id", "", {placeholder: "exact id"})), h("button", {type: "submit"}, "Open"));
    const form = h("form", {class: "filters", id: "filters", onsubmit: (e) => {
      e.preventDefault();
      history.pushState(null, "", `/ui/tasks${query(values(e.target))}`);
      dispatchEvent(new PopStateEvent("popstate"));
    }},
    field("queue", input("queue", filters.queue)),
    field("state", select("state", STATE_OPTIONS, filters.state)),
    field("kind", input("kind", filters.kind)),
    field("tenant", input("tenant", filters.tenant)),
    field("job", input("job_id", filters.job_id)),
    h("button", {type: "submit"}, "Filter"));
    main.append(h("h1", {}, "Tasks"), search, form, list, pager);

    const load = async () => {
      const answer = await get(`/tasks${query({...filters, cursor: cursors[page], limit: PAGE})}`);
      if (!ctx.live()) return;
      cursors[page + 1] = answer.next_cursor;
      replace(list, taskTable(answer.tasks, "no task matches"));
      replace(pager,
        h("button", {type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); }}, "← Newer"),
        h("span", {}, ` page ${page + 1} `),
        h("button", {type: "button", id: "older", disabled: answer.next_cursor === null,
          onclick: () => { page += 1; load(); }}, "Older →"));
    };
    ctx.refresh = () => (page === 0 ? load() : Promise.resolve());
    await load();
  },
};
