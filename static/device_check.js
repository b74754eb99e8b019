// Testing the microphone and the speakers before it matters: the participant
// page and the booth console both have it (server/templates/_device_check.html).
// The bar follows the microphone for five seconds; a short tone plays.

/** Wire the check inside ``root``; ``say(key)`` gives the texts "speak", "done", "failed". */
export function deviceCheck(root, say) {
  const button = root.querySelector(".device-test");
  const level = root.querySelector(".device-level");
  const status = root.querySelector(".device-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    let media = null;
    const context = new AudioContext();
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: true });
      const analyser = context.createAnalyser();
      analyser.fftSize = 512;
      context.createMediaStreamSource(media).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      status.textContent = say("speak");
      const tone = context.createOscillator();
      const gain = context.createGain();
      gain.gain.value = 0.1;
      tone.connect(gain).connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.4);
      const until = performance.now() + 5000;
      await new Promise((resolve) => {
        const measure = () => {
          analyser.getFloatTimeDomainData(samples);
          level.value = Math.min(1, Math.sqrt(samples.reduce((sum, v) => sum + v * v, 0) / samples.length) * 4);
          if (performance.now() < until) requestAnimationFrame(measure);
          else resolve();
        };
        measure();
      });
      status.textContent = say("done");
    } catch {
      status.textContent = say("failed");
    } finally {
      media?.getTracks().forEach((track) => track.stop());
      context.close().catch(() => {});
      level.value = 0;
      button.disabled = false;
    }
  });
}
