// Media for the pages: one media socket per page (/sessions/{id}/media), the
// browser's own codecs (WebCodecs) in and out. Frames carry the header of
// docs/protocol.md ("Media socket"); the server forwards them untouched.
//
//   const link = TribuneMedia.open(sessionId);
//   link.listen("fr", {video: element});  link.setOriginalVolume(0.2);
//   await link.publish("floor", {audio: true, video: false});  link.unpublish();
//   link.onStatus((status) => ...);  link.close();

const VERSION = 1;
const KEY = 1;
const CONFIG = 2;
const AUDIO = 0;
const VIDEO = 1;
const HEADER = 16; // without the channel name
// Close codes after which reconnecting cannot help.
const FINAL = new Set([4401, 4403, 4404]);
// Playback starts this far behind the newest packet, to ride out network jitter.
const JITTER_S = 0.08;
// Beyond this much unsent data, a publisher drops audio instead of queueing it.
const MAX_BUFFERED = 256 * 1024;
const VIDEO_KEY_EVERY = 50;

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

/** One channel's decoders and its place in the mix. */
class ChannelPlayer {
  constructor(link, name) {
    this.link = link;
    this.name = name;
    this.gain = null;
    this.audio = null;
    this.video = null;
    this.nextTime = 0;
    this.level = 0;
  }

  frame(frame) {
    if (frame.stream === AUDIO) this.audioFrame(frame);
    else this.videoFrame(frame);
  }

  audioFrame(frame) {
    if (frame.isConfig) {
      this.audio?.close?.();
      this.audio = null;
      try {
        const decoder = new AudioDecoder({ output: (data) => this.play(data), error: () => (this.audio = null) });
        decoder.configure(parseConfig(frame.payload));
        this.audio = decoder;
      } catch {
        this.link.status({ type: "unsupported", channel: this.name, code: "no_audio_decoder" });
      }
      return;
    }
    if (!this.audio || this.audio.state !== "configured") return;
    this.audio.decode(new EncodedAudioChunk({ type: "key", timestamp: frame.timestamp, data: frame.payload }));
  }

  play(data) {
    const frames = data.numberOfFrames;
    const channels = data.numberOfChannels;
    const planes = [];
    let sum = 0;
    for (let index = 0; index < channels; index += 1) {
      const plane = new Float32Array(frames);
      data.copyTo(plane, { planeIndex: index, format: "f32-planar" });
      planes.push(plane);
      for (const sample of plane) sum += sample * sample;
    }
    const rms = Math.sqrt(sum / Math.max(1, frames * channels));
    this.level = Math.max(rms, this.level * 0.9);
    const sampleRate = data.sampleRate;
    data.close();
    const context = this.link.audioContext();
    if (!context || this.name === this.link.publishing) return; // never our own voice back
    const buffer = context.createBuffer(channels, frames, sampleRate);
    planes.forEach((plane, index) => buffer.copyToChannel(plane, index));
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output(context));
    const now = context.currentTime;
    if (this.nextTime < now || this.nextTime > now + 1) this.nextTime = now + JITTER_S;
    source.start(this.nextTime);
    this.nextTime += buffer.duration;
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
    for (const decoder of [this.audio, this.video]) {
      try {
        decoder?.close();
      } catch {
        // already closed
      }
    }
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
    socket.send(encodeFrame(this.channel, stream, sequence, timestamp, flags, payload));
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

  start() {
    this.started = true;
    for (const track of this.tracks) {
      if (typeof MediaStreamTrackProcessor === "undefined") throw { code: "unsupported" };
      const reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
      if (track.kind === "audio") this.pump(reader, (data) => this.encodeAudio(data));
      else this.pump(reader, (picture) => this.encodeVideo(picture));
    }
  }

  async pump(reader, encode) {
    while (!this.stopped) {
      const { value, done } = await reader.read();
      if (done) return;
      try {
        encode(value);
      } finally {
        value.close();
      }
    }
    reader.cancel().catch(() => {});
  }

  encodeAudio(data) {
    if (!this.audioEncoder) {
      this.audioEncoder = new AudioEncoder({ output: (chunk, meta) => this.emit(AUDIO, chunk, meta), error: () => this.link.status({ type: "cut", channel: this.channel, code: "encoder" }) });
      this.audioEncoder.configure({ codec: "opus", sampleRate: data.sampleRate, numberOfChannels: data.numberOfChannels, bitrate: 32000 });
      this.encoders.push(this.audioEncoder);
    }
    this.audioEncoder.encode(data);
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
    for (const track of this.tracks) track.stop();
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
      this.context = new AudioContext({ latencyHint: "interactive" });
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
    for (const [name, player] of this.players) {
      if (!player.gain) continue;
      player.gain.gain.value = name === main ? 1 : name === "floor" ? this.originalVolume : 0;
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
    if (!navigator.mediaDevices?.getUserMedia || typeof AudioEncoder === "undefined") {
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
    if (this.publisher === publisher) publisher.start();
    return this;
  }

  stopPublisher() {
    this.publisher?.stop();
    this.publisher = null;
    this.publishing = null;
    this.isPublishing = false;
  }

  unpublish() {
    if (!this.publisher) return;
    this.stopPublisher();
    this.control({ type: "unpublish" });
  }

  close() {
    this.closed = true;
    this.stopPublisher();
    for (const player of this.players.values()) player.close();
    this.socket?.close(1000);
    this.context?.close().catch(() => {});
  }
}

export const TribuneMedia = {
  open(sessionId) {
    return new MediaLink(sessionId);
  },
};

window.TribuneMedia = TribuneMedia;
