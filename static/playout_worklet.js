// The playout of one voice, on the audio thread (an AudioWorklet).
//
// Packets come from the page (MediaLink) through the port as they arrive;
// every 20 ms of output the jitter buffer (static/jitter.js) says what to
// play and libopus (static/opus.js) decodes it, conceals a lost packet, or
// rebuilds it from the next one's FEC data. Pulled by the audio clock, so
// the page's timers, busy or throttled, never decide when sound plays.

import { Opus, FRAME, SAMPLE_RATE } from "./opus.js";
import { Playout } from "./jitter.js";

let opus = null; // one libopus per worklet scope, shared by its voices
const FADE = 96; // 2 ms: the seam where a frame was dropped
const LEVEL_EVERY = 5; // frames between two level reports

class TribunePlayout extends AudioWorkletProcessor {
  constructor(options) {
    super();
    opus ??= new Opus(new WebAssembly.Module(options.processorOptions.opus));
    this.decoder = opus.decoder();
    this.playout = new Playout();
    this.frame = new Float32Array(FRAME);
    this.position = FRAME; // read position in this.frame, in 48 kHz samples
    this.step = SAMPLE_RATE / sampleRate;
    this.closed = false;
    this.frames = 0;
    this.energy = 0;
    this.port.onmessage = ({ data }) => {
      if (data.type === "packet") this.playout.arrive(data.timestamp, currentTime * 1000, data.packet);
      else if (data.type === "stats") this.port.postMessage({ type: "stats", stats: { ...this.playout.stats, targetMs: this.playout.targetMs } });
      else if (data.type === "close") this.close();
    };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.decoder.free();
  }

  /** The next 20 ms, as the jitter buffer decides. */
  pull() {
    const next = this.playout.next(currentTime * 1000);
    let samples;
    if (next.kind === "packet") {
      const dropped = next.skipped ? this.decoder.decode(next.skipped) : null;
      samples = this.decoder.decode(next.packet);
      if (dropped) {
        // The frame dropped to catch up fades into the one played: no click.
        for (let index = 0; index < FADE && index < samples.length; index += 1) {
          const share = index / FADE;
          samples[index] = dropped[index] * (1 - share) + samples[index] * share;
        }
      }
    } else if (next.kind === "fec") {
      // The lost packet rebuilt; the packet itself is played at its own turn.
      samples = this.decoder.decode(next.packet, true);
    } else if (next.kind === "conceal") {
      samples = this.decoder.decode(null);
    } else {
      samples = new Float32Array(FRAME);
    }
    this.report(samples);
    return samples;
  }

  report(samples) {
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    this.energy = Math.max(this.energy, Math.sqrt(sum / Math.max(1, samples.length)));
    this.frames += 1;
    if (this.frames % LEVEL_EVERY === 0) {
      this.port.postMessage({ type: "level", level: this.energy });
      this.energy = 0;
    }
  }

  process(inputs, outputs) {
    if (this.closed) return false;
    const out = outputs[0][0];
    for (let index = 0; index < out.length; index += 1) {
      if (this.position >= this.frame.length) {
        this.position -= this.frame.length;
        this.frame = this.pull();
      }
      // Linear interpolation when the context does not run at 48 kHz.
      const at = Math.floor(this.position);
      const share = this.position - at;
      const here = this.frame[at];
      const after = at + 1 < this.frame.length ? this.frame[at + 1] : here;
      out[index] = here + (after - here) * share;
      this.position += this.step;
    }
    for (let channel = 1; channel < outputs[0].length; channel += 1) outputs[0][channel].set(out);
    return true;
  }
}

registerProcessor("tribune-playout", TribunePlayout);
