// Shared client code: the live connection, the server clock, and the parts of
// the floor both pages draw (current speaker, timer, list rows).

// Close codes after which reconnecting cannot help.
const FINAL_CLOSES = { 4401: "unauthorized", 4403: "forbidden", 4404: "not_found" };
const FLOODING = 4429;
// The server asks for a fresh snapshot (roles changed).
const ROLES_CHANGED = 4409;
// We close with this when our copy of the floor fell out of step.
const OUT_OF_STEP = 4000;

/**
 * The floor as this page holds it: a snapshot's floor, then each event's
 * change applied in seq order. `apply` returns false when an event does not
 * fit (the page then asks for a fresh snapshot).
 */
export class FloorState {
  constructor(floor) {
    this.isClosed = floor.is_closed;
    this.rules = floor.rules;
    this.current = floor.current;
    this.requests = new Map(floor.waiting.map((request) => [request.id, request]));
    this.order = floor.waiting.map((request) => request.id);
    // The agenda item's speaking-time budgets, when it has any (rooms/budgets.py).
    this.budgets = floor.budgets ?? null;
  }

  apply(type, data) {
    if (data.budgets !== undefined) this.budgets = data.budgets;
    if (type === "item_taken_up" && data.budgets === undefined) this.budgets = null;
    switch (type) {
      case "floor_requested":
        this.requests.set(data.request.id, data.request);
        break;
      case "request_withdrawn":
      case "request_removed":
        this.requests.delete(data.request.id);
        break;
      case "request_moved":
      case "list_reordered":
        break; // the order below is the whole change
      case "list_closed":
      case "list_reopened":
        this.isClosed = data.is_closed;
        break;
      case "floor_given":
        this.current = data.speech;
        this.requests.delete(data.speech.request_id);
        break;
      case "speech_ended":
        this.current = null;
        break;
      case "speech_paused":
      case "speech_resumed":
        this.current = data.speech;
        break;
      case "language_declared":
        if (data.speech_id !== null && this.current) this.current = { ...this.current, language: data.language };
        if (this.requests.has(data.request_id)) {
          this.requests.set(data.request_id, { ...this.requests.get(data.request_id), language: data.language });
        }
        break;
      default:
        return true; // not a floor event
    }
    if (data.order) this.order = data.order;
    return this.order.length === this.requests.size && this.order.every((id) => this.requests.has(id));
  }

  /** The floor in the snapshot's shape, with each waiting request's position. */
  view() {
    return {
      is_closed: this.isClosed,
      rules: this.rules,
      current: this.current,
      waiting: this.order.map((id, index) => ({ ...this.requests.get(id), position: index + 1 })),
      budgets: this.budgets,
    };
  }
}

export function readJSON(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : {};
}

// The pages' strings, and every language's name in the page's language.
export const strings = { ...readJSON("tribune-language-names"), ...readJSON("tribune-strings") };

/** A translated string; {name} placeholders are filled from `values`. */
export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

/**
 * One WebSocket to a session that keeps itself open.
 *
 * It remembers the last event's seq and reconnects with backoff passing
 * `last_seq`, so the server replays what was missed (or sends a snapshot).
 * Commands return promises settled by the matching ack or error.
 *
 * Every script of a page (the page's own, a questions panel, a listening
 * panel) shares the page's one connection and follows it one way, `on`:
 *
 *   import { pageConnection } from "./tribune.js";
 *   const connection = pageConnection();
 *   connection.on("snapshot", (snapshot) => ...); // the last one at once, then each new one
 *   connection.on("question_submitted", (message) => ...); // each event of that type, in seq order
 *   connection.on("*", (message) => ...);        // every event
 *   connection.on("floor", (floor, message) => ...); // the floor after each change (FloorState.view())
 *   connection.on("state", (name, detail) => ...);   // connecting, connected, reconnecting, offline
 *   connection.on("error", (error) => ...);          // an error that answers no command
 *   await connection.send("command_type", {...});    // resolves with the ack, rejects with {code, message}
 *
 * `on` returns a function that unsubscribes. A subscriber that throws is
 * reported on the console and does not stop the others.
 */
export class Connection {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.listeners = new Map(); // type -> Set of functions
    this.lastSeq = null;
    this.snapshot = null; // the last snapshot: event, session, me, delegations
    this.floor = null; // FloorState, from the snapshot and the events since
    this.clockOffset = 0; // server time minus Date.now(), in ms
    this.pending = new Map(); // command id -> {resolve, reject}
    this.counter = 0;
    this.attempt = 0;
    this.socket = null;
    this.stopped = false;
    this.pingTimer = null;
  }

  start() {
    if (!this.socket) this.open();
    return this;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    // A late subscriber starts from what the page already holds.
    if (type === "snapshot" && this.snapshot) fn(this.snapshot);
    if (type === "floor" && this.floor) fn(this.floor.view(), this.snapshot);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, ...args) {
    for (const fn of this.listeners.get(type) ?? []) {
      try {
        fn(...args);
      } catch (error) {
        console.error(error);
      }
    }
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000);
  }

  url() {
    // Same origin: the browser sends the join cookie; no token in the URL.
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/ws/sessions/${this.sessionId}`;
    if (this.lastSeq !== null) url += `?last_seq=${this.lastSeq}`;
    return url;
  }

  state(name, detail) {
    this.emit("state", name, detail);
  }

  open() {
    this.state(this.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    clearInterval(this.pingTimer);
    for (const { reject } of this.pending.values()) {
      reject({ code: "connection_lost", message: t("lost") });
    }
    this.pending.clear();
    if (this.stopped) return;
    const final = FINAL_CLOSES[event.code];
    if (final) {
      this.state("offline", t(final));
      return;
    }
    if (event.code === ROLES_CHANGED || event.code === OUT_OF_STEP) {
      // Start again from a snapshot: what we hold (or may do) is not current.
      this.lastSeq = null;
      this.attempt = 0;
      setTimeout(() => this.open(), 0);
      return;
    }
    this.attempt += 1;
    // Exponential backoff with jitter, 0.5 s up to 15 s (longer after flooding).
    const base = event.code === FLOODING ? 5000 : 500;
    const delay = Math.min(15000, base * 2 ** Math.min(this.attempt - 1, 5)) * (0.75 + Math.random() / 2);
    this.state("reconnecting");
    setTimeout(() => this.open(), delay);
  }

  setClock(serverTime) {
    if (serverTime) this.clockOffset = Date.parse(serverTime) - Date.now();
  }

  /** The server's clock now, in ms since the epoch. */
  serverNow() {
    return Date.now() + this.clockOffset;
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case "snapshot":
        this.snapshot = message;
        learnDelegations(message);
        this.floor = new FloorState(message.floor);
        this.setClock(message.server_time);
        this.lastSeq = message.seq;
        this.connected();
        this.emit("snapshot", message);
        break;
      case "resumed":
        this.setClock(message.server_time);
        this.lastSeq = message.seq;
        this.connected();
        break;
      case "pong":
        this.setClock(message.server_time);
        return;
      case "heartbeat":
        this.setClock(message.server_time);
        // Every event up to this seq that we may see came before it; those
        // we may not see move our seq on too, so a resume asks for less.
        if (this.lastSeq !== null && message.seq > this.lastSeq) this.lastSeq = message.seq;
        return;
      case "ack":
      case "error": {
        const waiting = message.id != null ? this.pending.get(message.id) : undefined;
        if (waiting) {
          this.pending.delete(message.id);
          message.type === "ack" ? waiting.resolve(message) : waiting.reject(message);
        } else if (message.type === "error") {
          // An error that answers no command (e.g. refused on connect).
          this.emit("error", message);
        }
        return;
      }
      default:
        if (typeof message.seq !== "number" || !this.floor) return;
        if (message.seq <= this.lastSeq) return;
        this.lastSeq = message.seq;
        if (!this.floor.apply(message.type, message.data || {})) {
          this.socket.close(OUT_OF_STEP, "out of step");
          return;
        }
        this.emit(message.type, message);
        this.emit("*", message);
    }
    if (this.floor) {
      this.emit("floor", this.floor.view(), message);
    }
  }

  connected() {
    this.attempt = 0;
    this.state("connected");
    clearInterval(this.pingTimer);
    // Keeps the clock offset fresh and notices a dead link.
    this.pingTimer = setInterval(() => this.send("ping").catch(() => {}), 20000);
  }

  /** Send a command; resolves with the ack, rejects with {code, message}. */
  send(type, fields = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject({ code: "connection_lost", message: t("lost") });
    }
    this.counter += 1;
    const id = `${type}-${Date.now().toString(36)}-${this.counter}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type, id, ...fields }));
    });
  }
}

// ---- drawing helpers -------------------------------------------------------

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function kindLabel(kind) {
  return t(`kind.${kind}`);
}

export function tierLabel(tier) {
  return t(`tier.${tier}`);
}

export function languageName(snapshot, code) {
  if (!code) return "";
  // Named in the page's language (server/i18n.py: language_names).
  if (`language.${code}` in strings) return t(`language.${code}`);
  const found = snapshot?.event?.languages?.find((language) => language.code === code);
  return found ? found.name : code;
}

/** The language a language's name is written in: itself, or the page's. */
export function languageNameLang(code) {
  return `language.${code}` in strings ? document.documentElement.lang : code;
}

/** User text (names, notes) isolated from the page's direction, so a Latin
 * name reads right in an Arabic page and the other way round. */
export function userText(text, attrs = {}) {
  return el("bdi", attrs, text);
}

// Delegations' names in the page's language, from the snapshot (the event
// file may name a delegation per language); events carry the one name.
const delegationNames = new Map();

function learnDelegations(snapshot) {
  const lang = document.documentElement.lang;
  delegationNames.clear();
  for (const delegation of snapshot.delegations || []) {
    const names = delegation.names || {};
    const name = names[lang] || names[""] || names.en || delegation.name;
    delegationNames.set(delegation.id, name);
  }
}

/** A delegation's name in the page's language. */
export function delegationName(delegation) {
  if (!delegation) return "";
  return delegationNames.get(delegation.id) ?? delegation.name;
}

/** Who will speak for a request: the person, or any member of the delegation. */
export function speakerLabel(request) {
  if (request.speaker_id === null && !request.is_in_room) {
    return t("any_member_of", { delegation: delegationName(request.delegation) });
  }
  return request.speaker_name;
}

/** The speaker, delegation and kind cells of a row in the list of speakers,
 * the same on the participant page and the moderator console. */
export function requestCells(snapshot, request) {
  const speaker = [userText(speakerLabel(request), { class: "speaker" })];
  if (request.is_in_room) speaker.push(" ", el("span", { class: "tag" }, t("in_room")));
  if (request.language) speaker.push(" ", el("span", { class: "tag", lang: languageNameLang(request.language) }, languageName(snapshot, request.language)));
  return [
    el("td", { class: "who" }, ...speaker),
    el("td", { class: "delegation" }, userText(delegationName(request.delegation)), el("div", { class: "tier muted" }, tierLabel(request.delegation.tier))),
    el("td", { class: "kind-cell" }, el("span", { class: `kind kind-${request.kind}` }, kindLabel(request.kind)), request.note ? el("div", { class: "note muted" }, userText(request.note)) : null),
  ];
}

/** Seconds left (negative when over time), or elapsed when there is no limit. */
export function speechClock(speech, serverNow) {
  const started = Date.parse(speech.started_at);
  const until = speech.paused_at ? Date.parse(speech.paused_at) : serverNow;
  const elapsed = Math.max(0, (until - started) / 1000 - (speech.paused_s || 0));
  if (speech.limit_s == null) return { elapsed, remaining: null };
  return { elapsed, remaining: speech.limit_s - elapsed };
}

export function formatSeconds(seconds) {
  const whole = Math.floor(Math.abs(seconds));
  const minutes = Math.floor(whole / 60);
  const rest = String(whole % 60).padStart(2, "0");
  return `${minutes}:${rest}`;
}

// Announced once to screen readers as the time runs out (never each second).
const NEARLY_UP_S = 30;

/**
 * Draws the "On the floor" card and ticks its timer from the server clock, so
 * every client shows the same time whatever its own clock says. The timer
 * itself is silent; a polite live region says when 30 seconds are left and
 * when the time is up, once per speech, as the clock crosses each mark.
 */
export class FloorView {
  constructor(connection) {
    this.connection = connection;
    this.current = null;
    this.root = document.getElementById("current");
    this.timer = document.getElementById("timer");
    this.announcer = document.getElementById("time-announcer");
    this.lastRemaining = null; // at the previous tick, for the speech shown
    this.tick = this.tick.bind(this);
    setInterval(this.tick, 250);
  }

  part(role) {
    return this.root.querySelector(`[data-role="${role}"]`);
  }

  render(floor) {
    const speech = floor.current;
    if (speech?.id !== this.current?.id) {
      this.lastRemaining = null;
      this.announce("");
    }
    this.current = speech;
    this.part("waiting")?.remove(); // the "connecting" placeholder, until the first floor
    this.part("nobody").hidden = Boolean(speech);
    this.part("speaker").hidden = !speech;
    this.timer.hidden = !speech;
    if (!speech) this.timerState("");
    if (speech) {
      // Only touch text that changed, so the live region speaks only real changes.
      setText(this.part("speaker-name"), speakerLabel(speech));
      const meta = this.part("speaker-meta");
      const parts = [
        tierLabel(speech.delegation.tier),
        kindLabel(speech.kind),
        languageName(this.connection.snapshot, speech.language),
        speech.is_in_room ? t("in_room") : "",
      ].filter(Boolean);
      const key = JSON.stringify([delegationName(speech.delegation), parts]);
      if (meta.dataset.key !== key) {
        // The delegation's name is user text, isolated from the page's direction.
        meta.dataset.key = key;
        meta.replaceChildren(userText(delegationName(speech.delegation)), ` · ${parts.join(" · ")}`);
      }
      this.part("speaker-paused").hidden = !speech.is_paused;
    }
    this.tick();
  }

  announce(text) {
    if (this.announcer) setText(this.announcer, text);
  }

  tick() {
    const speech = this.current;
    if (!speech) return;
    const { elapsed, remaining } = speechClock(speech, this.connection.serverNow());
    let text;
    let over = false;
    if (remaining === null) {
      text = formatSeconds(elapsed);
    } else if (remaining < 0) {
      over = true;
      text = `+${formatSeconds(remaining)}`;
    } else {
      text = formatSeconds(Math.ceil(remaining));
    }
    if (remaining !== null && this.lastRemaining !== null) {
      if (this.lastRemaining > NEARLY_UP_S && remaining <= NEARLY_UP_S && remaining > 0) this.announce(t("time_nearly_up"));
      if (this.lastRemaining >= 0 && remaining < 0) this.announce(t("time_up"));
    }
    this.lastRemaining = remaining;
    setText(this.timer, text);
    this.timer.classList.toggle("overrun", over);
    this.timer.classList.toggle("ending", !over && remaining !== null && remaining <= NEARLY_UP_S);
    this.timer.classList.toggle("paused", speech.is_paused);
    this.timer.classList.toggle("unlimited", remaining === null);
    // "Paused" is said by the tag in the speaker's card.
    this.timerState(over ? t("overrun") : remaining === null ? t("no_limit") : "");
  }

  timerState(text) {
    const node = document.getElementById("timer-state");
    if (node) setText(node, text);
  }
}

/**
 * The language select of the current speech (`declare_language`). The page
 * decides who may see it; the select follows the floor and sends the change.
 */
export class FloorLanguage {
  constructor(connection) {
    this.connection = connection;
    this.field = document.getElementById("floor-language-field");
    this.select = document.getElementById("floor-language");
    this.speech = null;
    this.select?.addEventListener("change", () => this.declare());
  }

  render(speech, allowed) {
    if (!this.field) return;
    this.speech = allowed ? speech : null;
    this.field.hidden = !this.speech;
    if (this.speech) this.show(this.speech.language);
  }

  show(code) {
    if (code && ![...this.select.options].some((option) => option.value === code)) {
      // A language outside the event's list still shows as it is.
      this.select.append(el("option", { value: code }, languageName(this.connection.snapshot, code)));
    }
    const value = code || "";
    if (this.select.value !== value) this.select.value = value;
  }

  async declare() {
    const language = this.select.value;
    if (!language || !this.speech) return;
    const ack = await run(this.connection, "declare_language", { language }, t("language_declared", { language: languageName(this.connection.snapshot, language) }));
    // Refused: put back the language the server has.
    if (!ack && this.speech) this.show(this.speech.language);
  }
}

/** The row's place on the list, set in place (see syncRows). */
export function setPosition(row, request) {
  setText(row.querySelector(".number"), String(request.position));
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Shows the connection state in the header; a refusal that no reconnect
 * can mend stays in the status area until the page is connected again. */
export function connectionBadge(id = "connection") {
  const badge = document.getElementById(id);
  return (state, detail) => {
    if (badge) {
      badge.dataset.state = state;
      badge.textContent = t(state);
    }
    if (detail) showStatus(detail, "error", { sticky: true, about: "connection" });
    else if (state === "connected") clearStatus("connection");
  };
}

/** An error in the page's language: by its code when the page knows it,
 * else the server's own words. */
export function errorText(error) {
  const key = `error.${error?.code}`;
  if (key in strings) return t(key);
  return error?.message || error?.code || String(error);
}

// How long a refusal stays on screen when nothing else clears it first.
const ERROR_SHOWN_MS = 15000;
const OK_SHOWN_MS = 4000;
let statusTimer = null;
let statusAbout = null;

/**
 * The status area (role="alert"). A refusal answers one action: it goes when
 * the next action is sent or after a while; a confirmation fades sooner. A
 * connection problem stays until the page is connected again.
 */
export function showStatus(text, kind = "error", { sticky = false, about = "command" } = {}) {
  const status = document.getElementById("status");
  if (!status) return;
  clearTimeout(statusTimer);
  status.textContent = text;
  status.dataset.kind = kind;
  statusAbout = about;
  if (!sticky) statusTimer = setTimeout(() => clearStatus(), kind === "error" ? ERROR_SHOWN_MS : OK_SHOWN_MS);
}

/** Clears the status area; with `about`, only a message about that. */
export function clearStatus(about = null) {
  const status = document.getElementById("status");
  if (!status || (about && statusAbout !== about)) return;
  clearTimeout(statusTimer);
  status.textContent = "";
  statusAbout = null;
}

/** Runs a command and reports its outcome in the status area. */
export function run(connection, type, fields = {}, success = null) {
  clearStatus("command");
  return connection.send(type, fields).then(
    (ack) => {
      if (success) showStatus(success, "ok");
      return ack;
    },
    (error) => {
      const lost = error?.code === "connection_lost";
      showStatus(errorText(error), "error", { sticky: lost, about: lost ? "connection" : "command" });
      return null;
    },
  );
}

export function pageConfig() {
  return readJSON("tribune-page");
}

let shared = null;

/** The page's one connection to its session, made on first use; the page's
 * own script starts it, after the other scripts had a chance to subscribe. */
export function pageConnection() {
  if (!shared) shared = new Connection(pageConfig().session_id);
  return shared;
}

// ---- redraws that keep the keyboard where it was ----------------------------

/**
 * Puts the rows of a list in `body` in the given order, keeping every row
 * whose signature did not change (the same node, so a button in it keeps the
 * focus, and nothing is built again) and moving only what must move.
 * `key(item)` names a row, `signature(item)` says everything it shows but
 * what `update(row, item)` sets in place on every row (its number, which
 * changes for all the rows below a move), and `build(item)` draws a new one.
 */
export function syncRows(body, items, { key, signature, build, update = null }) {
  const old = new Map([...body.children].map((row) => [row.dataset.key, row]));
  const wanted = items.map((item) => {
    const name = String(key(item));
    const sig = signature(item);
    const kept = old.get(name);
    const row = kept && kept.dataset.sig === sig ? kept : build(item);
    row.dataset.key = name;
    row.dataset.sig = sig;
    update?.(row, item);
    return row;
  });
  const keep = new Set(wanted);
  for (const row of [...body.children]) if (!keep.has(row)) row.remove();
  wanted.forEach((row, index) => {
    const here = body.children[index];
    if (here !== row) body.insertBefore(row, here ?? null);
  });
}

function usable(node) {
  return Boolean(node && node.isConnected && !node.disabled && !node.hidden && node.getClientRects().length);
}

/**
 * Runs `redraw` and, if it took the focus from a control inside `scope`,
 * gives it back: to the control with the same `data-focus` key, else to
 * another control of the same row (a disabled Move down on what became the
 * last row), else to the same action in the row now at its place (or the one
 * before: the row was given the floor or removed), else to `fallback()`.
 */
export function keepFocus(scope, redraw, fallback = null) {
  const active = document.activeElement;
  const inside = active && active !== document.body && scope.contains(active);
  const key = inside ? active.dataset.focus : null;
  const action = inside ? active.dataset.action : null;
  const row = inside ? active.closest("[data-key]") : null;
  const rowKey = row?.dataset.key;
  const rows = row?.parentNode;
  const index = row ? [...rows.children].indexOf(row) : -1;
  redraw();
  if (!inside || (document.activeElement === active && usable(active))) return;
  const candidates = [];
  if (key) candidates.push(scope.querySelector(`[data-focus="${CSS.escape(key)}"]`));
  const sameRow = rows && [...rows.children].find((node) => node.dataset.key === rowKey);
  if (sameRow) {
    // Nearest first, the one before it first: Move up when Move down is gone.
    const controls = [...sameRow.querySelectorAll("button, a[href], input, select")];
    const at = controls.findIndex((node) => node.dataset.action === action);
    const order = controls.map((node, i) => [Math.abs(i - at) * 2 + (i > at ? 1 : 0), node]);
    candidates.push(...order.sort((a, b) => a[0] - b[0]).map(([, node]) => node));
  }
  if (rows && action) {
    for (const at of [index, index - 1]) {
      candidates.push(rows.children[at]?.querySelector(`[data-action="${CSS.escape(action)}"]`));
    }
  }
  candidates.push(fallback?.());
  const target = candidates.find(usable);
  target?.focus();
}

// ---- asking the person something, without stopping the page ---------------

let dialog = null;

/**
 * Ask for one value in a dialog (a reason, a new text, a question to merge
 * into) or, without `field`, for a confirmation. Unlike prompt() and
 * confirm(), the page keeps following the socket meanwhile. Resolves with
 * the value (true for a confirmation), or null when cancelled.
 * `field`: { kind: "text" | "textarea" | "select", label, value, options: [[value, label]], required }.
 */
export function ask({ title, quote = null, field = null, confirm }) {
  if (!dialog) {
    dialog = el("dialog", { class: "ask-dialog", "aria-labelledby": "ask-dialog-title" });
    document.body.append(dialog);
  }
  return new Promise((resolve) => {
    let input = null;
    if (field?.kind === "select") {
      input = el("select", { id: "ask-dialog-input", required: true }, field.options.map(([value, label]) => el("option", { value }, label)));
    } else if (field?.kind === "textarea") {
      input = el("textarea", { id: "ask-dialog-input", rows: 4, maxlength: 1000, dir: "auto", required: field.required !== false });
    } else if (field) {
      input = el("input", { id: "ask-dialog-input", maxlength: 500, dir: "auto", required: field.required !== false });
    }
    if (input && field.value != null) input.value = field.value;
    const form = el(
      "form",
      { method: "dialog", class: "form" },
      el("h2", { id: "ask-dialog-title" }, title),
      quote ? el("blockquote", { dir: "auto" }, quote) : null,
      input ? el("label", { for: "ask-dialog-input" }, field.label) : null,
      input,
      el(
        "p",
        { class: "actions" },
        el("button", { type: "submit", class: "primary", value: "ok" }, confirm),
        el("button", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, t("cancel")),
      ),
    );
    dialog.replaceChildren(form);
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue !== "ok") return resolve(null);
        resolve(input ? input.value.trim() || null : true);
      },
      { once: true },
    );
    dialog.showModal();
    (input || form.querySelector("button.primary")).focus();
  });
}

/** The agenda item under discussion, kept live; the console's buttons take another up. */
export function followAgenda(connection) {
  const title = document.getElementById("current-item-title");
  connection.on("item_taken_up", (message) => {
    const item = message.data.item;
    const lang = document.documentElement.lang;
    if (title) title.textContent = item.titles?.[lang] || item.titles?.[""] || item.title;
    for (const button of document.querySelectorAll("[data-take-up]")) {
      button.setAttribute("aria-pressed", String(button.dataset.takeUp === String(message.data.item.id)));
    }
  });
  for (const button of document.querySelectorAll("[data-take-up]")) {
    button.addEventListener("click", () => run(connection, "take_up_item", { item_id: Number(button.dataset.takeUp) }));
  }
}
