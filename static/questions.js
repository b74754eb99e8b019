// Questions on the participant page and the moderator console. It follows
// the page's own connection (pageConnection) and sends its commands on it. Question text is always set as text, never as HTML.

import { ask, delegationName, el, languageName, pageConnection, run, t } from "./tribune.js";
import { QuestionBoard, authorLine } from "./question_state.js";

const root = document.getElementById("questions");
const moderating = root?.dataset.mode === "moderator";
const list = document.getElementById("question-list");
const lang = document.documentElement.lang;

let connection = null;
let board = null;
let me = null;
let may = new Set();

function receive(message) {
  if (message.type === "snapshot") {
    me = message.me;
    may = new Set(me.may);
    board = new QuestionBoard(message.questions);
    setUp();
  } else {
    if (!board) return;
    // Floor events too redraw: they move a question's place on the list of speakers.
    board.apply(message.type, message.data || {});
  }
  render();
}

if (root) {
  connection = pageConnection();
  connection.on("snapshot", receive);
  // Floor events too: they move a question's place on the list of speakers.
  connection.on("*", receive);
}

function send(type, fields, success = null) {
  return run(connection, type, fields, success);
}

function stateLabel(state) {
  return t(`q.state.${state}`);
}

function topicOptions(select, emptyLabel) {
  const chosen = select.value;
  select.replaceChildren(
    el("option", { value: "" }, emptyLabel),
    ...board.topics.map((topic) => el("option", { value: String(topic.id) }, board.topicText(topic.id, lang))),
  );
  select.value = chosen;
}

/** Where the question's speaking request waits on the list of speakers, if it does. */
function placeOnList(question) {
  if (!question.speaking_request_id || !connection?.floor) return null;
  const index = connection.floor.order.indexOf(question.speaking_request_id);
  return index >= 0 ? index + 1 : null;
}

function meta(question) {
  const parts = [];
  // The console names every author in its own line (moderatorDetails).
  const authors = moderating ? "" : authorLine(question);
  if (authors) parts.push(authors);
  if (question.topic_id) parts.push(board.topicText(question.topic_id, lang));
  parts.push(languageName(connection.snapshot, question.language));
  return el("p", { class: "question-meta muted", dir: "auto" }, parts.join(" · "));
}

/** A question's number in this session (1 for its first question), as the moderators say it. */
function numberOf(question) {
  return [...board.items.keys()].sort((a, b) => a - b).indexOf(question.id) + 1;
}

function questionItem(question, actions, extra = []) {
  const place = placeOnList(question);
  return el(
    "li",
    { class: `question state-${question.state}`, "data-question-id": String(question.id) },
    el(
      "div",
      { class: "question-top" },
      el("span", { class: "question-number" }, t("q.number", { n: numberOf(question) })),
      el("p", { class: "question-text", dir: "auto" }, question.text),
      el("span", { class: "votes" }, question.votes === 1 ? t("q.one_vote") : t("q.votes", { n: question.votes })),
    ),
    meta(question),
    el(
      "p",
      { class: "question-tags" },
      el("span", { class: `tag state state-${question.state}` }, stateLabel(question.state)),
      place ? el("span", { class: "tag" }, t("q.on_list", { n: place })) : null,
      question.speaking_request_id && !place ? el("span", { class: "tag" }, t("q.heard")) : null,
    ),
    ...extra,
    actions.length ? el("div", { class: "actions" }, ...actions) : null,
  );
}

function button(label, onclick, cls = null) {
  return el("button", { type: "button", class: cls, onclick }, label);
}

// ---- the participant page -------------------------------------------------

const form = document.getElementById("question-form");

function setUp() {
  if (moderating) {
    topicOptions(document.getElementById("question-filter-topic"), t("q.all"));
    const toggle = document.getElementById("question-moderated");
    toggle.onchange = () => send("set_question_moderation", { is_moderated: toggle.checked }, t("sent"));
    for (const id of ["question-filter-state", "question-filter-topic", "question-filter-language"]) {
      document.getElementById(id).onchange = render;
    }
    return;
  }
  const allowed = may.has("submit_question");
  form.hidden = !allowed;
  const unavailable = document.getElementById("question-unavailable");
  unavailable.hidden = allowed;
  unavailable.textContent = allowed ? "" : t("q.may_not_ask");
  const topic = document.getElementById("question-topic");
  topicOptions(topic, t("q.no_topic"));
  document.getElementById("question-topic-field").hidden = board.topics.length === 0;
  document.getElementById("question-ask").parentElement.hidden = !me.delegation;
  document.getElementById("question-sort").onchange = render;
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("question-text");
  const topic = document.getElementById("question-topic").value;
  const fields = {
    text: text.value,
    language: document.getElementById("question-language").value,
    is_anonymous: document.getElementById("question-anonymous").checked,
    wants_to_ask: document.getElementById("question-ask").checked,
  };
  if (topic) fields.topic_id = Number(topic);
  const ack = await send("submit_question", fields, board.isModerated ? t("q.sent_moderated") : t("q.sent"));
  if (ack) text.value = "";
});

function participantView() {
  document.getElementById("question-moderated-note").hidden = !board.isModerated;
  const items = [...board.items.values()];
  const mine = items.filter((question) => question.is_mine);
  document.getElementById("my-questions").replaceChildren(
    ...mine.map((question) => {
      const actions = [];
      if (question.state === "pending") {
        actions.push(
          button(t("q.edit"), async () => {
            const text = await ask({
              title: t("q.edit"),
              field: { kind: "textarea", label: t("q.edit_prompt"), value: question.text },
              confirm: t("save"),
            });
            if (text) send("edit_question", { question_id: question.id, text, topic_id: question.topic_id }, t("sent"));
          }),
          button(t("q.withdraw"), () => send("withdraw_question", { question_id: question.id }, t("sent"))),
        );
      }
      const extra = [];
      if (question.reject_reason) extra.push(el("p", { class: "reason", dir: "auto" }, t("q.reason", { reason: question.reject_reason })));
      if (question.merged_into) extra.push(el("p", { class: "muted" }, t("q.merged_into", { id: mergedNumber(question) })));
      return questionItem(question, actions, extra);
    }),
  );
  const sortBy = document.getElementById("question-sort").value;
  const visible = items.filter((question) => ["approved", "queued", "on_air", "answered"].includes(question.state));
  visible.sort((a, b) =>
    sortBy === "votes" ? b.votes - a.votes || a.submitted_at.localeCompare(b.submitted_at) : b.submitted_at.localeCompare(a.submitted_at),
  );
  list.replaceChildren(
    ...visible.map((question) => {
      const actions = [];
      if (may.has("vote_question") && question.state !== "answered") {
        const voted = board.voted.has(question.id);
        actions.push(
          button(voted ? t("q.unvote") : t("q.vote"), async () => {
            const ack = await send(voted ? "unvote_question" : "vote_question", { question_id: question.id });
            if (ack) {
              voted ? board.voted.delete(question.id) : board.voted.add(question.id);
              render();
            }
          }, voted ? "voted" : null),
        );
      }
      return questionItem(question, actions);
    }),
  );
  if (!visible.length) list.replaceChildren(el("li", { class: "muted" }, t("q.none_yet")));
}

// ---- the moderator console --------------------------------------------------

function moderatorActions(question) {
  const id = question.id;
  const act = (type, fields = {}) => send(type, { question_id: id, ...fields }, t("sent"));
  const actions = [];
  const state = question.state;
  if (state === "pending") actions.push(button(t("q.approve"), () => act("approve_question"), "primary"));
  if (["pending", "approved"].includes(state)) {
    actions.push(
      button(t("q.reject"), async () => {
        const reason = await ask({
          title: t("q.reject"),
          quote: question.text,
          field: { kind: "text", label: t("q.reject_prompt") },
          confirm: t("q.reject"),
        });
        if (reason) act("reject_question", { reason });
      }),
    );
  }
  if (state === "approved") actions.push(button(t("q.queue"), () => act("queue_question")));
  if (state === "queued") actions.push(button(t("q.unqueue"), () => act("unqueue_question")));
  if (["approved", "queued", "answered"].includes(state)) actions.push(button(t("q.on_air"), () => act("put_question_on_air"), "primary"));
  if (["approved", "queued", "on_air"].includes(state)) actions.push(button(t("q.answered"), () => act("answer_question")));
  if (["approved", "queued", "on_air"].includes(state) && question.wants_to_ask && !question.speaking_request_id) {
    actions.push(button(t("q.to_floor"), () => act("question_to_floor")));
  }
  if (["approved", "queued", "on_air", "answered"].includes(state)) actions.push(button(t("q.archive"), () => act("archive_question")));
  if (["rejected", "archived"].includes(state)) actions.push(button(t("q.restore"), () => act("restore_question")));
  if (!["withdrawn", "merged"].includes(state)) {
    actions.push(
      button(t("q.edit"), async () => {
        const text = await ask({
          title: t("q.edit"),
          field: { kind: "textarea", label: t("q.edit_prompt"), value: question.text },
          confirm: t("save"),
        });
        if (text) act("edit_question", { text, language: question.language, topic_id: question.topic_id });
      }),
    );
  }
  if (["pending", "approved", "queued"].includes(state)) {
    actions.push(
      button(t("q.merge"), async () => {
        const others = [...board.items.values()]
          .filter((other) => other.id !== id && ["pending", "approved", "queued", "on_air"].includes(other.state))
          .sort((a, b) => a.id - b.id);
        if (!others.length) return;
        const into = await ask({
          title: t("q.merge"),
          quote: question.text,
          field: {
            kind: "select",
            label: t("q.merge_prompt"),
            options: others.map((other) => [String(other.id), `${t("q.number", { n: numberOf(other) })} · ${excerpt(other.text)}`]),
          },
          confirm: t("q.merge_confirm"),
        });
        if (into) act("merge_questions", { into_id: Number(into) });
      }),
    );
  }
  if (state === "merged") actions.push(button(t("q.unmerge"), () => act("unmerge_question")));
  return actions;
}

/** The number of the question this one was merged into (its id if this page does not see it). */
function mergedNumber(question) {
  const into = board.items.get(question.merged_into);
  return into ? numberOf(into) : question.merged_into;
}

function excerpt(text) {
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function moderatorDetails(question) {
  const extra = [];
  const authors = (question.authors || []).map((author) =>
    author.delegation ? `${author.name} (${delegationName(author.delegation)})` : author.name,
  );
  const tags = [];
  if (question.is_anonymous) tags.push(t("q.anonymous"));
  if (question.wants_to_ask) tags.push(t("q.wants_to_ask"));
  extra.push(el("p", { class: "question-authors", dir: "auto" }, authors.join(", "), tags.length ? ` · ${tags.join(" · ")}` : ""));
  if (question.original_text) extra.push(el("p", { class: "original muted", dir: "auto" }, t("q.original", { text: question.original_text })));
  if (question.reject_reason) extra.push(el("p", { class: "reason", dir: "auto" }, t("q.reason", { reason: question.reject_reason })));
  if (question.merged_into) extra.push(el("p", { class: "muted" }, t("q.merged_into", { id: mergedNumber(question) })));
  return extra;
}

function moderatorView() {
  document.getElementById("question-moderated").checked = board.isModerated;
  const queue = board.queue.map((id) => board.items.get(id)).filter(Boolean);
  document.getElementById("question-queue").replaceChildren(
    ...queue.map((question, index) => {
      const move = (delta) => {
        const order = [...board.queue];
        order.splice(index, 1);
        order.splice(index + delta, 0, question.id);
        send("reorder_questions", { question_ids: order });
      };
      const actions = [
        index > 0 ? button(t("q.move_up"), () => move(-1)) : null,
        index < queue.length - 1 ? button(t("q.move_down"), () => move(1)) : null,
        button(t("q.on_air"), () => send("put_question_on_air", { question_id: question.id }), "primary"),
      ].filter(Boolean);
      return questionItem(question, actions);
    }),
  );
  const state = document.getElementById("question-filter-state").value;
  const topic = document.getElementById("question-filter-topic").value;
  const language = document.getElementById("question-filter-language").value;
  const shown = [...board.items.values()]
    .filter((q) => (!state || q.state === state) && (!topic || String(q.topic_id) === topic) && (!language || q.language === language))
    .sort((a, b) => b.votes - a.votes || a.submitted_at.localeCompare(b.submitted_at));
  list.replaceChildren(...shown.map((question) => questionItem(question, moderatorActions(question), moderatorDetails(question))));
  document.getElementById("question-empty").hidden = shown.length > 0;
}

function render() {
  if (!board) return;
  if (moderating) moderatorView();
  else participantView();
}
