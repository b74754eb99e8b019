// The projector view: who speaks, for how long still, who is next, and the
// question on air. Nothing to click; it follows the session live.

import { FloorView, connectionBadge, delegationName, el, kindLabel, pageConnection } from "./tribune.js";
import { QuestionBoard, authorLine } from "./question_state.js";

const lang = document.documentElement.lang;
// Enough for the room to see what is coming, short enough to read from afar.
const NEXT_SHOWN = 4;

let board = null;

const connection = pageConnection();
connection.on("state", connectionBadge());
connection.on("snapshot", (snapshot) => {
  board = new QuestionBoard(snapshot.questions);
});
connection.on("floor", (floor, message) => {
  if (board && message.type !== "snapshot") board.apply(message.type, message.data || {});
  render(floor);
});
const floorView = new FloorView(connection);

function render(floor) {
  floorView.render(floor);
  document.getElementById("screen-next").replaceChildren(
    ...floor.waiting.slice(0, NEXT_SHOWN).map((request) =>
      // The item follows the page's direction, so its number stays on screen;
      // the names inside are isolated (a Latin name on an Arabic page).
      el(
        "li",
        {},
        el("bdi", { class: "next-name" }, request.speaker_name),
        el("span", { class: "next-meta" }, " · ", el("bdi", {}, delegationName(request.delegation)), ` · ${kindLabel(request.kind)}`),
      ),
    ),
  );
  const question = board?.onAir() ?? null;
  document.getElementById("screen-question").hidden = !question;
  if (question) {
    setText("screen-question-text", question.text);
    setText("screen-question-meta", authorLine(question));
    setText("screen-question-topic", question.topic_id ? board.topicText(question.topic_id, lang) : "");
  }
}

function setText(id, text) {
  const node = document.getElementById(id);
  if (node.textContent !== text) node.textContent = text;
}

connection.start();
