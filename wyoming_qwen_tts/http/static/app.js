// The voices page of wyoming-qwen-tts. Plain JavaScript, no build step, nothing from the internet.
// Every URL is relative ("v1/audio/voices", never "/v1/..."), so the page works at a server's
// own root and under Home Assistant ingress (/api/hassio_ingress/TOKEN/) alike.
"use strict";

(() => {
  const SAMPLE_RATE = 24000; // what "pcm" is: s16le, 24 kHz, mono
  const HISTORY_MAX = 20;
  const HEALTH_EVERY_MS = 5000;
  const MAX_RECORD_S = 30;
  const TOKEN_KEY = "wyoming-qwen-tts-token";
  const LANGUAGES = [
    ["auto", "Auto"], ["en", "English"], ["de", "German"], ["fr", "French"], ["es", "Spanish"],
    ["it", "Italian"], ["pt", "Portuguese"], ["ru", "Russian"], ["zh", "Chinese"],
    ["ja", "Japanese"], ["ko", "Korean"],
  ];
  const SAMPLES = {
    en: "Hello! This is how I sound.",
    de: "Hallo! So klingt meine Stimme.",
    fr: "Bonjour ! Voici ma voix.",
    es: "¡Hola! Así suena mi voz.",
    it: "Ciao! Questa è la mia voce.",
    pt: "Olá! Esta é a minha voz.",
    ru: "Привет! Так звучит мой голос.",
    zh: "你好！这就是我的声音。",
    ja: "こんにちは！これが私の声です。",
    ko: "안녕하세요! 제 목소리는 이렇습니다.",
  };
  const ERROR_FIELDS = { name: "error-name", audio: "error-audio", text: "error-text",
    transcript: "error-text", language: "error-language" };
  const INPUT_OF_ERROR = { "error-name": "add-name", "error-audio": "add-file",
    "error-text": "add-text", "error-language": "add-language" };

  const $ = (id) => document.getElementById(id);

  // Everything the page knows; window.qwenTts lets tests (and the curious) look at it.
  const state = {
    names: [],
    details: new Map(),
    design: false,
    canAdd: true,
    hints: new Map(), // voice name -> what to reload in Home Assistant
    history: [], // the last requests' figures, for the chart
    last: null, // the last request's figures
    lastError: null, // the last error answer: {status, message, param}
    audio: null, // the one AudioContext playback uses
    playback: null, // the request playing now
    recording: null,
    recorded: null, // the last recording, a WAV Blob
    preview: null, // the design preview: {id, url}
    micAvailable: false,
  };
  window.qwenTts = state;

  class ApiError extends Error {
    constructor(message, status, param) {
      super(message);
      this.status = status;
      this.param = param;
    }
  }

  // --- talking to the server -----------------------------------------------------------------

  function authHeaders(extra) {
    const headers = new Headers(extra || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return headers;
  }

  async function errorOf(response) {
    let message = `${response.status} ${response.statusText}`.trim();
    let param = null;
    try {
      const body = await response.json();
      if (body && body.error) {
        message = body.error.message || message;
        param = body.error.param ?? null;
      }
    } catch (_) { /* not JSON: keep the status line */ }
    state.lastError = { status: response.status, message, param };
    return new ApiError(message, response.status, param);
  }

  async function api(path, init = {}) {
    const response = await fetch(path, { ...init, headers: authHeaders(init.headers) });
    if (response.status === 401) {
      const error = await errorOf(response);
      showTokenBox();
      throw new ApiError(`${error.message} Enter the server's token above.`, 401, null);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  function showTokenBox() {
    const box = $("token-box");
    if (box.hidden) {
      box.hidden = false;
      $("token-input").focus();
    }
  }

  // --- small DOM helpers --------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "value" || key === "colSpan" || key === "disabled") node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function setText(id, text) { $(id).textContent = text; }

  function fillSelect(select, options, selected) {
    select.replaceChildren(...options.map(([value, label]) => el("option", { value, text: label })));
    if (selected !== undefined && options.some(([value]) => value === selected)) select.value = selected;
  }

  function languageName(code) {
    const found = LANGUAGES.find(([c]) => c === code);
    return found ? found[1] : code;
  }

  // --- voices --------------------------------------------------------------------------------

  async function loadVoices(highlight) {
    const body = await (await api("v1/audio/voices")).json();
    const details = new Map();
    for (const detail of body.details || []) details.set(detail.name, detail);
    const names = body.voices || [...details.keys()];
    for (const name of names) {
      if (!details.has(name)) details.set(name, { name, kind: "", languages: [], styles: [] });
    }
    state.names = names;
    state.details = details;
    state.design = Boolean(body.design);
    state.canAdd = body.can_add !== false;
    renderVoices(highlight);
    renderVoiceSelect();
    $("design-card").hidden = !state.design;
    $("add-submit").disabled = !state.canAdd;
    setText("add-state", state.canAdd ? "" : "This server has no Base model, so it cannot clone voices.");
  }

  function renderVoices(highlight) {
    const body = $("voices-body");
    if (state.names.length === 0) {
      body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, class: "muted", text: "No voices." })));
      return;
    }
    body.replaceChildren(...state.names.map((name) => {
      const voice = state.details.get(name);
      const languages = voice.languages || [];
      const nameCell = el("td", { class: "voice-name" },
        el("strong", { text: name }),
        voice.description ? el("div", { class: "muted small", text: voice.description }) : null);
      const hint = state.hints.get(name);
      if (hint) nameCell.append(el("div", { class: "hint", role: "note", text: hint }));
      const actions = el("td", { class: "actions" },
        el("button", { type: "button", class: "play", "data-action": "play", "data-voice": name,
          "aria-label": `Play a sample of ${name}`, title: "Play a sample", text: "▶ Play" }));
      if (voice.kind !== "premium") {
        actions.append(el("button", { type: "button", class: "ghost danger", "data-action": "remove",
          "data-voice": name, "aria-label": `Remove ${name}`, title: "Remove this voice", text: "Remove" }));
      }
      return el("tr", { "data-voice": name, class: name === highlight ? "new" : undefined },
        nameCell,
        el("td", {}, voice.kind ? el("span", { class: `badge ${voice.kind}`, text: voice.kind }) : "–"),
        el("td", { class: "langs", title: languages.map(languageName).join(", "),
          text: languages.length >= 10 ? `all ${languages.length}` : (languages.join(", ") || "–") }),
        el("td", { class: "styles", text: (voice.styles || []).join(", ") || "–" }),
        actions);
    }));
  }

  function renderVoiceSelect() {
    const select = $("try-voice");
    const previous = select.value;
    fillSelect(select, state.names.map((name) => [name, name]), previous);
    renderStyleSelect();
  }

  function renderStyleSelect() {
    const voice = state.details.get($("try-voice").value);
    const styles = (voice && voice.styles) || [];
    const select = $("try-style");
    fillSelect(select, [["", styles.length ? "(none)" : "(no styles)"],
      ...styles.map((s) => [s, s])], select.value);
    select.disabled = styles.length === 0;
  }

  function sampleLanguage(voice) {
    const languages = voice.languages || [];
    const preferred = (navigator.language || "").slice(0, 2).toLowerCase();
    if (languages.includes(preferred)) return preferred;
    return languages[0] || "en";
  }

  function showNotice(text) {
    const notice = $("voices-notice");
    notice.textContent = text;
    notice.hidden = !text;
  }

  async function removeVoice(name) {
    if (!window.confirm(`Remove the voice "${name}"? Its recording is deleted from the server.`)) return;
    try {
      const response = await api(`v1/audio/voices/${encodeURIComponent(name)}`, { method: "DELETE" });
      const body = await response.json().catch(() => ({}));
      state.hints.delete(name);
      const hint = reloadHint(body);
      showNotice([body.message || `Removed ${name}.`, hint].filter(Boolean).join(" "));
      await loadVoices();
    } catch (error) {
      showNotice(`Could not remove ${name}: ${error.message}`);
    }
    refreshHealth();
  }

  function reloadHint(body) {
    const reload = body && body.reload;
    return reload && !reload.done && reload.hint ? reload.hint : null;
  }

  // --- streaming playback --------------------------------------------------------------------

  function audioContext() {
    if (!state.audio || state.audio.state === "closed") {
      const Context = window.AudioContext || window.webkitAudioContext;
      state.audio = new Context({ sampleRate: SAMPLE_RATE });
    }
    if (state.audio.state === "suspended") state.audio.resume();
    return state.audio;
  }

  // Schedules s16le chunks on an AudioContext back to back, as they arrive.
  class PcmPlayer {
    constructor(context) {
      this.context = context;
      this.next = 0;
      this.carry = null; // an odd byte left over from the last chunk
      this.sources = new Set();
      this.scheduledSeconds = 0;
      this.chunks = 0;
      this.firstStart = null; // context time the first chunk plays at
      this.stopped = false;
    }

    push(bytes) {
      if (this.stopped) return;
      let data = bytes;
      if (this.carry !== null) {
        data = new Uint8Array(bytes.length + 1);
        data[0] = this.carry;
        data.set(bytes, 1);
        this.carry = null;
      }
      const usable = data.length - (data.length % 2);
      if (usable < data.length) this.carry = data[usable];
      const count = usable / 2;
      if (count === 0) return;
      const view = new DataView(data.buffer, data.byteOffset, usable);
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
      const buffer = this.context.createBuffer(1, count, SAMPLE_RATE);
      buffer.copyToChannel(samples, 0);
      const source = this.context.createBufferSource();
      source.buffer = buffer;
      source.connect(this.context.destination);
      const earliest = this.context.currentTime + 0.05; // a little lead against underruns
      if (this.next < earliest) this.next = earliest;
      source.start(this.next);
      if (this.firstStart === null) this.firstStart = this.next;
      this.next += buffer.duration;
      this.scheduledSeconds += buffer.duration;
      this.chunks += 1;
      this.sources.add(source);
      source.onended = () => this.sources.delete(source);
    }

    get remainingSeconds() {
      return Math.max(0, this.next - this.context.currentTime);
    }

    stop() {
      this.stopped = true;
      for (const source of this.sources) {
        try { source.stop(); } catch (_) { /* not started yet */ }
      }
      this.sources.clear();
    }
  }

  function setTryState(value, text) {
    const node = $("try-state");
    node.dataset.state = value;
    node.textContent = text;
  }

  function stopPlayback() {
    const playing = state.playback;
    if (!playing) return;
    state.playback = null;
    playing.controller.abort();
    playing.player.stop();
    clearTimeout(playing.doneTimer);
  }

  function showFigures(figures) {
    setText("stat-first-audio-ms", figures.firstAudioMs === null ? "–" : String(Math.round(figures.firstAudioMs)));
    setText("stat-audio-seconds", figures.audioSeconds.toFixed(2));
    setText("stat-rtf", figures.rtf === null ? "–" : figures.rtf.toFixed(2));
  }

  // POSTs a speech request for pcm and plays the body while it is still being generated.
  async function speak(request, errorNode) {
    stopPlayback();
    const player = new PcmPlayer(audioContext()); // created in the click: allowed to play
    const controller = new AbortController();
    const playing = { player, controller, voice: request.voice, doneTimer: 0 };
    state.playback = playing;
    errorNode.textContent = "";
    $("try-stop").disabled = false;
    setTryState("waiting", `Asking ${request.voice}…`);
    const figures = { at: new Date().toISOString(), voice: request.voice, input: request.input,
      instructions: request.instructions || null, firstAudioMs: null,
      audioSeconds: 0, elapsedSeconds: 0, rtf: null, bytes: 0 };
    const sent = performance.now();
    try {
      const response = await api("v1/audio/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...request, response_format: "pcm", stream_format: "audio" }),
        signal: controller.signal,
      });
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!value || value.length === 0) continue;
        if (figures.firstAudioMs === null) {
          figures.firstAudioMs = performance.now() - sent;
          setTryState("streaming", "Playing while it is generated…");
        }
        figures.bytes += value.length;
        figures.audioSeconds = Math.floor(figures.bytes / 2) / SAMPLE_RATE;
        player.push(value);
        showFigures(figures);
      }
      figures.elapsedSeconds = (performance.now() - sent) / 1000;
      figures.rtf = figures.elapsedSeconds > 0 ? figures.audioSeconds / figures.elapsedSeconds : null;
      figures.scheduledSeconds = player.scheduledSeconds;
      figures.chunks = player.chunks;
      // Playback had begun before the last byte came: the audio played while it was generated.
      figures.playedBeforeEnd = player.firstStart !== null && player.context.currentTime > player.firstStart;
      showFigures(figures);
      remember(figures);
      if (state.playback === playing) {
        setTryState("done", figures.bytes ? `Done: ${figures.audioSeconds.toFixed(2)} s of audio.` : "The server sent no audio.");
        playing.doneTimer = setTimeout(() => {
          if (state.playback === playing) {
            state.playback = null;
            $("try-stop").disabled = true;
          }
        }, player.remainingSeconds * 1000 + 100);
      }
    } catch (error) {
      if (error.name === "AbortError") {
        setTryState("stopped", "Stopped.");
      } else {
        setTryState("error", "");
        errorNode.textContent = error.message;
        if (state.playback === playing) state.playback = null;
      }
      if (!state.playback) $("try-stop").disabled = true;
    }
    refreshHealth();
  }

  function remember(figures) {
    state.last = figures;
    state.history.push(figures);
    if (state.history.length > HISTORY_MAX) state.history.splice(0, state.history.length - HISTORY_MAX);
    renderChart();
  }

  // --- the chart: two rows of bars in inline SVG ---------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderChart() {
    const chart = $("chart");
    const rows = [
      { key: "firstAudioMs", label: "First audio", unit: "ms", format: (v) => String(Math.round(v)), class: "bar-first" },
      { key: "rtf", label: "Real-time factor", unit: "×", format: (v) => v.toFixed(2), class: "bar-rtf" },
    ];
    const history = state.history;
    if (history.length === 0) return;
    const width = 320, rowHeight = 64, labelWidth = 0, gap = 2;
    const root = svg("svg", { viewBox: `0 0 ${width} ${rows.length * (rowHeight + 22)}`, width: "100%",
      id: "chart-svg", "data-points": history.length });
    rows.forEach((row, index) => {
      const top = index * (rowHeight + 22);
      const values = history.map((h) => (typeof h[row.key] === "number" ? h[row.key] : 0));
      const max = Math.max(...values, row.key === "rtf" ? 1 : 1e-9);
      const latest = history[history.length - 1][row.key];
      root.append(svg("text", { x: 0, y: top + 12, class: "chart-label" },
        `${row.label}: ${typeof latest === "number" ? row.format(latest) : "–"} ${row.unit}`));
      root.append(svg("text", { x: width, y: top + 12, class: "chart-max", "text-anchor": "end" },
        `max ${row.format(max)}`));
      const base = top + 18 + rowHeight;
      root.append(svg("line", { x1: labelWidth, y1: base, x2: width, y2: base, class: "chart-axis" }));
      if (row.key === "rtf" && max >= 1) {
        const y = base - rowHeight * (1 / max);
        root.append(svg("line", { x1: labelWidth, y1: y, x2: width, y2: y, class: "chart-one" }));
      }
      const slot = (width - labelWidth) / HISTORY_MAX;
      values.forEach((value, i) => {
        const height = Math.max(1, (rowHeight - 4) * (value / max));
        const bar = svg("rect", { x: labelWidth + i * slot + gap / 2, y: base - height, width: slot - gap,
          height, rx: 2, class: row.class });
        bar.append(svg("title", {}, `${history[i].voice}: ${row.format(value)} ${row.unit}`));
        root.append(bar);
      });
    });
    chart.replaceChildren(root);
  }

  // --- status --------------------------------------------------------------------------------

  let healthTimer = 0;

  async function refreshHealth() {
    clearTimeout(healthTimer);
    try {
      const response = await fetch("health", { headers: authHeaders() });
      if (!response.ok) throw await errorOf(response);
      const health = await response.json();
      setText("health-device", health.device ?? "–");
      setText("health-models", (health.models || []).join(", ") || "–");
      setText("health-voices", String(health.voices ?? "–"));
      setText("health-in-progress", String(health.requests_in_progress ?? "–"));
      setText("health-version", health.version ?? "–");
      const line = $("status-line");
      line.textContent = `${health.status === "ok" ? "Running" : health.status} on ${health.device || "?"}`;
      line.dataset.state = health.status === "ok" ? "ok" : "bad";
      // Voices added elsewhere (the voices folder, another client) show up without a reload.
      if (typeof health.voices === "number" && health.voices !== state.names.length && !state.loadingVoices) {
        state.loadingVoices = true;
        loadVoices().catch(() => {}).finally(() => { state.loadingVoices = false; });
      }
    } catch (error) {
      const line = $("status-line");
      line.textContent = `Server not reachable (${error.message})`;
      line.dataset.state = "bad";
    }
    healthTimer = setTimeout(refreshHealth, HEALTH_EVERY_MS);
  }

  // --- adding a cloned voice -----------------------------------------------------------------

  function clearAddErrors() {
    for (const id of ["error-name", "error-audio", "error-text", "error-language", "error-form"]) {
      setText(id, "");
      const input = INPUT_OF_ERROR[id];
      if (input) $(input).removeAttribute("aria-invalid");
    }
  }

  function showAddError(error) {
    const id = ERROR_FIELDS[error.param] || "error-form";
    setText(id, error.message);
    const input = INPUT_OF_ERROR[id];
    if (input) {
      $(input).setAttribute("aria-invalid", "true");
      $(input).focus();
    }
  }

  async function submitVoice(event) {
    event.preventDefault();
    clearAddErrors();
    // The server checks everything (name, audio, transcript, language) and its message is
    // shown next to the field it concerns: no second set of rules here to drift from it.
    const form = new FormData();
    form.append("name", $("add-name").value.trim());
    const file = $("add-file").files[0];
    if (file) form.append("audio", file, file.name);
    else if (state.recorded) form.append("audio", state.recorded, "recording.wav");
    form.append("text", $("add-text").value);
    const language = $("add-language").value;
    if (language && language !== "auto") form.append("language", language);
    const button = $("add-submit");
    button.disabled = true;
    setText("add-state", "Uploading and preparing the voice…");
    try {
      const response = await api("v1/audio/voices", { method: "POST", body: form });
      const body = await response.json();
      await voiceAdded(body, "add-state");
      $("add-form").reset();
      state.recorded = null;
      $("record-preview").hidden = true;
      setText("record-state", "");
    } catch (error) {
      setText("add-state", "");
      showAddError(error);
    } finally {
      button.disabled = !state.canAdd;
    }
  }

  async function voiceAdded(body, stateId) {
    const name = (body.voice && body.voice.name) || "";
    const hint = reloadHint(body);
    if (hint) state.hints.set(name, hint);
    const told = body.reload && body.reload.done;
    showNotice(told ? `Added ${name}; Home Assistant has been told.` : "");
    await loadVoices(name);
    if (state.names.includes(name)) {
      $("try-voice").value = name;
      renderStyleSelect();
    }
    setText(stateId, `Added ${name}: press ▶ Play in the list to hear it.`);
    refreshHealth();
  }

  // --- recording a WAV from the microphone ---------------------------------------------------

  function setUpMicrophone() {
    state.micAvailable = Boolean(window.isSecureContext && navigator.mediaDevices
      && typeof navigator.mediaDevices.getUserMedia === "function");
    if (!state.micAvailable) {
      $("record-button").disabled = true;
      const note = $("mic-unavailable");
      note.hidden = false;
      note.textContent = "Recording needs a secure page: open it over HTTPS, from Home Assistant, "
        + "or as localhost. Meanwhile upload a recording (a WAV from a phone's recorder works).";
    }
  }

  async function startRecording() {
    setText("error-audio", "");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (error) {
      setText("error-audio", `The microphone is not available (${error.message}). Upload a file instead.`);
      return;
    }
    let context;
    try { context = new AudioContext({ sampleRate: SAMPLE_RATE }); } catch (_) { context = new AudioContext(); }
    const source = context.createMediaStreamSource(stream);
    const blocks = [];
    let node = null;
    let worklet = false;
    if (context.audioWorklet && window.AudioWorkletNode) {
      try {
        await context.audioWorklet.addModule("static/recorder-worklet.js");
        node = new AudioWorkletNode(context, "pcm-recorder",
          { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit" });
        node.port.onmessage = (event) => { if (event.data instanceof Float32Array) blocks.push(event.data); };
        worklet = true;
      } catch (_) { node = null; }
    }
    if (!node) { // older browsers: the deprecated ScriptProcessor still hands out PCM
      node = context.createScriptProcessor(4096, 1, 1);
      node.onaudioprocess = (event) => blocks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
    }
    const mute = context.createGain(); // keeps the graph pulling without playing the mic back
    mute.gain.value = 0;
    source.connect(node);
    node.connect(mute).connect(context.destination);
    const started = performance.now();
    const timer = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      setText("record-state", `Recording… ${seconds.toFixed(1)} s`);
      if (seconds >= MAX_RECORD_S) stopRecording();
    }, 200);
    state.recording = { stream, context, source, node, mute, blocks, worklet, timer };
    const button = $("record-button");
    button.textContent = "■ Stop";
    button.setAttribute("aria-pressed", "true");
    button.classList.add("recording");
  }

  async function stopRecording() {
    const recording = state.recording;
    if (!recording) return;
    state.recording = null;
    clearInterval(recording.timer);
    if (recording.worklet) {
      await new Promise((resolve) => {
        const done = setTimeout(resolve, 500);
        recording.node.port.addEventListener("message", (event) => {
          if (event.data === "flushed") { clearTimeout(done); resolve(); }
        });
        recording.node.port.postMessage("flush");
      });
    }
    recording.source.disconnect();
    recording.node.disconnect();
    for (const track of recording.stream.getTracks()) track.stop();
    const rate = recording.context.sampleRate;
    recording.context.close();
    const length = recording.blocks.reduce((sum, block) => sum + block.length, 0);
    const samples = new Float32Array(length);
    let offset = 0;
    for (const block of recording.blocks) { samples.set(block, offset); offset += block.length; }
    state.recorded = new Blob([encodeWav(samples, rate)], { type: "audio/wav" });
    state.recordedSeconds = length / rate;
    state.recordedWith = recording.worklet ? "AudioWorklet" : "ScriptProcessor";
    $("add-file").value = ""; // the recording is what gets sent now
    const preview = $("record-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(state.recorded);
    preview.hidden = false;
    setText("record-state", `Recorded ${(length / rate).toFixed(1)} s (WAV, ${rate} Hz); it is sent with the form.`);
    const button = $("record-button");
    button.textContent = "● Record again";
    button.setAttribute("aria-pressed", "false");
    button.classList.remove("recording");
  }

  // 16-bit PCM mono WAV: what libsndfile (and so the server) reads.
  function encodeWav(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    const ascii = (offset, text) => { for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i)); };
    ascii(0, "RIFF");
    view.setUint32(4, 36 + samples.length * 2, true);
    ascii(8, "WAVE");
    ascii(12, "fmt ");
    view.setUint32(16, 16, true); // fmt chunk size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, rate, true);
    view.setUint32(28, rate * 2, true); // bytes per second
    view.setUint16(32, 2, true); // block align
    view.setUint16(34, 16, true); // bits per sample
    ascii(36, "data");
    view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return buffer;
  }

  // --- designing a voice ---------------------------------------------------------------------

  async function previewDesign() {
    setText("design-error", "");
    setText("design-error-description", "");
    const request = { description: $("design-description").value, seed: Number($("design-seed").value) || 0 };
    const language = $("design-language").value;
    if (language && language !== "auto") request.language = language;
    $("design-preview").disabled = true;
    $("design-retry").disabled = true;
    setText("design-state", `Rendering with seed ${request.seed}…`);
    try {
      const response = await api("v1/audio/voices/design", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
      });
      const id = response.headers.get("X-Preview-Id");
      const blob = await response.blob();
      if (state.preview) URL.revokeObjectURL(state.preview.url);
      state.preview = { id, url: URL.createObjectURL(blob), seed: request.seed };
      const audio = $("design-audio");
      audio.src = state.preview.url;
      audio.hidden = false;
      audio.play().catch(() => {});
      $("design-keep-row").hidden = !id;
      setText("design-state", `Preview of seed ${request.seed}. Keep it, or retry with another seed.`);
    } catch (error) {
      setText("design-state", "");
      if (error.param === "description") setText("design-error-description", error.message);
      else setText("design-error", error.message);
    } finally {
      $("design-preview").disabled = false;
      $("design-retry").disabled = false;
    }
  }

  async function keepDesign() {
    setText("design-error", "");
    if (!state.preview || !state.preview.id) return;
    try {
      const response = await api(`v1/audio/voices/design/${encodeURIComponent(state.preview.id)}/keep`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: $("design-name").value.trim() }),
      });
      await voiceAdded(await response.json(), "design-state");
      $("design-keep-row").hidden = true;
      $("design-name").value = "";
    } catch (error) {
      setText("design-error", error.message);
    }
  }

  async function loadLexicon() {
    const body = await (await api("v1/lexicon")).json();
    const rows = (body.entries || []).map((entry) => el("tr", {},
      el("td", { text: entry.word + (entry.case_sensitive ? "" : " (any case)") }),
      el("td", { text: entry.say }),
      el("td", { text: entry.language ? languageName(entry.language) : "all" })));
    $("lexicon-body").replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colSpan: 3, class: "muted", text: "No entries." }))]));
  }

  // --- wiring --------------------------------------------------------------------------------

  function loadAll() {
    loadVoices().catch((error) => {
      $("voices-body").replaceChildren(el("tr", {}, el("td", { colSpan: 5, class: "error", text: error.message })));
    });
    loadLexicon().catch((error) => {
      $("lexicon-body").replaceChildren(el("tr", {}, el("td", { colSpan: 3, class: "error", text: error.message })));
    });
    refreshHealth();
  }

  function init() {
    fillSelect($("add-language"), LANGUAGES, "auto");
    fillSelect($("design-language"), LANGUAGES, "en");
    setUpMicrophone();

    $("voices-refresh").addEventListener("click", () => { showNotice(""); loadAll(); });
    $("voices-body").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const name = button.dataset.voice;
      if (button.dataset.action === "play") {
        const voice = state.details.get(name) || { languages: [] };
        const language = sampleLanguage(voice);
        speak({ input: SAMPLES[language] || SAMPLES.en, voice: name }, $("try-error"));
      } else if (button.dataset.action === "remove") {
        removeVoice(name);
      }
    });

    $("try-voice").addEventListener("change", renderStyleSelect);
    $("try-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const request = { input: $("try-text").value, voice: $("try-voice").value };
      const style = $("try-style").value;
      if (style) request.instructions = style;
      speak(request, $("try-error"));
    });
    $("try-stop").addEventListener("click", () => {
      stopPlayback();
      setTryState("stopped", "Stopped.");
      $("try-stop").disabled = true;
    });

    $("add-form").addEventListener("submit", submitVoice);
    $("add-file").addEventListener("change", () => {
      if ($("add-file").files.length) {
        state.recorded = null;
        $("record-preview").hidden = true;
        setText("record-state", "");
      }
    });
    $("record-button").addEventListener("click", () => {
      if (state.recording) stopRecording(); else startRecording();
    });

    $("design-form").addEventListener("submit", (event) => { event.preventDefault(); previewDesign(); });
    $("design-retry").addEventListener("click", () => {
      $("design-seed").value = String((Number($("design-seed").value) || 0) + 1);
      previewDesign();
    });
    $("design-keep").addEventListener("click", keepDesign);

    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
      $("token-input").value = "";
      $("token-box").hidden = true;
      loadAll();
    });

    loadAll();
  }

  init();
})();
