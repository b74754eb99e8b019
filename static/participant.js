// The participant page: follow the floor, ask for it, withdraw.

import {
  followAgenda,
  FloorLanguage,
  FloorView,
  connectionBadge,
  el,
  errorText,
  keepFocus,
  pageConnection,
  requestCells,
  run,
  setPosition,
  showStatus,
  syncRows,
  t,
} from "./tribune.js";

const tbody = document.querySelector("#speakers tbody");
const list = document.getElementById("list");
const empty = document.getElementById("empty");
const mine = document.getElementById("mine");
const closedBanner = document.getElementById("closed-banner");
const askForm = document.getElementById("ask-form");
const orderForm = document.getElementById("order-form");
const askUnavailable = document.getElementById("ask-unavailable");
const askLanguage = document.getElementById("ask-language");

let me = null;
let may = new Set();

const connection = pageConnection();
connection.on("state", connectionBadge());
connection.on("error", (error) => showStatus(errorText(error), "error"));
connection.on("snapshot", (snapshot) => {
  me = snapshot.me;
  may = new Set(me.may);
  setUpAsking();
});
connection.on("floor", (floor) => render(floor));
const floorView = new FloorView(connection);
const floorLanguage = new FloorLanguage(connection);

function isMine(request) {
  if (!me) return false;
  return (
    request.speaker_id === me.id ||
    request.requester_id === me.id ||
    (me.delegation !== null && request.delegation.id === me.delegation.id)
  );
}

/** Whether the speech in progress is mine or my delegation's. */
function speakingNow(speech) {
  if (!me || !speech) return false;
  return speech.speaker_id === me.id || (me.delegation !== null && speech.delegation.id === me.delegation.id);
}

function setUpAsking() {
  let reason = null;
  if (!may.has("request_floor")) reason = t("may_not_speak");
  else if (!me.delegation) reason = t("no_delegation");
  askUnavailable.hidden = reason === null;
  askUnavailable.textContent = reason ?? "";
  askForm.hidden = reason !== null;
  orderForm.hidden = reason !== null;
  for (const control of document.querySelectorAll("#ask button")) control.disabled = false;
}

function row(request) {
  const own = isMine(request);
  return el(
    "tr",
    { class: own ? "own" : null },
    el("td", { class: "position" }, el("span", { class: "number" })),
    ...requestCells(connection.snapshot, request),
    el(
      "td",
      { class: "row-actions" },
      own && may.has("withdraw")
        ? el(
            "button",
            { type: "button", class: "small", "data-action": "withdraw", "data-focus": `withdraw-${request.id}`, "data-request-id": String(request.id) },
            t("withdraw"),
          )
        : null,
    ),
  );
}

function render(floor) {
  floorView.render(floor);
  floorLanguage.render(floor.current, speakingNow(floor.current) && may.has("declare_language"));
  closedBanner.hidden = !floor.is_closed;
  document.getElementById("request-statement").disabled = floor.is_closed;
  // After withdrawing the last own request, the keyboard goes back to asking.
  const rows = {
    key: (request) => request.id,
    signature: (request) => JSON.stringify([{ ...request, position: null }, isMine(request), may.has("withdraw")]),
    build: row,
    update: setPosition,
  };
  keepFocus(list, () => syncRows(tbody, floor.waiting, rows), () => document.getElementById("request-statement"));
  empty.hidden = floor.waiting.length > 0;
  renderMine(floor);
}

function renderMine(floor) {
  const current = floor.current;
  let text = "";
  let state = "";
  if (me && current && current.speaker_id === me.id) {
    text = t("you_have_floor");
    state = "floor";
  } else if (me && me.delegation && current && current.delegation.id === me.delegation.id) {
    text = t("delegation_has_floor");
    state = "floor";
  } else {
    const own = floor.waiting.filter(isMine);
    if (own.length) {
      const before = own[0].position - 1;
      text = before === 0 ? t("you_are_next") : t("before_you", { n: before });
      state = before === 0 ? "next" : "waiting";
    } else if (me && may.has("request_floor")) {
      text = t("not_on_list");
    }
  }
  if (mine.textContent !== text) mine.textContent = text;
  mine.dataset.state = state;
}

tbody.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action='withdraw']");
  if (button) run(connection, "withdraw", { request_id: Number(button.dataset.requestId) }, t("sent"));
});

/** The language chosen for the speech; asks for one if none is chosen yet. */
function chosenLanguage() {
  if (!askLanguage.value) {
    askLanguage.setCustomValidity(t("choose_language"));
    askLanguage.reportValidity();
    return null;
  }
  return askLanguage.value;
}
// The language chosen once is kept for this browser: it is the person's own
// choice, never a guess from the page's language.
const SPOKEN = "tribune.spoken-language";
askLanguage.addEventListener("change", () => {
  askLanguage.setCustomValidity("");
  try {
    localStorage.setItem(SPOKEN, askLanguage.value);
  } catch {
    // Storage may be off (private mode): the choice then lasts for this page.
  }
});
try {
  const kept = localStorage.getItem(SPOKEN);
  if (kept && [...askLanguage.options].some((option) => option.value === kept && !option.disabled)) askLanguage.value = kept;
} catch {
  // As above: nothing kept.
}

function onBehalf() {
  return askForm.querySelector('input[name="on_behalf"]:checked')?.value ?? "self";
}

askForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const language = chosenLanguage();
  if (language) run(connection, "request_floor", { kind: "statement", on_behalf: onBehalf(), language }, t("requested"));
});

document.getElementById("request-reply").addEventListener("click", () => {
  const language = chosenLanguage();
  if (language) run(connection, "request_floor", { kind: "right_of_reply", on_behalf: onBehalf(), language }, t("requested"));
});

orderForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  // A point of order cannot wait for a choice: the language goes if given.
  const note = document.getElementById("order-note");
  const fields = { kind: "point_of_order", on_behalf: "self", note: note.value };
  if (askLanguage.value) fields.language = askLanguage.value;
  const ack = await run(connection, "request_floor", fields, t("requested"));
  if (ack) note.value = "";
});

followAgenda(connection);
connection.start();
