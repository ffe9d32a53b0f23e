// Dead letter: the failed tasks; retry or discard those a filter matches, after a
// confirmation that names the filter and how many are listed.
import {get, post, query} from "../api.js";
import {act, confirmed, status} from "../actions.js";
import {field, h, input, replace, values} from "../dom.js";
import {taskTable} from "./tasks.js";

const LIMIT = 100;

function describe(filter) {
  const parts = Object.entries(filter).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(", ") : "every failed task";
}

export default {
  title: "Dead letter",
  async render(main, ctx) {
    let filter = {};
    let shown = 0, more = false;
    const said = status();
    said.id = "action-status";
    const list = h("section", {id: "dead-list"});
    const form = h("form", {class: "filters", id: "dead-filter", onsubmit: (e) => {
      e.preventDefault();
      filter = values(e.target);
      load();
    }}, field("queue", input("queue")), field("kind", input("kind")), field("tenant", input("tenant")),
    field("job", input("job_id")), h("button", {type: "submit"}, "Filter"));
    const count = () => `${shown}${more ? "+" : ""} task(s) listed matching ${describe(filter)}`;
    const actions = h("div", {class: "actions"},
      confirmed("Retry matching", () => `Retry ${count()}?`,
        () => act(said, "Retry", () => post("/dead-letter/retry", {...filter}), load), {id: "retry-all"}),
      confirmed("Discard matching", () => `Delete ${count()}, with their history? This cannot be undone.`,
        () => act(said, "Discard", () => post("/dead-letter/discard", {...filter}), load),
        {id: "discard-all", class: "danger"}));
    main.append(h("h1", {}, "Dead letter"), h("p", {}, "Tasks that failed their last attempt."),
      form, actions, said, list);

    async function load() {
      const answer = await get(`/tasks${query({...filter, state: "failed", limit: LIMIT})}`);
      if (!ctx.live()) return;
      shown = answer.tasks.length;
      more = answer.next_cursor !== null;
      replace(list, taskTable(answer.tasks, "no failed task"),
        more ? h("p", {}, `The newest ${LIMIT} are shown; the actions reach up to 1,000 at a time.`) : null);
    }
    ctx.refresh = load;
    await load();
  },
};
