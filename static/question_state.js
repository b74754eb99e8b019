// The session's questions as this page holds them: the snapshot's
// `questions`, then each question event applied in seq order. The server
// sends each person only what they may see, so this holds nothing else.

import { delegationName } from "./tribune.js";

export class QuestionBoard {
  constructor(questions) {
    this.isModerated = questions.is_moderated;
    this.queue = questions.queue;
    this.topics = questions.topics || [];
    this.voted = new Set(questions.voted);
    this.items = new Map(questions.items.map((item) => [item.id, item]));
  }

  /** Applies an event; returns false when it is not about questions. */
  apply(type, data) {
    switch (type) {
      case "question_updated":
        this.items.set(data.question.id, data.question);
        this.queue = data.queue;
        return true;
      case "question_hidden":
        this.items.delete(data.id);
        this.queue = data.queue;
        return true;
      case "question_votes":
        for (const count of data.counts) this.setVotes(count.id, count.votes);
        return true;
      case "question_voted":
        if (data.voted) this.voted.add(data.id);
        else this.voted.delete(data.id);
        this.setVotes(data.id, data.votes);
        return true;
      case "question_queue":
        this.queue = data.queue;
        return true;
      case "question_moderation":
        this.isModerated = data.is_moderated;
        return true;
      default:
        return false;
    }
  }

  setVotes(id, votes) {
    const item = this.items.get(id);
    if (item) this.items.set(id, { ...item, votes });
  }

  onAir() {
    for (const item of this.items.values()) if (item.state === "on_air") return item;
    return null;
  }

  /** The guiding question's text in this language, else without one, else English, else any. */
  topicText(topicId, language) {
    const topic = this.topics.find((candidate) => candidate.id === topicId);
    if (!topic) return "";
    const texts = topic.texts || {};
    return texts[language] || texts[""] || texts.en || Object.values(texts)[0] || "";
  }
}

/** The names shown for a question's authors (anonymous ones are never sent to the audience). */
export function authorLine(question) {
  return (question.authors || [])
    .filter((author) => !author.is_anonymous)
    .map((author) => (author.delegation ? `${author.name} (${delegationName(author.delegation)})` : author.name))
    .join(", ");
}
