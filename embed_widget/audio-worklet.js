/* AudioWorklet processors for the relay transport: microphone capture to PCM16 24 kHz mono in
   20 ms frames, and playback of the assistant's PCM16 24 kHz audio with position reports (the
   server truncates the assistant's item at the position actually heard when the visitor
   interrupts). Both resample when the context does not run at 24 kHz. */
const RATE = 24000;
const FRAME = 480; // 20 ms at 24 kHz

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / RATE;
    this.pos = 0;
    this.buf = new Int16Array(FRAME);
    this.n = 0;
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (; this.pos < ch.length; this.pos += this.step) {
      const s = Math.max(-1, Math.min(1, ch[this.pos | 0]));
      this.buf[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.n === FRAME) {
        this.port.postMessage(this.buf.buffer, [this.buf.buffer]);
        this.buf = new Int16Array(FRAME);
        this.n = 0;
      }
    }
    this.pos -= ch.length;
    return true;
  }
}

class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = RATE / sampleRate;
    this.queue = [];
    this.offset = 0; // fractional read position (24 kHz samples) in queue[0]
    this.item = null;
    this.played = 0; // 24 kHz samples of the current item already played
    this.sinceReport = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "push") this.queue.push({ item: m.item, samples: m.samples });
      else if (m.type === "flush") { this.report(true); this.queue = []; this.offset = 0; }
    };
  }
  report(drained) {
    if (this.item !== null)
      this.port.postMessage({ type: "pos", item: this.item, played_ms: Math.round(this.played / 24), drained: drained });
    this.sinceReport = 0;
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.queue.length) {
      const head = this.queue[0];
      if (head.item !== this.item) { this.item = head.item; this.played = 0; }
      const idx = this.offset | 0;
      if (idx >= head.samples.length) { this.queue.shift(); this.offset -= head.samples.length; continue; }
      out[i++] = head.samples[idx];
      this.offset += this.step;
      this.played += this.step;
    }
    const wasPlaying = i > 0;
    for (; i < out.length; i++) out[i] = 0;
    this.sinceReport += out.length;
    if (wasPlaying && !this.queue.length) this.report(true);
    else if (wasPlaying && this.sinceReport >= sampleRate / 4) this.report(false);
    return true;
  }
}

registerProcessor("pcm-capture", Capture);
registerProcessor("pcm-player", Player);
