// The interpreter's console: my booth's mic, handover, what I hear (floor or
// relay), my partners and our chat, slow down; the captioner's input.
// Audio goes through static/media.js (TribuneMedia) when it is there.

import {
  FloorView,
  connectionBadge,
  el,
  formatSeconds,
  languageName,
  pageConfig,
  pageConnection,
  readJSON,
  run,
  showStatus,
  t,
} from "./tribune.js";
import { deviceCheck } from "./device_check.js";

const boothStrings = readJSON("tribune-booth-strings");

/** A booth console string; {name} placeholders filled from `values`. */
function b(key, values = {}) {
  const text = boothStrings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

const { session_id: sessionId } = pageConfig();
const $ = (id) => document.getElementById(id);

let me = null;
let snapshot = null;
let booth = null; // my booth, as the snapshot and the events give it
let advice = null; // the last relay_advised for my booth
let captioning = null;
const channels = new Map(); // language -> channel view
let media = null;
let publishing = null; // the channel my microphone is on
let listeningTo = null;

const connection = pageConnection();
connection.on("state", connectionBadge());
connection.on("error", (error) => showStatus(error.message, "error"));
connection.on("snapshot", (message) => {
  snapshot = message;
  me = message.me;
  const interpretation = message.interpretation || {};
  channels.clear();
  for (const channel of interpretation.channels || []) {
    if (channel.kind !== "captions") channels.set(channel.language, { ...channel });
  }
  booth = interpretation.booth;
  captioning = interpretation.captioning;
  advice = null;
  $("captions").replaceChildren(...(interpretation.captions || []).map(captionLine));
  $("chat-log").replaceChildren(...(booth?.messages || []).map(chatLine));
  setUp();
});
connection.on("floor", (floor, message) => {
  floorView.render(floor);
  $("slow-down-field").hidden = !booth || !floor.current;
  if (message && message.seq !== undefined) apply(message);
  render();
});
const floorView = new FloorView(connection);

function mine(id) {
  return me !== null && id === me.id;
}

function interpreter(id) {
  return booth?.interpreters.find((person) => person.id === id);
}

function name(code) {
  return languageName(snapshot, code);
}

// ---- events ------------------------------------------------------------------

function apply(message) {
  const data = message.data || {};
  switch (message.type) {
    case "mic_changed": {
      const channel = channels.get(data.language);
      if (channel) Object.assign(channel, { live: data.live, live_name: data.live_name, since: data.since });
      if (booth && data.language === booth.language) {
        booth.live = data.live;
        booth.live_since = data.since;
        booth.handover = null;
        if (data.reason === "handover" && (mine(data.live) || mine(data.previous))) showStatus(b("handover_done"), "ok");
      }
      break;
    }
    case "passthrough_changed": {
      const channel = channels.get(data.language);
      if (channel) channel.is_passthrough = data.is_passthrough;
      if (booth && data.language === booth.language) booth.is_passthrough = data.is_passthrough;
      break;
    }
    case "handover_requested":
      if (booth) booth.handover = data;
      break;
    case "handover_cancelled":
      if (booth) booth.handover = null;
      break;
    case "handover_answered":
      if (booth) booth.handover = null;
      if (!data.accepted && mine(data.requester_id)) {
        showStatus(b("handover_declined", { name: message.actor.name }), "error");
      }
      break;
    case "source_changed": {
      const person = interpreter(data.participant_id);
      if (person) person.source = data.source;
      break;
    }
    case "auto_relay_set":
      if (booth) booth.is_auto_relay = data.is_auto_relay;
      break;
    case "relay_advised":
      if (booth && data.language === booth.language) {
        booth.relay_advice = data.relay;
        advice = data;
      }
      break;
    case "booth_message":
      $("chat-log").append(chatLine(data));
      scrollDown($("chat-log"));
      break;
    case "caption":
      $("captions").append(captionLine(data));
      scrollDown($("captions"));
      break;
    case "slow_down_requested":
      if (mine(data.interpreter.id)) showStatus(b("slow_down_sent"), "ok");
      break;
    default:
  }
}

function scrollDown(list) {
  while (list.childElementCount > 200) list.firstElementChild.remove();
  list.lastElementChild?.scrollIntoView({ block: "nearest" });
}

function chatLine(message) {
  return el("li", { "data-id": String(message.id) }, el("strong", {}, `${message.author.name}: `), el("span", { dir: "auto" }, message.text));
}

function captionLine(caption) {
  return el("li", { lang: caption.language, dir: "auto" }, caption.text);
}

// ---- drawing -----------------------------------------------------------------

function setUp() {
  $("booth").hidden = !booth;
  $("chat").hidden = !booth;
  $("captioner").hidden = !captioning;
  if (captioning) $("captioner-title").textContent = b("captioner_title", { language: name(captioning) });
  if (!booth) return;
  $("booth-title").textContent = b("booth_title", { language: name(booth.language) });
  const source = $("source");
  const options = [el("option", { value: "floor" }, b("floor"))];
  for (const code of channels.keys()) {
    if (code !== booth.language && code !== "ils") options.push(el("option", { value: code }, b("relay_from", { language: name(code) })));
  }
  source.replaceChildren(...options);
}

function render() {
  if (!booth) return;
  const live = booth.live;
  const onAir = mine(live);
  const pending = booth.handover && Date.parse(booth.handover.expires_at) > connection.serverNow() ? booth.handover : null;
  const state = $("on-air");
  state.dataset.state = onAir ? "on" : live ? "partner" : "off";
  let text = onAir ? b("on_air") : live ? b("partner_on_air", { name: interpreter(live)?.name ?? "" }) : b("off_air");
  if (booth.is_passthrough) text += ` ${b("passthrough")}`;
  setText(state, text);
  $("shift").hidden = !live;

  $("take-mic").hidden = onAir || (live !== null && interpreter(live)?.is_present !== false);
  $("release-mic").hidden = !onAir;
  const asking = pending && mine(pending.requester.id);
  $("request-handover").hidden = onAir || live === null || Boolean(asking);
  $("cancel-handover").hidden = !asking;
  $("handover-incoming").hidden = !(onAir && pending);
  $("handover-waiting").hidden = !asking;

  const me_ = interpreter(me?.id);
  const source = $("source");
  if (me_ && source.value !== me_.source) source.value = me_.source;
  $("auto-relay").checked = booth.is_auto_relay;

  const relay = booth.relay_advice;
  const adviceNode = $("relay-advice");
  const takeRelay = $("take-relay");
  if (relay) {
    adviceNode.hidden = false;
    setText(adviceNode, b("relay_needed", { floor: name(advice?.floor_language ?? connection.floor?.current?.language), language: name(relay) }));
    takeRelay.hidden = me_?.source === relay;
    setText(takeRelay, b("take_relay", { language: name(relay) }));
    takeRelay.dataset.source = relay;
  } else if (advice?.needs_relay) {
    adviceNode.hidden = false;
    setText(adviceNode, b("relay_none", { floor: name(advice.floor_language) }));
    takeRelay.hidden = true;
  } else {
    adviceNode.hidden = true;
    // Back from a relay once the speaker's language is ours again.
    takeRelay.hidden = !me_ || me_.source === "floor";
    setText(takeRelay, b("back_to_floor"));
    takeRelay.dataset.source = "floor";
  }

  $("partners").replaceChildren(
    ...booth.interpreters.map((person) =>
      el(
        "li",
        { "data-id": String(person.id) },
        person.name,
        mine(person.id) ? el("span", { class: "muted" }, ` (${b("you")})`) : null,
        person.id === live ? el("span", { class: "tag on-air-tag" }, b("on_air_tag")) : null,
        el("span", { class: "muted" }, ` · ${b("hears", { source: person.source === "floor" ? b("floor") : name(person.source) })}`),
      ),
    ),
  );
  tick();
  syncMedia();
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function tick() {
  if (!booth) return;
  const now = connection.serverNow();
  if (booth.live_since) setText($("shift-timer"), formatSeconds(Math.max(0, (now - Date.parse(booth.live_since)) / 1000)));
  const pending = booth.handover;
  if (!pending) return;
  const seconds = Math.ceil((Date.parse(pending.expires_at) - now) / 1000);
  if (seconds <= 0) {
    // Lapsed: the server refuses to answer it now.
    booth.handover = null;
    render();
    return;
  }
  setText($("handover-text"), b("handover_asks", { name: pending.requester.name, seconds }));
  const liveName = interpreter(booth.live)?.name ?? "";
  setText($("handover-waiting"), b("handover_waiting", { name: liveName, seconds }));
}
setInterval(tick, 500);

// ---- media (static/media.js) -------------------------------------------------

async function openMedia() {
  try {
    const module = await import("/static/media.js");
    const api = module.TribuneMedia ?? window.TribuneMedia;
    media = api.open(sessionId);
    media.onStatus((status) => {
      const node = $("media-state");
      if (status.type === "publishing") {
        node.hidden = false;
        setText(node, b(coughing ? "muted" : "media_publishing"));
        $("cough-field").hidden = false;
      } else if (status.type === "refused" || status.type === "cut" || status.type === "stopped") {
        if (status.type !== "stopped") {
          node.hidden = false;
          setText(node, b("media_refused"));
        }
        if (status.type === "cut" || status.channel) showCough(false, true);
      } else if (status.type === "listeners") {
        showListeners(status.counts);
      } else if (status.type === "sound_blocked" || status.type === "sound_allowed") {
        $("sound-blocked").hidden = status.type === "sound_allowed";
      }
    });
    syncMedia();
  } catch (error) {
    media = null;
    const node = $("media-state");
    node.hidden = false;
    node.textContent = b("media_missing");
  }
}

/** Our channel's listener count; the counts may come before the booth does. */
function showListeners(counts) {
  if (!booth || !counts) return;
  const count = counts[booth.language] ?? 0;
  $("listeners").hidden = false;
  setText($("listeners"), b("listeners", { count }));
}

function syncMedia() {
  if (!media || !booth) return;
  showListeners(media.counts);
  const me_ = interpreter(me?.id);
  const source = me_?.source ?? "floor";
  try {
    if (listeningTo !== source) {
      listeningTo = source;
      media.listen(source, { video: null });
    }
    const onAir = mine(booth.live) ? booth.language : null;
    if (publishing !== onAir) {
      publishing = onAir;
      if (onAir) media.publish(onAir, { audio: true, video: onAir === "ils" })?.catch?.(() => {});
      else media.unpublish();
    }
  } catch (error) {
    showStatus(String(error), "error");
  }
}

// ---- controls ----------------------------------------------------------------

// The cough key: silence on our channel without leaving the air (listeners
// would otherwise fall back to the floor, and the partner would be asked).
let coughing = false;
function showCough(on, hide = false) {
  coughing = on;
  media?.setMuted(on);
  $("cough-field").hidden = hide;
  $("cough").textContent = b(on ? "unmute" : "mute");
  $("cough").setAttribute("aria-pressed", String(on));
  if (!hide) setText($("media-state"), b(on ? "muted" : "media_publishing"));
}
$("cough").addEventListener("click", () => showCough(!coughing));
deviceCheck($("booth-device-check"), (key) => b(`test_${key}`));

$("take-mic").addEventListener("click", () => run(connection, "take_mic"));
$("release-mic").addEventListener("click", () => run(connection, "release_mic"));
$("request-handover").addEventListener("click", () => run(connection, "request_handover"));
$("cancel-handover").addEventListener("click", () => run(connection, "cancel_handover"));
$("accept-handover").addEventListener("click", () => run(connection, "answer_handover", { accept: true }));
$("decline-handover").addEventListener("click", () => run(connection, "answer_handover", { accept: false }));
$("slow-down").addEventListener("click", () => run(connection, "slow_down"));
$("source").addEventListener("change", () => run(connection, "set_source", { source: $("source").value }));
$("take-relay").addEventListener("click", () => run(connection, "set_source", { source: $("take-relay").dataset.source }));
$("auto-relay").addEventListener("change", () => run(connection, "set_auto_relay", { enabled: $("auto-relay").checked }));

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("chat-text");
  if (!input.value.trim()) return;
  if (await run(connection, "send_booth_message", { text: input.value })) input.value = "";
});

$("caption-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("caption-text");
  if (!input.value.trim()) return;
  if (await run(connection, "send_caption", { text: input.value })) input.value = "";
});

connection.start();
openMedia();
