// libopus in WebAssembly (static/vendor/opus/opus.wasm; its LICENSE is beside
// it). Two uses: the encoder of a browser whose WebCodecs has no Opus
// encoder (Firefox and Safari without AudioEncoder), and every listener's
// decoder, because concealing a lost packet (libopus's PLC) and recovering it
// from the next one (in-band FEC) is something WebCodecs does not expose.
// No DOM and no fetch here: the playout worklet imports this module too.

export const OPUS_URL = "/static/vendor/opus/opus.wasm";
export const SAMPLE_RATE = 48000;
export const FRAME = 960; // 20 ms at 48 kHz
const MAX_FRAME = 5760; // 120 ms, the longest Opus packet
const MAX_PACKET = 4000;
const APPLICATION_VOIP = 2048;
const SET_BITRATE = 4002;
const SET_INBAND_FEC = 4012;
const SET_PACKET_LOSS_PERC = 4014;

/** One instance of libopus; its encoders and decoders share its memory. */
export class Opus {
  constructor(module) {
    const noop = () => 0;
    const instance = new WebAssembly.Instance(module, {
      wasi_snapshot_preview1: { fd_seek: noop, fd_write: noop, fd_close: noop, proc_exit: noop },
      env: { emscripten_notify_memory_growth: noop },
    });
    this.wasm = instance.exports;
    this.pcm = this.wasm.malloc(MAX_FRAME * 2 * 2);
    this.packet = this.wasm.malloc(MAX_PACKET);
  }

  // Views are made again whenever memory grew (growing detaches the old buffer).
  bytes(pointer, length) {
    return new Uint8Array(this.wasm.memory.buffer, pointer, length);
  }

  samples(length) {
    return new Int16Array(this.wasm.memory.buffer, this.pcm, length);
  }

  check(code) {
    if (code < 0) throw new Error(`opus error ${code}`);
    return code;
  }

  encoder({ bitrate = 32000, lossPercent = 10 } = {}) {
    const state = this.wasm.malloc(this.wasm.opus_encoder_get_size(1));
    this.check(this.wasm.opus_encoder_init(state, SAMPLE_RATE, 1, APPLICATION_VOIP));
    this.check(this.wasm.opus_encoder_ctl_set(state, SET_BITRATE, bitrate));
    // Each packet also carries a coarse copy of the one before: a listener
    // who loses a packet rebuilds it from the next.
    this.check(this.wasm.opus_encoder_ctl_set(state, SET_INBAND_FEC, 1));
    this.check(this.wasm.opus_encoder_ctl_set(state, SET_PACKET_LOSS_PERC, lossPercent));
    return {
      /** 20 ms of mono float samples at 48 kHz -> one Opus packet. */
      encode: (floats) => {
        const pcm = this.samples(FRAME);
        for (let index = 0; index < FRAME; index += 1) {
          const sample = Math.max(-1, Math.min(1, floats[index] ?? 0));
          pcm[index] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
        }
        const length = this.check(this.wasm.opus_encode(state, this.pcm, FRAME, this.packet, MAX_PACKET));
        return this.bytes(this.packet, length).slice();
      },
      free: () => this.wasm.free(state),
    };
  }

  decoder() {
    const state = this.wasm.malloc(this.wasm.opus_decoder_get_size(1));
    this.check(this.wasm.opus_decoder_init(state, SAMPLE_RATE, 1));
    return {
      /** One packet's samples; with no packet, 20 ms concealed (PLC); with
       * ``fec``, the packet before ``packet`` rebuilt from its FEC data. */
      decode: (packet = null, fec = false) => {
        let length = 0;
        if (packet) {
          length = Math.min(packet.byteLength, MAX_PACKET);
          this.bytes(this.packet, length).set(packet.subarray(0, length));
        }
        const frames = this.check(
          this.wasm.opus_decode(state, packet ? this.packet : 0, length, this.pcm, fec || !packet ? FRAME : MAX_FRAME, fec ? 1 : 0),
        );
        const pcm = this.samples(frames);
        const out = new Float32Array(frames);
        for (let index = 0; index < frames; index += 1) out[index] = pcm[index] / 0x8000;
        return out;
      },
      free: () => this.wasm.free(state),
    };
  }
}
