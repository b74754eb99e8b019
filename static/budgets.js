// Speaking-time budgets on the agenda item under discussion: every group's
// remaining time on the console, the viewer's own delegation's on the
// participant page; the groups of whoever speaks count down live, and time
// over budget shows as negative.

import { delegationName, el, pageConnection, run, t, tierLabel } from "./tribune.js";

const panel = document.getElementById("budgets");
const list = document.getElementById("budgets-list");
const addForm = document.getElementById("budgets-add");
const connection = pageConnection();
let budgets = null;
let current = null;
let me = null;

function clock(seconds) {
  const sign = seconds < 0 ? "−" : "";
  const s = Math.round(Math.abs(seconds));
  return `${sign}${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function label(group) {
  if (group.kind === "delegation") return delegationName({ id: group.delegation_ids[0], name: group.label });
  if (group.kind === "tier") return tierLabel(group.label);
  return group.label;
}

function spokenNow() {
  if (!current) return 0;
  const started = new Date(current.started_at).getTime();
  const paused = (current.paused_s || 0) * 1000 + (current.paused_at ? Date.now() - new Date(current.paused_at).getTime() : 0);
  return Math.max(0, (connection.serverNow() - started - paused) / 1000);
}

function draw() {
  if (!panel) return;
  const mine = me?.delegation?.id;
  // The console shows every group; a delegate, their own delegation's.
  const groups = (budgets?.groups || []).filter((group) => addForm || (mine && group.delegation_ids.includes(mine)));
  panel.hidden = !groups.length;
  const running = spokenNow();
  list.replaceChildren(
    ...groups.map((group) => {
      const remaining = group.remaining_s - (group.running ? running : 0);
      return el(
        "li",
        { class: remaining < 0 ? "over" : group.running ? "running" : "" },
        el("bdi", {}, label(group)),
        ": ",
        el("span", { class: "budget-time" }, clock(remaining)),
      );
    }),
  );
}

connection.on("snapshot", (snapshot) => {
  me = snapshot.me;
});
connection.on("floor", (floor) => {
  budgets = floor.budgets;
  current = floor.current;
  draw();
});
setInterval(draw, 1000);

addForm?.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const minutes = Number(addForm.querySelector("[name=minutes]").value);
  if (minutes > 0) run(connection, "add_time", { seconds: Math.round(minutes * 60) });
});
