// The listening panel of the participant page: the language picker, the
// original underneath, sign-language video, captions, and the speaker's own
// microphone, which goes to the floor while they hold it.

import { TribuneMedia } from "./media.js";
import { deviceCheck } from "./device_check.js";
import { languageName, pageConfig, pageConnection, t } from "./tribune.js";

const { session_id: sessionId } = pageConfig();
const picker = document.getElementById("listen-channel");
const original = document.getElementById("listen-original");
const originalField = document.getElementById("listen-original-field");
const toggle = document.getElementById("listen-toggle");
const meter = document.getElementById("listen-level");
const notice = document.getElementById("listen-notice");
const micNotice = document.getElementById("speaker-mic");
const counts = document.getElementById("listen-counts");
const video = document.getElementById("listen-video");
const captionsLanguage = document.getElementById("listen-captions-language");
const captions = document.getElementById("listen-captions");

const CHANNEL = "tribune.listen.channel";
const ORIGINAL = "tribune.listen.original";
const LISTENING = "tribune.listen.on";
const CAPTIONS = "tribune.listen.captions";
const CAPTION_LINES = 3;

const link = TribuneMedia.open(sessionId);
let listening = false;
let snapshot = null;
// The floor microphone: "off", "starting", "on"; and why it is on: "speech"
// (this person holds the floor) or "manual" (the chair or the room feed's button).
let floorMic = "off";
let floorMicReason = null;
let yielded = null; // the speech during which the microphone was taken over
let lastConnection = null;
const floorMicField = document.getElementById("floor-mic-field");
const floorTurn = document.getElementById("floor-turn");
const openMic = document.getElementById("open-mic");
const muteField = document.getElementById("mute-mic-field");
const muteButton = document.getElementById("mute-mic");
// The speech the person opened (or muted) their microphone for: asked once per speech.
let answeredFor = null;
let muted = false;
const floorMicButton = document.getElementById("floor-mic");
// Roles that may speak into the floor whoever holds it.
const FLOOR_VOICES = ["chair", "moderator", "organizer", "room_feed"];

function remembered(select, key) {
  const value = localStorage.getItem(key);
  if (value !== null && [...select.options].some((option) => option.value === value)) select.value = value;
}

remembered(picker, CHANNEL);
remembered(captionsLanguage, CAPTIONS);
if (localStorage.getItem(ORIGINAL) !== null) original.value = localStorage.getItem(ORIGINAL);
link.setOriginalVolume(Number(original.value) / 100);

function listen() {
  const channel = picker.value;
  video.hidden = channel !== "ils";
  originalField.hidden = channel === "floor";
  link.listen(channel, { video: channel === "ils" ? video : null });
}

function setListening(on) {
  listening = on;
  localStorage.setItem(LISTENING, on ? "1" : "");
  toggle.textContent = on ? t("listen.stop") : t("listen.start");
  toggle.setAttribute("aria-pressed", String(on));
  if (on) listen();
  else {
    link.stopListening();
    video.hidden = true;
    notice.hidden = true;
  }
}

toggle.addEventListener("click", () => setListening(!listening));
picker.addEventListener("change", () => {
  localStorage.setItem(CHANNEL, picker.value);
  if (listening) listen();
});
original.addEventListener("input", () => {
  localStorage.setItem(ORIGINAL, original.value);
  link.setOriginalVolume(Number(original.value) / 100);
});
captionsLanguage.addEventListener("change", () => {
  localStorage.setItem(CAPTIONS, captionsLanguage.value);
  captions.replaceChildren();
  captions.hidden = true;
});
// Sound may start only after a gesture; any click on the page will do.
document.addEventListener("click", () => link.audioContext(), { once: true });

setInterval(() => {
  meter.value = listening ? link.level() : 0;
}, 150);

link.onStatus((status) => {
  switch (status.type) {
    case "listening": {
      const name = languageName(snapshot, status.channel);
      notice.hidden = !status.fallback;
      if (status.fallback === "floor_language") notice.textContent = t("listen.floor_language", { language: name });
      else if (status.fallback) notice.textContent = t("listen.no_interpretation", { language: name });
      break;
    }
    case "listeners": {
      const parts = Object.entries(status.counts).map(([channel, count]) => `${channel === "floor" ? t("listen.floor") : languageName(snapshot, channel)}: ${count}`);
      counts.textContent = t("listen.counts", { counts: parts.join(" · ") || "0" });
      counts.hidden = false;
      break;
    }
    case "publishing":
      if (status.channel === "floor") showMic(t("listen.mic_on"));
      break;
    case "sound_blocked":
    case "sound_allowed":
      notice.hidden = status.type === "sound_allowed";
      notice.textContent = status.type === "sound_blocked" ? t("listen.sound_blocked") : "";
      break;
    case "cut":
    case "refused":
    case "stopped":
      if (status.channel === "floor" || status.channel === undefined) {
        const was = floorMic;
        // Someone else (the chair) took the floor's microphone over during my
        // speech: do not take it back until the floor moves.
        if (status.code === "replaced" && floorMicReason === "speech") yielded = lastConnection?.floor?.current?.id ?? null;
        floorMic = "off";
        floorMicReason = null;
        if (was !== "off") showMic(status.type === "refused" ? t("listen.mic_refused") : "");
      }
      break;
    default:
  }
});

function showMic(text) {
  micNotice.textContent = text;
  micNotice.hidden = !text;
  const speaking = floorMicReason === "speech" || muted;
  muteField.hidden = !speaking;
  muteButton.textContent = muted ? t("listen.unmute") : t("listen.mute");
  muteButton.setAttribute("aria-pressed", String(muted));
  const manual = floorMic !== "off" && floorMicReason === "manual";
  floorMicButton.textContent = manual ? t("listen.mic_off") : t("listen.mic_put_on");
  floorMicButton.setAttribute("aria-pressed", String(manual));
}

async function putMicOnFloor(reason) {
  floorMic = "starting";
  floorMicReason = reason;
  try {
    await link.publish("floor", { audio: true, video: false });
    floorMic = "on";
    showMic(t("listen.mic_on"));
  } catch {
    floorMic = "off";
    showMic(t("listen.mic_refused"));
  }
}

function takeMicOff() {
  floorMic = "off";
  floorMicReason = null;
  link.unpublish();
  showMic("");
}

floorMicButton.addEventListener("click", () => {
  if (floorMic === "off") putMicOnFloor("manual");
  else takeMicOff();
});

/** Whether the speech in progress is this person's to speak. */
function holdsFloor(connection) {
  const me = connection.snapshot?.me;
  const speech = connection.floor?.current;
  if (!me || !speech) return false;
  if (speech.speaker_id !== null) return speech.speaker_id === me.id;
  return !speech.is_in_room && me.delegation !== null && speech.delegation.id === me.delegation.id;
}

async function followFloor(connection) {
  const me = connection.snapshot?.me;
  floorMicField.hidden = !me?.roles?.some((role) => FLOOR_VOICES.includes(role));
  lastConnection = connection;
  const mine = holdsFloor(connection) && connection.floor.current.id !== yielded;
  const speech = mine ? connection.floor.current.id : null;
  // The floor is theirs: they are told, and the microphone waits for them.
  const asking = mine && answeredFor !== speech && floorMic === "off";
  if (asking && floorTurn.hidden) chime();
  floorTurn.hidden = !asking;
  if (!mine) {
    answeredFor = null;
    if (muted) {
      muted = false;
      showMic("");
    }
    if (floorMic === "on" && floorMicReason === "speech") takeMicOff();
  }
}

openMic.addEventListener("click", async () => {
  answeredFor = lastConnection?.floor?.current?.id ?? null;
  floorTurn.hidden = true;
  muted = false;
  await putMicOnFloor("speech");
});

muteButton.addEventListener("click", async () => {
  if (muted) {
    muted = false;
    await putMicOnFloor("speech");
  } else {
    muted = true;
    takeMicOff();
    floorMicReason = null;
    showMic(t("listen.mic_muted"));
  }
});

/** A short two-note chime: the floor is yours (heard as well as shown). */
function chime() {
  try {
    const context = new AudioContext();
    const gain = context.createGain();
    gain.gain.value = 0.15;
    gain.connect(context.destination);
    [660, 880].forEach((frequency, index) => {
      const tone = context.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(context.currentTime + index * 0.18);
      tone.stop(context.currentTime + index * 0.18 + 0.15);
    });
    setTimeout(() => context.close(), 800);
  } catch {
    // No sound without a user's gesture in some browsers: the alert still says it.
  }
}

deviceCheck(document.getElementById("device-check"), (key) => t(`listen.test_${key}`));

function showCaption(data) {
  if (!data || data.language !== captionsLanguage.value) return;
  const line = document.createElement("p");
  line.textContent = data.text;
  line.lang = data.language;
  captions.append(line);
  while (captions.childElementCount > CAPTION_LINES) captions.firstElementChild.remove();
  captions.hidden = false;
}

const connection = pageConnection();
connection.on("snapshot", (message) => {
  snapshot = message;
});
connection.on("caption", (message) => showCaption(message.data));
connection.on("floor", () => followFloor(connection));

if (localStorage.getItem(LISTENING)) setListening(true);
