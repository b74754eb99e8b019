// The listener's playout against a network that drops and delays packets.
// Run by bench/audio_loss.py in Chromium (or directly: node bench/audio_loss.js).
//
// A voice sends a 20 ms Opus packet every 20 ms of its own clock (which may
// run fast: drift). Each packet is lost with some probability (in bursts
// when asked), or delayed: a base delay plus a random extra whose 95th
// percentile is the jitter asked for. The WebSocket keeps order, so a late
// packet holds back the ones behind it. Two players hear it:
//
// - "before": static/media.js as it was: each packet scheduled on arrival,
//   80 ms behind the first, back to 80 ms behind whenever it ran dry; a lost
//   packet was never played (a cut in the sound);
// - "after": static/jitter.js (Playout), pulled every 20 ms as the playout
//   worklet pulls it, with FEC and concealment.
//
// Per player: the added latency (when a packet is played, minus when it was
// sent and the network's base delay; p50 and p95), and the share of the
// sender's 20 ms frames that came out as a gap (silence inserted, or a lost
// packet cut out), as concealed (the decoder's PLC, lost or late), as
// rebuilt from FEC, or dropped to take drift back.

import { Playout, FRAME_MS } from "../static/jitter.js";

function random(seed) {
  // mulberry32: the same network for both players, and for every run of a seed.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next) {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** The packets as the listener gets them: [{index, sentMs, arrivedMs}] in arrival order. */
export function network({ seconds, lossPercent, jitterMs, driftPpm = 0, burst = 1, baseMs = 30, seed = 1 }) {
  const next = random(seed);
  const count = Math.round((seconds * 1000) / FRAME_MS);
  // |N(0, sigma)| has its 95th percentile at 1.96 sigma.
  const sigma = jitterMs / 1.96;
  const packets = [];
  let lastArrival = 0;
  let losing = 0;
  for (let index = 0; index < count; index += 1) {
    const sentMs = index * FRAME_MS * (1 - driftPpm / 1e6);
    if (losing > 0 || next() < lossPercent / 100 / burst) {
      losing = losing > 0 ? losing - 1 : burst - 1;
      continue;
    }
    const arrivedMs = Math.max(lastArrival, sentMs + baseMs + Math.abs(gaussian(next)) * sigma);
    lastArrival = arrivedMs;
    packets.push({ index, sentMs, arrivedMs });
  }
  return { count, packets, baseMs };
}

function percentile(values, share) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] : NaN;
}

export function before({ count, packets, baseMs }) {
  const JITTER_MS = 80;
  let nextTime = null;
  let gapFrames = 0;
  const latencies = [];
  let previous = -1;
  for (const packet of packets) {
    gapFrames += packet.index - previous - 1; // lost: cut out of the sound
    previous = packet.index;
    const now = packet.arrivedMs;
    if (nextTime === null || nextTime < now || nextTime > now + 1000) {
      if (nextTime !== null && nextTime < now) gapFrames += (now + JITTER_MS - nextTime) / FRAME_MS; // silence until restarted
      nextTime = now + JITTER_MS;
    }
    latencies.push(nextTime - packet.sentMs - baseMs);
    nextTime += FRAME_MS;
  }
  gapFrames += count - 1 - previous;
  return summary(count, latencies, { gaps: gapFrames });
}

export function after({ count, packets, baseMs }) {
  const playout = new Playout();
  const sent = new Map(packets.map((packet) => [packet.index, packet.sentMs]));
  const latencies = [];
  let arrived = 0;
  let started = false;
  let silentWhilePlaying = 0;
  const end = packets.at(-1).arrivedMs + 1000;
  for (let now = packets[0].arrivedMs; now < end; now += FRAME_MS) {
    while (arrived < packets.length && packets[arrived].arrivedMs <= now) {
      const packet = packets[arrived];
      playout.arrive(packet.index * FRAME_MS * 1000, packet.arrivedMs, packet.index);
      arrived += 1;
    }
    const out = playout.next(now);
    if (out.kind === "packet") {
      started = true;
      latencies.push(now - sent.get(out.packet) - baseMs);
    } else if (out.kind === "silence" && started && arrived < packets.length) {
      silentWhilePlaying += 1;
    }
  }
  const { fec, concealed, expanded, skipped, late } = playout.stats;
  return summary(count, latencies, {
    gaps: silentWhilePlaying,
    concealed: concealed + expanded,
    rebuilt: fec,
    dropped: skipped + late,
    target: playout.targetMs,
  });
}

function summary(count, latencies, shares) {
  const share = (frames) => (100 * (frames ?? 0)) / count;
  return {
    latencyP50: percentile(latencies, 0.5),
    latencyP95: percentile(latencies, 0.95),
    gapPercent: share(shares.gaps),
    concealedPercent: share(shares.concealed),
    rebuiltPercent: share(shares.rebuilt),
    droppedPercent: share(shares.dropped),
    targetMs: shares.target ?? null,
  };
}

export const SCENARIOS = [
  { name: "clean network", lossPercent: 0, jitterMs: 5 },
  { name: "5% loss, 40 ms jitter", lossPercent: 5, jitterMs: 40 },
  { name: "5% loss in bursts of 3, 40 ms jitter", lossPercent: 5, jitterMs: 40, burst: 3 },
  { name: "1% loss, 100 ms jitter", lossPercent: 1, jitterMs: 100 },
  { name: "2% loss, 40 ms jitter, sender clock +500 ppm", lossPercent: 2, jitterMs: 40, driftPpm: 500 },
  { name: "2% loss, 40 ms jitter, sender clock -500 ppm", lossPercent: 2, jitterMs: 40, driftPpm: -500 },
];

/** Every scenario for each seed: {scenario: {before: [...], after: [...]}}. */
export function run({ seconds = 120, seeds = [1, 2, 3] } = {}) {
  const results = {};
  for (const scenario of SCENARIOS) {
    results[scenario.name] = { before: [], after: [] };
    for (const seed of seeds) {
      const heard = network({ ...scenario, seconds, seed });
      results[scenario.name].before.push(before(heard));
      results[scenario.name].after.push(after(heard));
    }
  }
  return results;
}

if (typeof process !== "undefined" && import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(run(), null, 1));
}
