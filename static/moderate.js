// The moderator console: every floor action, on the same live connection.

import {
  Connection,
  FloorLanguage,
  FloorView,
  connectionBadge,
  el,
  pageConfig,
  requestCells,
  run,
  showStatus,
  t,
  tierLabel,
} from "./tribune.js";

const { session_id: sessionId } = pageConfig();
const tbody = document.querySelector("#speakers tbody");
const empty = document.getElementById("empty");
const button = (id) => document.getElementById(id);

let floor = null;
let may = new Set();

const connection = new Connection(sessionId, {
  onState: connectionBadge(),
  onError: (error) => showStatus(error.message, "error"),
  onSnapshot: (snapshot) => {
    may = new Set(snapshot.me.may);
    if (!may.has("give_floor")) {
      // The roles changed since the page was rendered.
      document.querySelector(".columns").replaceChildren(el("section", { class: "card notice" }, el("h2", {}, t("not_runner"))));
      connection.stop();
      return;
    }
    fillDelegations(snapshot.delegations);
  },
  onFloor: (state) => render(state),
});
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

function move(request, position) {
  run(connection, "move_request", { request_id: request.id, position });
}

function remove(request) {
  const reason = window.prompt(t("remove_reason"));
  if (reason === null) return;
  if (!reason.trim()) return showStatus(t("remove_reason"), "error");
  run(connection, "remove_request", { request_id: request.id, reason: reason.trim() });
}

function render(state) {
  floor = state;
  dragged = null; // a drag in progress works on rows this render replaces
  floorView.render(state);
  const speech = state.current;
  floorLanguage.render(speech, may.has("declare_language"));
  button("end-speech").disabled = !speech;
  button("pause-speech").hidden = Boolean(speech?.is_paused);
  button("pause-speech").disabled = !speech;
  button("resume-speech").hidden = !speech?.is_paused;
  button("give-next").disabled = state.waiting.length === 0;
  button("close-list").hidden = state.is_closed;
  button("reopen-list").hidden = !state.is_closed;
  button("list-state").textContent = state.is_closed ? t("list_closed") : t("list_open");

  const count = state.waiting.length;
  tbody.replaceChildren(
    ...state.waiting.map((request, index) => {
      const row = el(
        "tr",
        { draggable: true, "data-request-id": String(request.id), title: t("drag") },
        el("td", { class: "position" }, el("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"), request.position),
        ...requestCells(connection.snapshot, request),
        el(
          "td",
          { class: "row-actions" },
          el("button", { type: "button", class: "small primary", onclick: () => run(connection, "give_floor", { request_id: request.id }) }, t("give_floor")),
          el("button", { type: "button", class: "small icon", disabled: index === 0, "aria-label": `${t("move_up")}: ${request.speaker_name}`, title: t("move_up"), onclick: () => move(request, index) }, "↑"),
          el("button", { type: "button", class: "small icon", disabled: index === count - 1, "aria-label": `${t("move_down")}: ${request.speaker_name}`, title: t("move_down"), onclick: () => move(request, index + 2) }, "↓"),
          el("button", { type: "button", class: "small danger", onclick: () => remove(request) }, t("remove")),
        ),
      );
      return row;
    }),
  );
  empty.hidden = count > 0;
}

// Drag and drop sends `reorder` with every waiting id, in the new order: the
// server refuses a list that is not exactly the current one (a stale view).
let dragged = null;
tbody.addEventListener("dragstart", (event) => {
  dragged = event.target.closest("tr");
  if (!dragged) return;
  dragged.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", dragged.dataset.requestId);
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
  const order = [...tbody.querySelectorAll("tr")].map((row) => Number(row.dataset.requestId));
  const current = waitingIds();
  if (order.join() === current.join()) return;
  run(connection, "reorder", { request_ids: order }).then((ack) => {
    if (!ack && floor) render(floor); // refused: put the rows back as the server has them
  });
});

button("give-next").addEventListener("click", () => run(connection, "give_floor"));
button("end-speech").addEventListener("click", () => run(connection, "end_speech"));
button("pause-speech").addEventListener("click", () => run(connection, "pause_speech"));
button("resume-speech").addEventListener("click", () => run(connection, "resume_speech"));
button("close-list").addEventListener("click", () => run(connection, "close_list"));
button("reopen-list").addEventListener("click", () => run(connection, "reopen_list"));

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

connection.start();
