// When each 20 ms of a voice is played: the jitter buffer of a listener.
//
// Plain logic, no audio and no DOM: the playout worklet runs it on the
// audio clock, and bench/audio_loss.py runs it against a network that drops
// and delays packets. It is a pull model (as WebRTC's NetEq): every 20 ms
// the audio thread asks for the next frame, and gets a packet to decode, a
// packet to rebuild from the next one's FEC data, a frame to conceal, or
// silence.
//
// - The delay it keeps adapts to the jitter measured: the 95th percentile
//   of how much later than the quickest packet of the last few seconds the
//   packets arrive, plus a margin (not a fixed 80 ms).
// - A missing packet with newer ones behind it is lost (the WebSocket keeps
//   order, so it is not coming): rebuilt from the next packet's in-band FEC
//   when that has arrived, concealed by the decoder otherwise.
// - Nothing to play yet (a late packet): the decoder conceals up to
//   EXPAND_FRAMES, holding the place; then silence, and after a pause the
//   voice starts again at the delay it needs then.
// - Clock drift, and a delay grown larger than needed, are taken back by
//   dropping one frame now and then (at most every SKIP_EVERY frames), so
//   the delay stays at its target instead of growing.

export const FRAME_MS = 20;
const WINDOW = 150; // packets measured: 3 s
const QUANTILE = 0.95;
const MARGIN_MS = 5;
const MIN_TARGET_MS = 20;
const MAX_TARGET_MS = 500;
const MAX_BUFFERED = 100; // 2 s: beyond, the oldest go
const EXPAND_FRAMES = 3;
const RESTART_AFTER = 10; // frames of silence before waiting afresh
const SKIP_EVERY = 10;
const RESET_SLOTS = 250; // a jump of 5 s: the publisher started again

export class Playout {
  constructor({ frameMs = FRAME_MS } = {}) {
    this.frameMs = frameMs;
    this.buffer = new Map(); // slot -> packet
    this.transits = [];
    this.floor = 0; // the quickest transit of the window
    this.targetMs = 60; // until measured
    this.playSlot = null;
    this.newest = null;
    this.starved = 0;
    this.sinceSkip = 0;
    this.stats = { played: 0, fec: 0, concealed: 0, expanded: 0, silent: 0, skipped: 0, late: 0, restarted: 0 };
  }

  slotOf(timestampUs) {
    return Math.round(timestampUs / (this.frameMs * 1000));
  }

  /** A packet with the publisher's timestamp arrived at ``nowMs`` (the playout clock). */
  arrive(timestampUs, nowMs, packet) {
    const slot = this.slotOf(timestampUs);
    if (this.newest !== null && Math.abs(slot - this.newest) > RESET_SLOTS) this.reset();
    if (this.playSlot !== null && slot < this.playSlot) {
      this.stats.late += 1; // its time was concealed already
      return;
    }
    this.buffer.set(slot, packet);
    this.newest = this.newest === null ? slot : Math.max(this.newest, slot);
    while (this.buffer.size > MAX_BUFFERED) this.buffer.delete(Math.min(...this.buffer.keys()));
    this.measure(nowMs - slot * this.frameMs);
  }

  measure(transit) {
    this.transits.push(transit);
    if (this.transits.length > WINDOW) this.transits.shift();
    this.floor = Math.min(...this.transits);
    const late = this.transits.map((value) => value - this.floor).sort((a, b) => a - b);
    const jitter = late[Math.min(late.length - 1, Math.floor(QUANTILE * late.length))];
    this.targetMs = Math.max(MIN_TARGET_MS, Math.min(MAX_TARGET_MS, jitter + MARGIN_MS));
  }

  /** The slot that should be playing at ``nowMs`` for the target delay (fractional). */
  idealSlot(nowMs) {
    return (nowMs - this.floor - this.targetMs) / this.frameMs;
  }

  reset() {
    this.buffer.clear();
    this.transits = [];
    this.playSlot = null;
    this.newest = null;
    this.starved = 0;
  }

  /** The next 20 ms: {kind: "packet", packet, skipped?} | {kind: "fec", packet} | {kind: "conceal"} | {kind: "silence"}. */
  next(nowMs) {
    this.sinceSkip += 1;
    if (this.playSlot === null && !this.start(nowMs)) {
      this.stats.silent += 1;
      return { kind: "silence" };
    }
    const packet = this.buffer.get(this.playSlot);
    if (packet !== undefined) {
      this.starved = 0;
      this.buffer.delete(this.playSlot);
      this.playSlot += 1;
      const following = this.buffer.get(this.playSlot);
      // Later than it needs to be (drift, or jitter that has calmed): drop a frame.
      if (following !== undefined && this.sinceSkip >= SKIP_EVERY && this.playSlot - 1 < this.idealSlot(nowMs) - 1.5) {
        this.sinceSkip = 0;
        this.stats.skipped += 1;
        this.stats.played += 1;
        this.buffer.delete(this.playSlot);
        this.playSlot += 1;
        return { kind: "packet", packet: following, skipped: packet };
      }
      this.stats.played += 1;
      return { kind: "packet", packet };
    }
    if (this.newest !== null && this.newest > this.playSlot) {
      // Lost: the ones after it are here.
      this.starved = 0;
      this.playSlot += 1;
      const following = this.buffer.get(this.playSlot);
      if (following !== undefined) {
        this.stats.fec += 1;
        return { kind: "fec", packet: following };
      }
      this.stats.concealed += 1;
      return { kind: "conceal" };
    }
    // Late: hold the place while the decoder conceals, then fall silent.
    this.starved += 1;
    if (this.starved <= EXPAND_FRAMES) {
      this.stats.expanded += 1;
      return { kind: "conceal" };
    }
    if (this.starved > RESTART_AFTER) {
      this.playSlot = null;
      this.stats.restarted += 1;
    }
    this.stats.silent += 1;
    return { kind: "silence" };
  }

  /** Start (or start again) once the oldest packet waiting is due. */
  start(nowMs) {
    if (!this.buffer.size) return false;
    const oldest = Math.min(...this.buffer.keys());
    const due = Math.floor(this.idealSlot(nowMs));
    if (oldest > due) return false;
    // Older packets than the delay needs are dropped, not played late.
    for (const slot of [...this.buffer.keys()]) if (slot < due) this.buffer.delete(slot);
    this.playSlot = Math.max(oldest, due);
    this.starved = 0;
    return true;
  }
}
