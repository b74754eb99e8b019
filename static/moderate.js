// The moderator console: every floor action, on the same live connection.

import {
  followAgenda,
  FloorLanguage,
  ask,
  delegationName,
  FloorView,
  connectionBadge,
  el,
  errorText,
  keepFocus,
  pageConnection,
  requestCells,
  run,
  setPosition,
  setText,
  showStatus,
  speakerLabel,
  syncRows,
  t,
  tierLabel,
  userText,
} from "./tribune.js";

const tbody = document.querySelector("#speakers tbody");
const list = document.getElementById("list");
const controls = document.getElementById("controls");
const empty = document.getElementById("empty");
const button = (id) => document.getElementById(id);

let floor = null;
let may = new Set();

const connection = pageConnection();
connection.on("state", connectionBadge());
connection.on("error", (error) => showStatus(errorText(error), "error"));
connection.on("snapshot", (snapshot) => {
  may = new Set(snapshot.me.may);
  if (!may.has("give_floor")) {
    // The roles changed since the page was rendered.
    document.querySelector(".columns").replaceChildren(el("section", { class: "card notice" }, el("h2", {}, t("not_runner"))));
    connection.stop();
    return;
  }
  fillDelegations(snapshot.delegations);
});
connection.on("floor", (state) => render(state));
const floorView = new FloorView(connection);
const floorLanguage = new FloorLanguage(connection);

function fillDelegations(delegations) {
  const select = button("add-delegation");
  const chosen = select.value;
  select.replaceChildren(
    ...delegations.map((d) => el("option", { value: String(d.id) }, `${d.name} (${tierLabel(d.tier)})`)),
  );
  if (chosen) select.value = chosen;
}

function waitingIds() {
  return floor ? floor.waiting.map((request) => request.id) : [];
}

function requestById(id) {
  return floor?.waiting.find((request) => request.id === id);
}

/** Giving the floor ends the speech in progress: say so, and let the chair stop. */
async function mayCut(next) {
  const speech = floor?.current;
  if (!speech) return true;
  const question = t("confirm_cut", { current: speakerLabel(speech), next: speakerLabel(next) });
  return Boolean(await ask({ title: question, confirm: t("give_floor") }));
}

async function give(request) {
  if (await mayCut(request)) run(connection, "give_floor", { request_id: request.id });
}

async function remove(request) {
  const reason = await ask({
    title: t("remove"),
    quote: speakerLabel(request),
    field: { kind: "text", label: t("remove_reason") },
    confirm: t("remove"),
  });
  if (reason) run(connection, "remove_request", { request_id: request.id, reason });
}

/** A small button of a row. Its name is its label and the row's speaker
 * ("Move up: Peru"); a glyph (the arrows) is hidden, its label is the tooltip. */
function rowButton(request, action, label, { glyph = null, disabled = false, kind = "" } = {}) {
  return el(
    "button",
    {
      type: "button",
      class: `small ${kind}`.trim(),
      disabled,
      title: glyph ? label : null,
      "data-action": action,
      "data-focus": `${action}-${request.id}`,
      "data-request-id": String(request.id),
      "aria-label": t("action_for", { action: label, speaker: speakerLabel(request) }),
    },
    glyph ? el("span", { "aria-hidden": "true" }, glyph) : label,
  );
}

function row(request, index, count) {
  return el(
    "tr",
    { draggable: true, title: t("drag") },
    el("td", { class: "position" }, el("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"), el("span", { class: "number" })),
    ...requestCells(connection.snapshot, request),
    el(
      "td",
      { class: "row-actions" },
      rowButton(request, "give", t("give_floor"), { kind: "primary" }),
      rowButton(request, "up", t("move_up"), { glyph: "↑", disabled: index === 0, kind: "icon" }),
      rowButton(request, "down", t("move_down"), { glyph: "↓", disabled: index === count - 1, kind: "icon" }),
      rowButton(request, "remove", t("remove"), { kind: "danger" }),
    ),
  );
}

function renderNext(state) {
  const next = state.waiting[0];
  const line = button("next-up");
  if (!next) {
    setText(line, t("nobody_waiting"));
    return;
  }
  line.replaceChildren(t("next_speaker"), " ", userText(speakerLabel(next), { class: "speaker" }), " (", userText(delegationName(next.delegation)), ")");
}

function render(state) {
  floor = state;
  dragged = null; // a drag in progress works on rows this render replaces
  floorView.render(state);
  const speech = state.current;
  floorLanguage.render(speech, may.has("declare_language"));
  keepFocus(controls, () => {
    button("end-speech").disabled = !speech;
    const pause = button("pause-speech");
    pause.disabled = !speech;
    pause.dataset.paused = speech?.is_paused ? "true" : "false";
    setText(pause, speech?.is_paused ? t("resume") : t("pause"));
    button("give-next").disabled = state.waiting.length === 0;
    const listToggle = button("toggle-list");
    listToggle.dataset.closed = state.is_closed ? "true" : "false";
    setText(listToggle, state.is_closed ? t("reopen_list") : t("close_list"));
  }, () => button("give-next"));
  setText(button("list-state"), state.is_closed ? t("list_closed") : t("list_open"));
  renderNext(state);

  const count = state.waiting.length;
  const rows = {
    key: (request) => request.id,
    // The arrows depend on being first or last, and the names on the speaker.
    signature: (request) => JSON.stringify([{ ...request, position: null }, request.position === 1, request.position === count]),
    build: (request) => row(request, request.position - 1, count),
    update: setPosition,
  };
  keepFocus(list, () => syncRows(tbody, state.waiting, rows), () => button("list-title"));
  empty.hidden = count > 0;
}

tbody.addEventListener("click", (event) => {
  const target = event.target.closest("button[data-action]");
  if (!target) return;
  const request = requestById(Number(target.dataset.requestId));
  if (!request) return;
  const index = waitingIds().indexOf(request.id);
  switch (target.dataset.action) {
    case "give":
      give(request);
      break;
    case "up":
      run(connection, "move_request", { request_id: request.id, position: index });
      break;
    case "down":
      run(connection, "move_request", { request_id: request.id, position: index + 2 });
      break;
    case "remove":
      remove(request);
      break;
  }
});

// Drag and drop sends `reorder` with every waiting id, in the new order: the
// server refuses a list that is not exactly the current one (a stale view).
let dragged = null;
tbody.addEventListener("dragstart", (event) => {
  dragged = event.target.closest("tr");
  if (!dragged) return;
  dragged.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", dragged.dataset.key);
});
tbody.addEventListener("dragover", (event) => {
  if (!dragged) return;
  event.preventDefault();
  const over = event.target.closest("tr");
  if (!over || over === dragged) return;
  const box = over.getBoundingClientRect();
  const after = event.clientY > box.top + box.height / 2;
  over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
});
tbody.addEventListener("dragend", () => {
  if (!dragged) return;
  dragged.classList.remove("dragging");
  dragged = null;
  const order = [...tbody.querySelectorAll("tr")].map((row) => Number(row.dataset.key));
  const current = waitingIds();
  if (order.join() === current.join()) return;
  run(connection, "reorder", { request_ids: order }).then((ack) => {
    if (!ack && floor) {
      tbody.replaceChildren(); // the rows were moved by hand: draw them again as the server has them
      render(floor);
    }
  });
});

button("give-next").addEventListener("click", async () => {
  const next = floor?.waiting[0];
  if (next && (await mayCut(next))) run(connection, "give_floor");
});
button("end-speech").addEventListener("click", () => run(connection, "end_speech"));
button("pause-speech").addEventListener("click", (event) => {
  run(connection, event.currentTarget.dataset.paused === "true" ? "resume_speech" : "pause_speech");
});
button("toggle-list").addEventListener("click", (event) => {
  run(connection, event.currentTarget.dataset.closed === "true" ? "reopen_list" : "close_list");
});

button("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const fields = {
    delegation_id: Number(data.get("delegation_id")),
    speaker_name: String(data.get("speaker_name") || "").trim(),
    kind: data.get("kind"),
    note: String(data.get("note") || ""),
  };
  if (data.get("language")) fields.language = data.get("language");
  const ack = await run(connection, "add_speaker", fields, t("sent"));
  if (ack) {
    form.elements.speaker_name.value = "";
    form.elements.note.value = "";
  }
});

followAgenda(connection);
connection.start();
