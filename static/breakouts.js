// Breakout groups on the participant page and the console: the countdown,
// your group (or the groups to choose from, or to visit), "end all groups"
// for the chair; in a group, the way back to the plenary, taken by itself
// when the groups end. Follows the page's one connection.

import { el, errorText, pageConnection, readJSON, t } from "./tribune.js";

const state = readJSON("tribune-breakouts") || {};
if (state.group) state.group.name = document.getElementById("breakouts-group-name")?.textContent ?? "";
for (const item of document.querySelectorAll("#breakouts-names li")) {
  const group = (state.groups || []).find((g) => String(g.id) === item.dataset.id);
  if (group) group.name = item.textContent;
}
const connection = pageConnection();
const moderating = document.body.classList.contains("page-moderate");
const section = document.getElementById("breakouts");
const body = document.getElementById("breakouts-body");
const countdown = document.getElementById("breakouts-countdown");
const form = document.getElementById("breakouts-form");
let ended = Boolean(state.recently_ended);

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(s / 60);
  return `${minutes}:${String(s % 60).padStart(2, "0")}`;
}

function tick() {
  if (!state.ends_at || ended) {
    countdown.textContent = "";
    return;
  }
  const left = (new Date(state.ends_at).getTime() - Date.now()) / 1000;
  countdown.textContent = t("breakouts.left", { time: clock(left) });
}
setInterval(tick, 1000);

function pagePath(sessionId) {
  return `/sessions/${sessionId}` + (moderating ? "/moderate" : "");
}

function send(type, fields) {
  connection.send(type, fields).catch((error) => {
    body.append(el("p", { class: "error", role: "alert" }, errorText(error)));
  });
}

function drawGroup() {
  section.hidden = false;
  const back = el("a", { href: pagePath(state.plenary.id), class: "button secondary" }, t("breakouts.back"));
  body.replaceChildren(
    el("p", {}, el("strong", {}, t("breakouts.in_group", { name: state.group.name }))),
    ended || state.group.closed ? el("p", {}, t("breakouts.closed")) : null,
    el("p", {}, back),
  );
  tick();
}

function drawPlenary() {
  const groups = state.groups || [];
  if (form) form.closest("section").hidden = groups.length > 0;
  if (!groups.length) {
    section.hidden = !ended;
    body.replaceChildren(ended ? el("p", {}, t("breakouts.ended")) : "");
    countdown.textContent = "";
    return;
  }
  section.hidden = false;
  const mine = groups.find((group) => group.members.includes(state.me));
  const parts = [el("p", {}, t("breakouts.meeting"))];
  if (moderating) {
    parts.push(
      el(
        "ul",
        { class: "plain" },
        groups.map((group) =>
          el(
            "li",
            {},
            el("a", { href: `/sessions/${group.id}/moderate` }, t("breakouts.visit", { name: group.name })),
            " · ",
            t("breakouts.members", { count: group.members.length }),
          ),
        ),
      ),
      el("button", { type: "button", id: "breakouts-end", onclick: () => send("end_breakouts", {}) }, t("breakouts.end_all")),
    );
  } else if (mine) {
    parts.push(
      el("p", {}, t("breakouts.your_group", { name: mine.name })),
      el("p", {}, el("a", { href: pagePath(mine.id), class: "button", id: "breakouts-go" }, t("breakouts.go"))),
    );
  } else if (state.open_choice) {
    parts.push(
      el("p", {}, t("breakouts.choose")),
      el(
        "ul",
        { class: "plain" },
        groups.map((group) =>
          el(
            "li",
            {},
            el("button", { type: "button", onclick: () => send("join_breakout", { group_id: group.id }) }, t("breakouts.join", { name: group.name })),
          ),
        ),
      ),
    );
  } else {
    parts.push(el("p", {}, t("breakouts.no_group")));
  }
  body.replaceChildren(...parts);
  tick();
}

function draw() {
  if (state.group) drawGroup();
  else drawPlenary();
}

connection.on("breakouts_opened", (message) => {
  ended = false;
  Object.assign(state, message.data);
  draw();
});
connection.on("breakout_changed", (message) => {
  const group = message.data.group;
  state.groups = (state.groups || []).map((g) => (g.id === group.id ? group : g));
  // Choosing a group takes you out of any other.
  state.groups = state.groups.map((g) =>
    g.id === group.id ? g : { ...g, members: g.members.filter((id) => !group.members.includes(id)) },
  );
  draw();
});
connection.on("breakouts_ended", () => {
  ended = true;
  state.groups = [];
  state.ends_at = null;
  draw();
});
connection.on("breakout_closed", (message) => {
  // Everyone comes back to the plenary, as the groups end all at once.
  ended = true;
  draw();
  window.location.assign(pagePath(message.data.plenary_id));
});

if (form) {
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const groups = [...form.querySelectorAll("fieldset")]
      .map((fieldset) => ({
        name: fieldset.querySelector("[name=name]").value.trim(),
        delegation_ids: [...fieldset.querySelector("[name=delegations]").selectedOptions].map((o) => Number(o.value)),
      }))
      .filter((group) => group.name);
    const seconds = Math.round(Number(form.querySelector("[name=minutes]").value) * 60);
    const open_choice = form.querySelector("[name=open_choice]").checked;
    send("open_breakouts", { groups, seconds, open_choice });
  });
}

draw();
