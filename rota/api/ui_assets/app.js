// The shell: login, navigation, routing in the browser, and polling for live updates.
import {ApiError, get, setToken, token, whenUnauthorized, api} from "./api.js";
import {h, replace} from "./dom.js";
import overview from "./pages/overview.js";
import tasks from "./pages/tasks.js";
import task from "./pages/task.js";
import workers from "./pages/workers.js";
import deadLetter from "./pages/deadletter.js";
import schedules from "./pages/schedules.js";
import queues from "./pages/queues.js";
import controls from "./pages/controls.js";
import audit from "./pages/audit.js";

const POLL_MS = 3000;

// [pattern, page, nav label or null]
const ROUTES = [
  [/^\/ui\/?$/, overview, "Overview"],
  [/^\/ui\/tasks\/?$/, tasks, "Tasks"],
  [/^\/ui\/tasks\/(?<id>[^/]+)$/, task, null],
  [/^\/ui\/workers\/?$/, workers, "Workers"],
  [/^\/ui\/dead-letter\/?$/, deadLetter, "Dead letter"],
  [/^\/ui\/schedules\/?$/, schedules, "Schedules"],
  [/^\/ui\/queues\/?$/, queues, "Queues"],
  [/^\/ui\/queues\/(?<name>[^/]+)$/, queues, null],
  [/^\/ui\/controls\/?$/, controls, "Controls"],
  [/^\/ui\/audit\/?$/, audit, "Audit"],
];
const NAV = [["/ui", "Overview"], ["/ui/tasks", "Tasks"], ["/ui/workers", "Workers"],
  ["/ui/dead-letter", "Dead letter"], ["/ui/schedules", "Schedules"], ["/ui/queues", "Queues"],
  ["/ui/controls", "Controls"], ["/ui/audit", "Audit"]];

const root = document.getElementById("app");
export const who = {role: null, tenantBound: false};
let generation = 0;
let timer = null;

whenUnauthorized((message) => {
  setToken(null);
  login(`Logged out: ${message}`);
});

// Who the token is: any read proves it; an operator-only read tells operators apart.
async function identify(secret) {
  const stats = await api("GET", "/stats", undefined, secret).catch((err) => {
    if (err.status === 403) return null;  // a producer: it may still read tasks
    throw err;
  });
  if (stats === null) await api("GET", "/tasks?limit=1", undefined, secret);
  let role = stats === null ? "producer" : "viewer";
  try {
    await api("GET", "/admin/intake", undefined, secret);
    role = "operator";
  } catch (err) {
    if (err.status !== 403) throw err;
  }
  return {role, tenantBound: stats !== null && stats.unroutable === null};
}

function login(notice) {
  stop();
  const secret = h("input", {type: "password", name: "token", id: "token", autocomplete: "off",
    placeholder: "rota_…", "aria-label": "token"});
  const status = h("p", {class: "error", role: "alert"}, notice || "");
  const form = h("form", {class: "login", onsubmit: async (event) => {
    event.preventDefault();
    const value = secret.value.trim();
    try {
      Object.assign(who, await identify(value || null));
    } catch (err) {
      replace(status, err instanceof ApiError ? err.message : String(err));
      return;
    }
    setToken(value);
    route();
  }},
  h("h1", {}, "rota"),
  h("p", {}, "Log in with an API token (a viewer token sees; an operator token acts). It is kept in this tab only."),
  secret, h("button", {type: "submit"}, "Log in"), status);
  replace(root, form);
  secret.focus();
}

function stop() {
  generation += 1;
  if (timer) clearInterval(timer);
  timer = null;
}

export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

function shell(active) {
  const nav = h("nav", {}, NAV.map(([path, label]) =>
    h("a", {href: path, "data-nav": "", class: path === active ? "active" : null}, label)));
  const role = `${who.role}${who.tenantBound ? " · one tenant" : ""}`;
  const header = h("header", {},
    h("a", {href: "/ui", "data-nav": "", class: "brand"}, "rota"),
    nav,
    h("span", {class: "who", id: "who"}, role),
    h("button", {class: "link", id: "logout", onclick: () => { setToken(null); login(); }}, "Log out"));
  const main = h("main", {});
  replace(root, header, main);
  return main;
}

async function route() {
  stop();
  const mine = generation;
  if (token() === null) return login();
  if (who.role === null) {
    try {
      Object.assign(who, await identify(token() || null));
    } catch (err) {
      return login(err.message);
    }
  }
  const path = location.pathname;
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) return navigate("/ui");
  const [pattern, page] = found;
  const params = Object.fromEntries(Object.entries(path.match(pattern).groups || {})
    .map(([k, v]) => [k, decodeURIComponent(v)]));
  const active = NAV.map(([p]) => p).filter((p) => path === p || path.startsWith(`${p}/`)).pop();
  const main = shell(active);
  const ctx = {
    params, query: new URLSearchParams(location.search), who,
    live: () => mine === generation,
    refresh: null,
  };
  document.title = `rota · ${found[2] || page.title}`;
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (mine === generation) main.append(h("p", {class: "error", role: "alert"}, err.message));
  }
  if (ctx.refresh && mine === generation) {
    timer = setInterval(() => {
      if (document.hidden || mine !== generation) return;
      ctx.refresh().catch(() => {});
    }, POLL_MS);
  }
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-nav]");
  if (!a || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);
route();
