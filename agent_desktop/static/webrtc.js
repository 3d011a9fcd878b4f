// The softphone's audio: one RTCPeerConnection to the server per page, negotiated at
// sign-in and kept across calls. The page offers, the server (aiortc) answers; no
// trickle ICE (aiortc gathers before answering), so the offer waits for gathering.
// `signal(offer)` carries {type, sdp} to the server and resolves with its answer.

const RAW_MIC = {echoCancellation: false, noiseSuppression: false, autoGainControl: false};

function waitFor(ok, ms, what) {
  return new Promise((resolve, reject) => {
    if (ok()) { resolve(); return; }
    const timer = setInterval(() => { if (ok()) { clearInterval(timer); clearTimeout(limit); resolve(); } }, 10);
    const limit = setTimeout(() => { clearInterval(timer); reject(new Error('timeout: ' + what)); }, ms);
  });
}

export class AgentAudio {
  constructor(output) {
    this.output = output;       // an <audio> element (not muted: headless sinks need that)
    this.pc = null;
    this.mic = null;
    this.analyser = null;
    this.onstate = () => {};
  }

  // Telephone speech must reach the caller unchanged: no processing of the mic.
  async start(signal) {
    if (!this.mic) this.mic = await navigator.mediaDevices.getUserMedia({audio: RAW_MIC});
    this.close();
    const pc = this.pc = new RTCPeerConnection();
    this.mic.getTracks().forEach(track => pc.addTrack(track, this.mic));
    pc.ontrack = event => this._play(new MediaStream([event.track]));
    pc.onconnectionstatechange = () => this.onstate(pc.connectionState);
    await pc.setLocalDescription(await pc.createOffer());
    await waitFor(() => pc.iceGatheringState === 'complete', 5000, 'ICE gathering');
    const answer = await signal({type: 'offer', sdp: pc.localDescription.sdp});
    if (this.pc !== pc) return;   // a newer start() took over meanwhile
    await pc.setRemoteDescription(answer);
  }

  get state() { return this.pc ? this.pc.connectionState : 'none'; }

  _play(stream) {
    this.output.srcObject = stream;
    const ctx = this.context || (this.context = new AudioContext());
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 8192;
    ctx.createMediaStreamSource(stream).connect(this.analyser);
  }

  // The loudest frequency of what the agent hears now (for tests and the level meter).
  peak() {
    if (!this.analyser) return {hz: 0, db: -Infinity};
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    this.analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return {hz: Math.round(best * this.context.sampleRate / this.analyser.fftSize), db: Math.round(bins[best])};
  }

  close() {
    if (this.pc) { this.pc.onconnectionstatechange = null; this.pc.close(); this.pc = null; }
  }
}
