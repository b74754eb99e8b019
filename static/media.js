// Media for the pages: one media socket per page (/sessions/{id}/media).
// Frames carry the header of docs/protocol.md ("Media socket"); the server
// forwards them untouched.
//
// Sound: the microphone is read by an AudioWorklet (static/capture_worklet.js)
// and encoded to Opus by WebCodecs' AudioEncoder, or by libopus in
// WebAssembly (static/opus.js) where the browser has no AudioEncoder: any
// current browser can speak. Each voice heard is played by a worklet of its
// own (static/playout_worklet.js): a jitter buffer that adapts to the
// network (static/jitter.js), libopus decoding with loss concealment and
// FEC. The floor's voices (speaker, chair, room) each have their own and the
// page mixes them. Video stays with WebCodecs (VP8).
//
//   const link = TribuneMedia.open(sessionId);
//   link.listen("fr", {video: element});  link.setOriginalVolume(0.2);
//   await link.publish("floor", {audio: true, video: false});  link.unpublish();
//   link.onStatus((status) => ...);  link.close();

import { Opus, OPUS_URL, FRAME, SAMPLE_RATE } from "./opus.js";

const VERSION = 1;
const KEY = 1;
const CONFIG = 2;
const AUDIO = 0;
const VIDEO = 1;
const HEADER = 16; // without the channel name
// Close codes after which reconnecting cannot help.
const FINAL = new Set([4401, 4403, 4404]);
const AUDIO_CONFIG = { codec: "opus", sampleRate: SAMPLE_RATE, numberOfChannels: 1 };
// Beyond this much unsent data, a publisher drops audio instead of queueing it.
const MAX_BUFFERED = 256 * 1024;
const VIDEO_KEY_EVERY = 50;
const VIDEO_EVERY_MS = 40;

/** The channel a frame's voice is heard in: ``floor`` for ``floor:12``. */
export function channelOf(voice) {
  return /^floor:\d+$/.test(voice) ? "floor" : voice;
}

export function encodeFrame(channel, stream, sequence, timestampUs, flags, payload) {
  const name = new TextEncoder().encode(channel);
  const frame = new Uint8Array(HEADER + name.length + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, flags);
  view.setUint8(2, stream);
  view.setUint8(3, name.length);
  frame.set(name, 4);
  view.setUint32(4 + name.length, sequence >>> 0);
  view.setBigUint64(8 + name.length, BigInt(Math.max(0, Math.round(timestampUs))));
  frame.set(new Uint8Array(payload.buffer ?? payload, payload.byteOffset ?? 0, payload.byteLength), HEADER + name.length);
  return frame;
}

export function decodeFrame(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < HEADER + 1 || view.getUint8(0) !== VERSION) return null;
  const flags = view.getUint8(1);
  const length = view.getUint8(3);
  const start = 4 + length;
  if (buffer.byteLength <= HEADER + length) return null;
  return {
    channel: new TextDecoder().decode(new Uint8Array(buffer, 4, length)),
    stream: view.getUint8(2),
    sequence: view.getUint32(start),
    timestamp: Number(view.getBigUint64(start + 4)),
    isKey: Boolean(flags & KEY),
    isConfig: Boolean(flags & CONFIG),
    payload: new Uint8Array(buffer, HEADER + length),
  };
}

function toBase64(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

function configPayload(config) {
  const plain = { ...config };
  const description = config.description;
  if (description) {
    plain.description = toBase64(ArrayBuffer.isView(description) ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength) : description);
  }
  return new TextEncoder().encode(JSON.stringify(plain));
}

function parseConfig(payload) {
  const config = JSON.parse(new TextDecoder().decode(payload));
  if (config.description) config.description = fromBase64(config.description);
  return config;
}

/** One voice's decoders and its place in the mix. */
class ChannelPlayer {
  constructor(link, name) {
    this.link = link;
    this.name = name; // the voice: "fr", or "floor:12"
    this.channel = channelOf(name);
    this.gain = null;
    this.playout = null; // its AudioWorkletNode, once made
    this.making = false;
    this.video = null;
    this.level = 0;
  }

  frame(frame) {
    if (frame.stream === AUDIO) this.audioFrame(frame);
    else this.videoFrame(frame);
  }

  audioFrame(frame) {
    if (frame.isConfig) {
      const config = parseConfig(frame.payload);
      if (config.codec !== "opus") this.link.status({ type: "unsupported", channel: this.channel, code: "no_audio_decoder" });
      return;
    }
    const context = this.link.audioContext();
    // Never our own voice back; and nothing piles up while sound is held back.
    if (!context || context.state !== "running" || this.name === this.link.voice) return;
    if (!this.playout) {
      this.makePlayout(context);
      return;
    }
    const packet = frame.payload.slice();
    this.playout.port.postMessage({ type: "packet", timestamp: frame.timestamp, packet }, [packet.buffer]);
  }

  makePlayout(context) {
    if (this.making) return;
    this.making = true;
    this.link
      .worklets()
      .then((opus) => {
        if (this.closed) return;
        const node = new AudioWorkletNode(context, "tribune-playout", {
          numberOfInputs: 0,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          processorOptions: { opus },
        });
        node.port.onmessage = ({ data }) => {
          if (data.type === "level") this.level = Math.max(data.level, this.level * 0.9);
          else if (data.type === "stats") this.link.stats.set(this.name, data.stats);
        };
        node.connect(this.output(context));
        this.playout = node;
      })
      .catch(() => this.link.status({ type: "unsupported", channel: this.channel, code: "no_audio_decoder" }));
  }

  output(context) {
    if (!this.gain) {
      this.gain = context.createGain();
      this.gain.connect(context.destination);
      this.link.mix();
    }
    return this.gain;
  }

  videoFrame(frame) {
    if (frame.isConfig) {
      this.video?.close?.();
      this.video = null;
      try {
        const decoder = new VideoDecoder({ output: (picture) => this.draw(picture), error: () => (this.video = null) });
        decoder.configure(parseConfig(frame.payload));
        this.video = decoder;
        this.waitingForKey = true;
      } catch {
        this.link.status({ type: "unsupported", channel: this.name, code: "no_video_decoder" });
      }
      return;
    }
    if (!this.video || this.video.state !== "configured") return;
    if (this.waitingForKey && !frame.isKey) return;
    this.waitingForKey = false;
    this.video.decode(new EncodedVideoChunk({ type: frame.isKey ? "key" : "delta", timestamp: frame.timestamp, data: frame.payload }));
  }

  draw(picture) {
    const canvas = this.link.canvas();
    if (canvas) {
      if (canvas.width !== picture.displayWidth) canvas.width = picture.displayWidth;
      if (canvas.height !== picture.displayHeight) canvas.height = picture.displayHeight;
      canvas.getContext("2d").drawImage(picture, 0, 0);
    }
    picture.close();
  }

  close() {
    this.closed = true;
    try {
      this.video?.close();
    } catch {
      // already closed
    }
    this.playout?.port.postMessage({ type: "close" });
    this.playout?.disconnect();
    this.gain?.disconnect();
  }
}

/** Capture, encode and send one channel (mic, and camera for sign language). */
class Publisher {
  constructor(link, channel, media) {
    this.link = link;
    this.channel = channel;
    this.media = media;
    this.sequence = [0, 0];
    this.stopped = false;
    this.encoders = [];
    this.tracks = media.getTracks();
    this.video = 0;
    this.configs = {};
    this.started = false;
    this.captured = 0; // samples read from the microphone, at 48 kHz
    this.capture = null;
    this.opusEncoder = null;
  }

  /** Publishing again on a new socket: the relay forgot our streams, so
   * their configuration goes first and video restarts with a key frame. */
  resume() {
    for (const [stream, payload] of Object.entries(this.configs)) this.send(Number(stream), CONFIG, 0, payload);
    this.video = 0;
  }

  send(stream, flags, timestamp, payload) {
    const socket = this.link.socket;
    if (this.stopped || !this.link.isPublishing || !socket || socket.readyState !== WebSocket.OPEN) return;
    // Configuration and key frames always go; audio waits for nobody.
    const needed = flags & CONFIG || (stream === VIDEO && flags & KEY);
    if (socket.bufferedAmount > MAX_BUFFERED && !needed) return;
    const sequence = this.sequence[stream]++;
    // Frames carry our voice's name (on the floor, "floor:" and our id).
    socket.send(encodeFrame(this.link.voice ?? this.channel, stream, sequence, timestamp, flags, payload));
  }

  emit(stream, chunk, metadata) {
    if (metadata?.decoderConfig) {
      this.configs[stream] = configPayload(metadata.decoderConfig);
      this.send(stream, CONFIG, chunk.timestamp, this.configs[stream]);
    }
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    this.send(stream, chunk.type === "key" ? KEY : 0, chunk.timestamp, data);
  }

  async start() {
    this.started = true;
    for (const track of this.tracks) {
      if (track.kind === "audio") await this.startAudio(track);
      else this.startVideo(track);
    }
  }

  /** The microphone through the capture worklet: 20 ms frames at 48 kHz. */
  async startAudio(track) {
    const context = this.link.audioContext();
    await context.resume();
    const opus = await this.link.worklets();
    if (typeof AudioEncoder === "undefined" || this.link.forceOpusWasm) {
      this.opusEncoder = new Opus(await WebAssembly.compile(opus)).encoder();
      this.configs[AUDIO] = new TextEncoder().encode(JSON.stringify(AUDIO_CONFIG));
      this.send(AUDIO, CONFIG, 0, this.configs[AUDIO]);
    }
    if (this.stopped) return;
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const node = new AudioWorkletNode(context, "tribune-capture", { numberOfInputs: 1, numberOfOutputs: 0 });
    node.port.onmessage = ({ data }) => this.encodeAudio(data);
    source.connect(node);
    this.capture = { source, node };
  }

  encodeAudio(samples) {
    if (this.stopped) return;
    const timestamp = Math.round((this.captured * 1e6) / SAMPLE_RATE);
    this.captured += samples.length;
    if (this.opusEncoder) {
      this.send(AUDIO, KEY, timestamp, this.opusEncoder.encode(samples));
      return;
    }
    if (!this.audioEncoder) {
      this.audioEncoder = new AudioEncoder({ output: (chunk, meta) => this.emit(AUDIO, chunk, meta), error: () => this.link.status({ type: "cut", channel: this.channel, code: "encoder" }) });
      // In-band FEC: a listener who loses a packet rebuilds it from the next.
      this.audioEncoder.configure({ ...AUDIO_CONFIG, bitrate: 32000, opus: { application: "voip", frameDuration: 20000, useinbandfec: true, packetlossperc: 10 } });
      this.encoders.push(this.audioEncoder);
    }
    const data = new AudioData({ format: "f32-planar", sampleRate: SAMPLE_RATE, numberOfFrames: FRAME, numberOfChannels: 1, timestamp, data: samples });
    this.audioEncoder.encode(data);
    data.close();
  }

  /** The camera: read by MediaStreamTrackProcessor where there is one, else
   * from a <video> element, a picture every 40 ms. */
  startVideo(track) {
    if (typeof MediaStreamTrackProcessor !== "undefined") {
      this.pump(new MediaStreamTrackProcessor({ track }).readable.getReader());
      return;
    }
    const element = document.createElement("video");
    element.muted = true;
    element.playsInline = true;
    element.srcObject = new MediaStream([track]);
    element.play().catch(() => {});
    const started = performance.now();
    this.videoTimer = setInterval(() => {
      if (element.readyState < 2 || this.stopped) return;
      const picture = new VideoFrame(element, { timestamp: Math.round((performance.now() - started) * 1000) });
      try {
        this.encodeVideo(picture);
      } finally {
        picture.close();
      }
    }, VIDEO_EVERY_MS);
  }

  async pump(reader) {
    while (!this.stopped) {
      const { value, done } = await reader.read();
      if (done) return;
      try {
        this.encodeVideo(value);
      } finally {
        value.close();
      }
    }
    reader.cancel().catch(() => {});
  }

  encodeVideo(picture) {
    if (!this.videoEncoder) {
      this.videoEncoder = new VideoEncoder({ output: (chunk, meta) => this.emit(VIDEO, chunk, meta), error: () => this.link.status({ type: "cut", channel: this.channel, code: "encoder" }) });
      this.videoEncoder.configure({ codec: "vp8", width: picture.codedWidth, height: picture.codedHeight, bitrate: 500000, framerate: 25, latencyMode: "realtime" });
      this.encoders.push(this.videoEncoder);
    }
    if (this.videoEncoder.encodeQueueSize > 2) return; // late: skip a picture rather than fall behind
    this.videoEncoder.encode(picture, { keyFrame: this.video % VIDEO_KEY_EVERY === 0 });
    this.video += 1;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.videoTimer);
    for (const track of this.tracks) track.stop();
    if (this.capture) {
      this.capture.node.port.postMessage("stop");
      this.capture.source.disconnect();
      this.capture = null;
    }
    this.opusEncoder?.free();
    this.opusEncoder = null;
    for (const encoder of this.encoders) {
      try {
        encoder.close();
      } catch {
        // already closed
      }
    }
  }
}

export class MediaLink {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.listening = null; // {channel, video}
    this.hearing = null;
    this.originalVolume = 0.3;
    this.players = new Map();
    this.listeners = [];
    this.publisher = null;
    this.publishing = null; // the channel we speak into, once the server agreed
    this.isPublishing = false;
    this.pendingPublish = null;
    this.closed = false;
    this.attempt = 0;
    this.context = null;
    this.counts = {};
    this.voice = null; // the name our frames carry, once publishing
    this.stats = new Map(); // each voice's playout figures, when asked (tests)
    this.loading = null;
    this.forceOpusWasm = false;
    this.muted = false;
    this.open();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/sessions/${this.sessionId}/media`;
  }

  open() {
    const socket = new WebSocket(this.url());
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      if (this.listening) this.sendListen();
      if (this.publisher) this.control({ type: "publish", channel: this.publisher.channel });
    });
    socket.addEventListener("message", (event) => (typeof event.data === "string" ? this.controlMessage(JSON.parse(event.data)) : this.frame(event.data)));
    socket.addEventListener("close", (event) => {
      if (socket !== this.socket || this.closed) return;
      this.isPublishing = false;
      if (FINAL.has(event.code)) {
        this.status({ type: "stopped", code: "closed" });
        return;
      }
      this.attempt += 1;
      const delay = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
      setTimeout(() => this.open(), delay);
    });
  }

  control(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  status(status) {
    for (const listener of this.listeners) listener(status);
  }

  onStatus(listener) {
    this.listeners.push(listener);
  }

  controlMessage(message) {
    switch (message.type) {
      case "listening":
        this.hearing = message.hearing;
        this.mix();
        this.status({ type: "listening", channel: message.channel, hearing: message.hearing, fallback: message.fallback });
        break;
      case "stopped":
        this.status({ type: "stopped", channel: null });
        break;
      case "publishing":
        this.publishing = message.channel;
        this.voice = message.voice ?? message.channel;
        this.isPublishing = true;
        if (this.publisher?.started) this.publisher.resume(); // after a reconnection
        this.pendingPublish?.resolve(message);
        this.pendingPublish = null;
        this.status({ type: "publishing", channel: message.channel });
        break;
      case "refused":
        this.pendingPublish?.reject(message);
        this.pendingPublish = null;
        this.stopPublisher();
        this.status({ type: "refused", channel: message.channel, code: message.code, message: message.message });
        break;
      case "cut":
      case "unpublished":
        this.stopPublisher();
        this.status({ type: message.type === "cut" ? "cut" : "stopped", channel: message.channel, code: message.code, message: message.message });
        break;
      case "listeners":
        this.counts = message.counts;
        this.status({ type: "listeners", counts: message.counts });
        break;
      case "error":
        this.status({ type: "error", code: message.code, message: message.message });
        break;
      default:
    }
  }

  frame(buffer) {
    const frame = decodeFrame(buffer);
    if (!frame) return;
    let player = this.players.get(frame.channel);
    if (!player) {
      player = new ChannelPlayer(this, frame.channel);
      this.players.set(frame.channel, player);
    }
    player.frame(frame);
  }

  audioContext() {
    if (!this.context && typeof AudioContext !== "undefined") {
      try {
        // Opus runs at 48 kHz: the browser resamples to the device, not us.
        this.context = new AudioContext({ latencyHint: "interactive", sampleRate: SAMPLE_RATE });
      } catch {
        this.context = new AudioContext({ latencyHint: "interactive" });
      }
      if (this.context.state === "suspended") {
        // The browser lets sound start only after a click or a key: resume
        // then, once, rather than asking (and being refused) at every frame.
        // Until then the page says so (status "sound_blocked"), or nobody knows why it is silent.
        this.status({ type: "sound_blocked" });
        const resume = () =>
          this.context
            .resume()
            .then(() => this.status({ type: "sound_allowed" }))
            .catch(() => {});
        for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resume, { once: true });
      }
    }
    return this.context;
  }

  /** The worklets added and libopus fetched, once per page; resolves to libopus's bytes. */
  worklets() {
    if (!this.loading) {
      const context = this.audioContext();
      this.loading = Promise.all([
        fetch(OPUS_URL).then((response) => {
          if (!response.ok) throw new Error(`opus: ${response.status}`);
          return response.arrayBuffer();
        }),
        context.audioWorklet.addModule("/static/playout_worklet.js"),
        context.audioWorklet.addModule("/static/capture_worklet.js"),
      ]).then(([bytes]) => bytes);
      this.loading.catch(() => (this.loading = null));
    }
    return this.loading;
  }

  /** Each voice's playout figures (played, concealed, rebuilt from FEC...). */
  async playoutStats() {
    for (const player of this.players.values()) player.playout?.port.postMessage({ type: "stats" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    return Object.fromEntries(this.stats);
  }

  canvas() {
    const holder = this.listening?.video;
    if (!holder) return null;
    if (holder instanceof HTMLCanvasElement) return holder;
    let canvas = holder.querySelector("canvas");
    if (!canvas) canvas = holder.appendChild(document.createElement("canvas"));
    return canvas;
  }

  /** What this page hears and sees now; switching is instant (no reconnect). */
  listen(channel, { video = null } = {}) {
    this.listening = { channel, video };
    this.audioContext();
    this.sendListen();
  }

  stopListening() {
    this.listening = null;
    this.control({ type: "stop" });
    for (const player of this.players.values()) player.close();
    this.players.clear();
  }

  sendListen() {
    const { channel } = this.listening;
    this.control({ type: "listen", channel, original: channel !== "floor" && this.originalVolume > 0 });
  }

  /** The floor mixed underneath an interpretation channel, 0..1. */
  setOriginalVolume(volume) {
    const before = this.originalVolume > 0;
    this.originalVolume = Math.max(0, Math.min(1, Number(volume)));
    if (this.listening && before !== this.originalVolume > 0) this.sendListen();
    this.mix();
  }

  mix() {
    const main = this.hearing ?? this.listening?.channel;
    for (const player of this.players.values()) {
      if (!player.gain) continue;
      // Every voice of a channel at the channel's volume: they are heard together.
      player.gain.gain.value = player.channel === main ? 1 : player.channel === "floor" ? this.originalVolume : 0;
    }
  }

  /** The loudest recent decoded level (0..1) of what this page hears. */
  level() {
    let level = 0;
    for (const player of this.players.values()) {
      level = Math.max(level, player.level);
      player.level *= 0.8;
    }
    return level;
  }

  async publish(channel, { audio = true, video = false } = {}) {
    this.unpublish();
    if (!navigator.mediaDevices?.getUserMedia || typeof AudioWorkletNode === "undefined" || typeof WebAssembly === "undefined") {
      this.status({ type: "refused", channel, code: "unsupported" });
      throw { code: "unsupported" };
    }
    const media = await navigator.mediaDevices.getUserMedia({
      audio: audio ? { echoCancellation: true, noiseSuppression: true, channelCount: 1 } : false,
      video: video ? { width: 640, height: 360, frameRate: 25 } : false,
    });
    const publisher = new Publisher(this, channel, media);
    this.publisher = publisher;
    const agreed = new Promise((resolve, reject) => (this.pendingPublish = { resolve, reject }));
    this.control({ type: "publish", channel });
    try {
      await agreed;
    } catch (refused) {
      publisher.stop();
      throw refused;
    }
    if (this.publisher === publisher) await publisher.start();
    return this;
  }

  /** Silence the microphone without leaving the channel (the booth's cough key). */
  setMuted(muted) {
    this.muted = Boolean(muted);
    for (const track of this.publisher?.tracks ?? []) if (track.kind === "audio") track.enabled = !this.muted;
  }

  stopPublisher() {
    this.muted = false;
    this.publisher?.stop();
    this.publisher = null;
    this.publishing = null;
    this.voice = null;
    this.isPublishing = false;
  }

  unpublish() {
    if (!this.publisher) return;
    this.stopPublisher();
    this.control({ type: "unpublish" });
  }

  close() {
    this.closed = true;
    TribuneMedia.links.splice(TribuneMedia.links.indexOf(this) >>> 0, 1);
    this.stopPublisher();
    for (const player of this.players.values()) player.close();
    this.socket?.close(1000);
    this.context?.close().catch(() => {});
  }
}

export const TribuneMedia = {
  // The page's open links, for whoever inspects the page (tests, support).
  links: [],
  open(sessionId) {
    const link = new MediaLink(sessionId);
    this.links.push(link);
    return link;
  },
};

window.TribuneMedia = TribuneMedia;
