// Actions: every one goes to the server, which decides. A refusal (a viewer's 403, a
// conflict's 409) is shown as the server worded it; nothing is hidden on the client.
import {h, replace} from "./dom.js";

// a region that says what the last action did
export function status() {
  return h("div", {class: "status", role: "status", "aria-live": "polite"});
}

export async function act(where, label, call, after) {
  replace(where, h("span", {class: "pending"}, `${label}…`));
  where.className = "status";
  try {
    const answer = await call();
    where.className = "status ok";
    replace(where, `${label}: done`);
    if (after) await after(answer);
    return answer;
  } catch (err) {
    where.className = "status error";
    where.setAttribute("role", "alert");
    replace(where, `${label} refused — ${err.message}`);
    return undefined;
  }
}

// A two-step button: the first click asks, naming what will happen; only the second acts.
export function confirmed(label, describe, run, extra = {}) {
  const box = h("span", {class: "confirm"});
  const button = h("button", {type: "button", ...extra, onclick: () => {
    const yes = h("button", {type: "button", class: "danger", "data-confirm": "", onclick: async () => {
      replace(box, button);
      await run();
    }}, `Yes, ${label.toLowerCase()}`);
    const no = h("button", {type: "button", onclick: () => replace(box, button)}, "Cancel");
    replace(box, h("span", {class: "question"}, describe()), " ", yes, " ", no);
  }}, label);
  return replace(box, button);
}
