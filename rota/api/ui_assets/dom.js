// DOM helpers. Everything shown goes in as text nodes or attributes set one by one:
// nothing a task carries is ever parsed as HTML.

const SVG = "http://www.w3.org/2000/svg";

// h("a", {href: "/ui/tasks", class: "x", onclick: fn}, "text", child, [more])
export function h(tag, attrs, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "href" && !String(value).startsWith("/")) {
      throw new Error("only local links");  // never javascript: or a stranger's URL
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// a table: columns [{label, cell(row) -> node|text, wide?}], rows
export function table(columns, rows, empty = "nothing here") {
  if (!rows.length) return h("p", {class: "empty"}, empty);
  const head = h("tr", {}, columns.map((c) => h("th", {class: c.wide ? "wide" : null}, c.label)));
  const body = rows.map((row) =>
    h("tr", {}, columns.map((c) => h("td", {class: c.wide ? "wide" : null, "data-label": c.label}, c.cell(row)))),
  );
  return h("div", {class: "scroll"}, h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
}

export function json(value) {
  return h("pre", {class: "json"}, value === undefined ? "" : JSON.stringify(value, null, 2));
}

export function when(iso) {
  if (!iso) return "—";
  const at = new Date(iso);
  const secs = Math.round((Date.now() - at.getTime()) / 1000);
  const text = Math.abs(secs) < 90 ? `${secs} s` : Math.abs(secs) < 5400
    ? `${Math.round(secs / 60)} min` : `${Math.round(secs / 3600)} h`;
  return h("time", {datetime: iso, title: iso}, secs >= 0 ? `${text} ago` : `in ${text.replace("-", "")}`);
}

export function badge(state) {
  return h("span", {class: `badge s-${state}`}, state);
}

export function link(path, text, attrs = {}) {
  return h("a", {href: path, "data-nav": "", ...attrs}, text);
}

export function taskLink(id) {
  return link(`/ui/tasks/${encodeURIComponent(id)}`, id, {class: "id"});
}

// a form field: label + input
export function field(label, input) {
  return h("label", {class: "field"}, h("span", {}, label), input);
}

export function input(name, value = "", attrs = {}) {
  return h("input", {name, value: value ?? "", autocomplete: "off", ...attrs});
}

export function select(name, options, value = "") {
  return h("select", {name}, options.map(([v, label]) =>
    h("option", {value: v, selected: v === value}, label)));
}

// the values of a form's named fields, empty ones left out
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== "") out[k] = String(v).trim();
  return out;
}
