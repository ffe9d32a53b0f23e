// The audit log: operator actions, newest first, paged by the server's sequence.
import {get, query} from "../api.js";
import {field, h, input, json, replace, table, values, when} from "../dom.js";

export default {
  title: "Audit",
  async render(main, ctx) {
    let filter = {};
    const befores = [null];
    let page = 0;
    const list = h("section", {id: "audit"});
    const pager = h("div", {class: "pager"});
    const form = h("form", {class: "filters", onsubmit: (e) => {
      e.preventDefault();
      filter = values(e.target);
      page = 0;
      load();
    }}, field("action", input("action", "", {placeholder: "e.g. task.retry"})), field("actor", input("actor")),
    h("button", {type: "submit"}, "Filter"));
    main.append(h("h1", {}, "Audit log"), form, list, pager);

    async function load() {
      const answer = await get(`/audit${query({...filter, before: befores[page], limit: 50})}`);
      if (!ctx.live()) return;
      befores[page + 1] = answer.next_before;
      replace(list, table([
        {label: "at", cell: (e) => when(e.at)},
        {label: "actor", cell: (e) => e.actor},
        {label: "action", cell: (e) => e.action},
        {label: "target", cell: (e) => e.target ?? "—"},
        {label: "reason", wide: true, cell: (e) => e.reason ?? "—"},
        {label: "detail", wide: true, cell: (e) => (Object.keys(e.detail).length ? json(e.detail) : "—")},
      ], answer.entries, "no entries"));
      replace(pager,
        h("button", {type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); }}, "← Newer"),
        h("span", {}, ` page ${page + 1} `),
        h("button", {type: "button", disabled: answer.next_before === null,
          onclick: () => { page += 1; load(); }}, "Older →"));
    }
    ctx.refresh = () => (page === 0 ? load() : Promise.resolve());
    await load();
  },
};
