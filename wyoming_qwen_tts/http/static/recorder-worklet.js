// AudioWorklet that hands the microphone's samples (mono Float32) to the page in blocks.
// The page encodes them as a 16-bit WAV: Chromium's MediaRecorder only writes webm/opus,
// which the server's audio reader (libsndfile) cannot read.
class PcmRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(4096);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        this.post();
        this.port.postMessage("flushed");
      }
    };
  }

  post() {
    if (this.filled > 0) {
      this.port.postMessage(this.block.slice(0, this.filled));
      this.filled = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let offset = 0;
      while (offset < channel.length) {
        const take = Math.min(channel.length - offset, this.block.length - this.filled);
        this.block.set(channel.subarray(offset, offset + take), this.filled);
        this.filled += take;
        offset += take;
        if (this.filled === this.block.length) this.post();
      }
    }
    return true;
  }
}

registerProcessor("pcm-recorder", PcmRecorder);
