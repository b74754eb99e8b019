// The microphone, on the audio thread (an AudioWorklet): mono, at 48 kHz,
// in 20 ms frames posted to the page, which encodes them (WebCodecs'
// AudioEncoder where there is one, libopus in WebAssembly elsewhere). Works
// in every current browser, unlike MediaStreamTrackProcessor (Chromium only).

const RATE = 48000;
const FRAME = 960;

class TribuneCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / RATE; // input samples per output sample
    this.position = 0;
    this.previous = 0;
    this.frame = new Float32Array(FRAME);
    this.filled = 0;
    this.stopped = false;
    this.port.onmessage = ({ data }) => {
      if (data === "stop") this.stopped = true;
    };
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (!input || !input.length) return true;
    const length = input[0].length;
    const mono = new Float32Array(length);
    for (const channel of input) for (let index = 0; index < length; index += 1) mono[index] += channel[index] / input.length;
    // Resampled to 48 kHz by linear interpolation (a no-op at 48 kHz).
    while (this.position < length) {
      const at = Math.floor(this.position);
      const share = this.position - at;
      const before = at === 0 ? this.previous : mono[at - 1];
      const sample = this.step === 1 ? mono[at] : before + (mono[at] - before) * share;
      this.frame[this.filled] = sample;
      this.filled += 1;
      if (this.filled === FRAME) {
        this.port.postMessage(this.frame, [this.frame.buffer]);
        this.frame = new Float32Array(FRAME);
        this.filled = 0;
      }
      this.position += this.step;
    }
    this.position -= length;
    this.previous = mono[length - 1];
    return true;
  }
}

registerProcessor("tribune-capture", TribuneCapture);
