// Workers heard from lately: what they run, what they can run, when they last called.
import {get} from "../api.js";
import {h, replace, table, taskLink, when} from "../dom.js";

export default {
  title: "Workers",
  async render(main, ctx) {
    const list = h("section", {id: "workers"});
    main.append(h("h1", {}, "Workers"), list);
    ctx.refresh = async () => {
      const answer = await get("/workers");
      if (!ctx.live()) return;
      replace(list, table([
        {label: "name", cell: (w) => h("span", {title: w.id}, w.name)},
        {label: "host", wide: true, cell: (w) => w.host},
        {label: "queues", cell: (w) => (w.queues ? w.queues.join(", ") : "every queue")},
        {label: "capabilities", cell: (w) => (w.capabilities.length ? w.capabilities.join(", ") : "—")},
        {label: "running", cell: (w) => w.running.length
          ? h("ul", {class: "plain"}, w.running.map((t) => h("li", {}, taskLink(t.id), ` ${t.kind}`)))
          : `0 of ${w.concurrency}`},
        {label: "last contact", cell: (w) => when(w.last_seen_at)},
        {label: "version", wide: true, cell: (w) => w.version},
      ], answer.workers, "no worker has called lately"));
    };
    await ctx.refresh();
  },
};
