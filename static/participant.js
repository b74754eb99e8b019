// The participant page: follow the floor, ask for it, withdraw.

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
} from "./tribune.js";

const { session_id: sessionId } = pageConfig();
const tbody = document.querySelector("#speakers tbody");
const empty = document.getElementById("empty");
const mine = document.getElementById("mine");
const closedBanner = document.getElementById("closed-banner");
const askForm = document.getElementById("ask-form");
const orderForm = document.getElementById("order-form");
const askUnavailable = document.getElementById("ask-unavailable");

let me = null;
let may = new Set();

const connection = new Connection(sessionId, {
  onState: connectionBadge(),
  onError: (error) => showStatus(error.message, "error"),
  onSnapshot: (snapshot) => {
    me = snapshot.me;
    may = new Set(me.may);
    setUpAsking();
  },
  onFloor: (floor) => render(floor),
});
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
}

function render(floor) {
  floorView.render(floor);
  floorLanguage.render(floor.current, speakingNow(floor.current) && may.has("declare_language"));
  closedBanner.hidden = !floor.is_closed;
  document.getElementById("request-statement").disabled = floor.is_closed;

  tbody.replaceChildren(
    ...floor.waiting.map((request) => {
      const own = isMine(request);
      return el(
        "tr",
        { class: own ? "own" : null, "data-request-id": String(request.id) },
        el("td", { class: "position" }, request.position),
        ...requestCells(connection.snapshot, request),
        el(
          "td",
          { class: "row-actions" },
          own && may.has("withdraw")
            ? el("button", { type: "button", class: "small", onclick: () => run(connection, "withdraw", { request_id: request.id }, t("sent")) }, t("withdraw"))
            : null,
        ),
      );
    }),
  );
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

function language() {
  return document.getElementById("ask-language").value || undefined;
}

askForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const onBehalf = askForm.querySelector('input[name="on_behalf"]:checked')?.value ?? "self";
  run(connection, "request_floor", { kind: "statement", on_behalf: onBehalf, language: language() }, t("requested"));
});

document.getElementById("request-reply").addEventListener("click", () => {
  const onBehalf = askForm.querySelector('input[name="on_behalf"]:checked')?.value ?? "self";
  run(connection, "request_floor", { kind: "right_of_reply", on_behalf: onBehalf, language: language() }, t("requested"));
});

orderForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const note = document.getElementById("order-note");
  const ack = await run(connection, "request_floor", { kind: "point_of_order", on_behalf: "self", language: language(), note: note.value }, t("requested"));
  if (ack) note.value = "";
});

connection.start();
