/* The widget page: voice over WebRTC (direct to OpenAI) or over our relay WebSocket, or text
   with the relay (OpenAI text or the server's local engine). No framework; every string from
   the server or the model goes through textContent, never innerHTML. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("widget-config").textContent);
  // Event names and fields come from protocol.js, generated from widget_api/protocol.py.
  var EV = window.WIDGET_PROTOCOL.events;
  var $ = function (id) { return document.getElementById(id); };
  var root = document.querySelector(".w"), log = $("w-log"), statusEl = $("w-status");
  var statusText = $("w-status-text"), micBtn = $("w-mic"), micLabel = $("w-mic-label");
  var muteBtn = $("w-mute"), endBtn = $("w-end"), form = $("w-form"), input = $("w-input");
  var ttsBox = $("w-tts"), remoteAudio = $("w-remote");

  // ---------------------------------------------------------------- theme and host page
  var theme = cfg.theme || {};
  [["--primary", theme.primary_color], ["--accent", theme.accent_color],
   ["--text", theme.text_color], ["--bg", theme.background_color]].forEach(function (p) {
    if (/^#[0-9a-f]{3,6}$/i.test(p[1] || "")) document.documentElement.style.setProperty(p[0], p[1]);
  });
  function toHost(msg) {
    msg.source = "sales-widget";
    if (cfg.hostOrigin && window.parent !== window) window.parent.postMessage(msg, cfg.hostOrigin);
  }
  window.addEventListener("message", function (e) {
    if (!cfg.hostOrigin || e.origin !== cfg.hostOrigin || e.source !== window.parent) return;
    if (!e.data || e.data.source !== "sales-widget-host") return;
    if (e.data.type === "open") input.focus();
    else if (e.data.type === "context") { // the host page this conversation runs on
      hostPage.page_url = typeof e.data.page_url === "string" ? e.data.page_url.slice(0, 2000) : null;
      hostPage.referrer = typeof e.data.referrer === "string" ? e.data.referrer.slice(0, 2000) : null;
      if (conv && conv.kind === "relay") sendContext(conv);
    }
  });

  // ---------------------------------------------------------------- continuity and consent
  // The resume token lives in sessionStorage on the widget's own origin: it survives a reload
  // and the visitor's moves across the host site (same tab), and dies with the tab.
  var hostPage = { page_url: null, referrer: null };
  var TOKEN_KEY = "sales-widget:" + cfg.companyId + ":resume";
  var CONSENT_KEY = "sales-widget:" + cfg.companyId + ":consent";
  function stored(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function store(key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function privacyAccepted() { return !(cfg.privacy && cfg.privacy.notice) || stored(CONSENT_KEY) === "1"; }
  function contextEvent() {
    return { type: EV.CONTEXT, page_url: hostPage.page_url, referrer: hostPage.referrer,
             privacy_accepted: privacyAccepted(), language: visitorLanguage() };
  }
  function visitorLanguage() { return (navigator.language || "").slice(0, 35) || null; }
  function sendContext(c) { c.send(contextEvent()); }
  $("w-close").addEventListener("click", function () { toHost({ type: "close" }); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") toHost({ type: "close" }); });

  // ---------------------------------------------------------------- view
  var LABELS = { idle: "Ready", connecting: "Connecting\u2026", listening: "Listening",
                 thinking: "Thinking\u2026", speaking: "Speaking", error: "Something went wrong" };
  function setState(state, label) {
    statusEl.setAttribute("data-state", state);
    statusText.textContent = label || LABELS[state];
    document.body.setAttribute("data-state", state);
  }
  function scroll() { log.scrollTop = log.scrollHeight; }
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function add(node) { log.appendChild(node); scroll(); return node; }
  function note(text, isError) { return add(el("p", "w-note" + (isError ? " error" : ""), text)); }
  var bubbles = {};
  function bubble(key, role, text, pending) {
    var b = key && bubbles[key];
    if (!b) { b = add(el("p", "w-msg " + role)); if (key) bubbles[key] = b; }
    if (text != null) b.textContent = text;
    b.classList.toggle("pending", !!pending);
    scroll();
    return b;
  }
  function appendTo(key, role, delta) {
    var b = bubbles[key] || bubble(key, role, "");
    b.textContent += delta;
    scroll();
  }
  function speak(text) {
    if (!ttsBox.checked || !window.speechSynthesis || !text) return;
    var u = new SpeechSynthesisUtterance(text.replace(/\(Source:[^)]*\)/g, ""));
    u.lang = cfg.language || "en";
    speechSynthesis.cancel();
    speechSynthesis.speak(u);
  }
  if (!window.speechSynthesis) $("w-tts-row").hidden = true;

  // ---------------------------------------------------------------- cards
  function safeUrl(u) {
    try { var p = new URL(u); return p.protocol === "https:" || p.protocol === "http:" ? p.href : null; }
    catch (e) { return null; }
  }
  function card(kind, title) {
    var c = el("div", "w-card " + kind);
    c.appendChild(el("h2", null, title));
    return c;
  }
  var CARDS = {
    search_knowledge: function (ev, r) {
      var list = ev.sources || r.passages || [], seen = {}, ul = el("ul");
      list.forEach(function (s) {
        var t = s.title || s.source || "Document";
        if (seen[t]) return;
        seen[t] = 1;
        // A file's public URL when the knowledge base knows one (url, or a source that is one).
        var li = el("li"), url = (s.url && safeUrl(s.url)) || (/^https?:\/\//.test(s.source || "") && safeUrl(s.source));
        if (url) { var a = el("a", null, t); a.href = url; a.target = "_blank"; a.rel = "noopener"; li.appendChild(a); }
        else li.textContent = t;
        ul.appendChild(li);
      });
      if (!ul.children.length) return null;
      var c = card("sources", "Sources");
      c.appendChild(ul);
      return c;
    },
    get_demo_clip: function (ev, r) {
      var clip = r.clip || {}, url = clip.video_url && safeUrl(clip.video_url);
      if (!url) return null;
      var c = card("clip", "Demo clip");
      c.appendChild(el("strong", null, clip.title || "Demo"));
      var v = el("video");
      v.controls = true; v.preload = "none"; v.src = url;
      if (clip.thumbnail_url && safeUrl(clip.thumbnail_url)) v.poster = safeUrl(clip.thumbnail_url);
      v.setAttribute("aria-label", clip.title || "Demo clip");
      c.appendChild(v);
      if (clip.description) c.appendChild(el("p", null, clip.description));
      return c;
    },
    create_meeting_link: function (ev, r) {
      // Through our own redirect when offered (the click then counts in the funnel report).
      var tracked = typeof r.click_url === "string" && /^\/go\/[\w-]+$/.test(r.click_url);
      var url = (tracked && safeUrl(location.origin + r.click_url)) || (r.url && safeUrl(r.url));
      if (!url) return null;
      var c = card("meeting", "Book a meeting"), a = el("a", "w-cta", "Pick a time \u2192");
      a.href = url; a.target = "_blank"; a.rel = "noopener";
      c.appendChild(a);
      return c;
    },
    log_lead: function (ev, r) {
      var c = card("lead", "Details saved");
      var email = r.email;
      c.appendChild(el("p", null, "\u2713 Thanks! Our team will follow up" + (email ? " at " + email : "") + "."));
      return c;
    }
  };
  // Cards wait for the answer they belong to and go under it (tool results arrive first).
  var pendingCards = [];
  function showToolResult(ev) {
    if (!ev.ok) return;
    var make = CARDS[ev.name], node = make && make(ev, ev.result || {});
    if (node) pendingCards.push(node);
  }
  function flushCards() { pendingCards.splice(0).forEach(add); }

  // ---------------------------------------------------------------- event handling (both transports)
  var conv = null; // the live conversation: {kind: "relay"|"webrtc", mode: "voice"|"text", send, end, ...}
  // Limits and budgets (time limit, voice minutes, rate limits): the widget falls back to text.
  var SPENT = /^(session_expired|voice_budget_spent|rate_limited|daily_cap_reached|limits_unavailable)$/;
  function handleEvent(ev) {
    var t = ev.type;
    if (t === "session.created" || t === "session.updated") {
      if (conv && conv.mode === "voice") setState("listening"); else setState("idle", "Online \u00b7 text");
    } else if (t === EV.SESSION) {
      if (typeof ev.resume_token === "string") store(TOKEN_KEY, ev.resume_token);
    } else if (t === EV.NOTICE) {
      if (ev.mode === "text") switchToText();
      if (ev.message) note(ev.message);
    } else if (t === "input_audio_buffer.speech_started") {
      if (conv && conv.flush) conv.flush();
      setState("listening");
      bubble("u-" + ev.item_id, "user", "\u2026", true);
    } else if (t === "input_audio_buffer.speech_stopped") {
      if (conv) { conv.stoppedAt = performance.now(); conv.firstTextMs = conv.firstAudioMs = null; }
      setState("thinking");
    } else if (t === "conversation.item.input_audio_transcription.delta") {
      var b = bubbles["u-" + ev.item_id];
      if (b && b.classList.contains("pending")) bubble("u-" + ev.item_id, "user", "", false);
      appendTo("u-" + ev.item_id, "user", ev.delta || "");
    } else if (t === "conversation.item.input_audio_transcription.completed") {
      bubble("u-" + ev.item_id, "user", ev.transcript || "", false);
    } else if (t === "conversation.item.input_audio_transcription.failed") {
      // The model still heard the audio; only its written form is missing.
      bubble("u-" + ev.item_id, "user", "(couldn't make out the words)", false).classList.add("failed");
    } else if (t === "response.created") {
      if (conv) conv.responseActive = true;
      setState("thinking");
    } else if (t === "response.output_audio.delta") {
      if (conv && conv.play) conv.play(ev.item_id, ev.delta);
      setState("speaking");
    } else if (t === "output_audio_buffer.started") {
      if (conv) { conv.playing = true; if (conv.onAudioStarted) conv.onAudioStarted(); }
      setState("speaking");
    } else if (t === "output_audio_buffer.stopped" || t === "output_audio_buffer.cleared") {
      // WebRTC: the answer has finished playing (or was cut off), not merely been generated.
      if (conv) conv.playing = false;
      if (conv && conv.mode === "voice" && !conv.responseActive) setState("listening");
    } else if (t === "response.output_audio_transcript.delta" || t === "response.output_text.delta") {
      if (conv && conv.stoppedAt != null && conv.firstTextMs == null) {
        conv.firstTextMs = Math.round(performance.now() - conv.stoppedAt); // time to first text
      }
      appendTo("a-" + ev.item_id, "agent", ev.delta || "");
    } else if (t === "response.output_audio_transcript.done") {
      if (ev.transcript) bubble("a-" + ev.item_id, "agent", ev.transcript);
      flushCards();
    } else if (t === "response.output_text.done") {
      bubble("a-" + ev.item_id, "agent", ev.text || "");
      flushCards();
      speak(ev.text);
    } else if (t === EV.TOOL_CALL) {
      setState("thinking", "Looking that up\u2026");
    } else if (t === EV.TOOL_RESULT) {
      showToolResult(ev);
    } else if (t === "response.output_item.done") {
      if (conv && conv.onItemDone) conv.onItemDone(ev.item || {});
    } else if (t === "conversation.item.done") {
      if (conv && conv.onConversationItem) conv.onConversationItem(ev.item || {});
    } else if (t === "response.done") {
      if (conv) { conv.responseActive = false; if (conv.onResponseDone) conv.onResponseDone(); }
      var status = (ev.response || {}).status;
      if (status === "failed" || status === "incomplete") offerRetry(status);
      if (!conv || conv.mode !== "voice") setState("idle", "Online \u00b7 text");
      else if (!conv.playing) setState("listening");
    } else if (t === "error") {
      var err = ev.error || {};
      if (err.code === "session_idle") { // a pause, not a failure: the next message resumes
        flushCards();
        endConversation(true);
        note("Paused after a quiet spell. Type or talk to carry on.");
        setState("idle");
        return;
      }
      if (SPENT.test(err.code || "")) { // a limit or budget, not a failure: go on in text
        note(err.message || "Voice has ended for now. You can keep typing.");
        endConversation(true); switchToText(); return;
      }
      var fatal = /^(session_|upstream_|origin_|unknown_company)/.test(err.code || "");
      note(err.message || "Something went wrong.", true);
      if (fatal) { setState("error"); endConversation(true); }
    }
  }

  // A failed or cut-off answer: say so plainly and let the visitor ask for it again.
  function offerRetry(status) {
    flushCards();
    var n = note(status === "incomplete" ? "The answer was cut short." : "Sorry, I couldn't answer that just now.");
    n.classList.add("retry");
    var btn = el("button", "w-retry", "Try again");
    btn.type = "button";
    btn.addEventListener("click", function () {
      n.remove();
      if (!conv) return;
      conv.responseActive = true;
      conv.send({ type: "response.create" });
      setState("thinking");
    });
    n.appendChild(document.createTextNode(" "));
    n.appendChild(btn);
  }
  // What only the browser sees, told to the server: a fallback, or a WebRTC turn's latency.
  function report(session, body) {
    if (!session || !session.tool_token) return;
    body.session_id = session.session_id;
    fetch("/api/realtime/reports/" + encodeURIComponent(cfg.companyId), { method: "POST", keepalive: true,
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.tool_token },
      body: JSON.stringify(body) }).catch(function () { /* a report is best effort */ });
  }

  // ---------------------------------------------------------------- relay transport
  function wsUrl(mode) {
    var token = stored(TOKEN_KEY);
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + cfg.wsPath + "?mode=" + mode +
      (token ? "&resume_token=" + encodeURIComponent(token) : "");
  }
  function openRelay(mode) {
    return new Promise(function (resolve, reject) {
      var ws = new WebSocket(wsUrl(mode)), opened = false;
      var c = { kind: "relay", mode: mode, ws: ws, responseActive: false,
                send: function (o) { if (ws.readyState === 1) ws.send(JSON.stringify(o)); },
                sendRaw: function (s) { if (ws.readyState === 1) ws.send(s); },
                close: function () { try { ws.close(1000); } catch (e) { /* closed */ } } };
      ws.onopen = function () { opened = true; sendContext(c); resolve(c); };
      ws.onmessage = function (e) { try { handleEvent(JSON.parse(e.data)); } catch (x) { console.error(x); } };
      ws.onerror = function () { if (!opened) reject(new Error("relay")); };
      ws.onclose = function () {
        if (!opened) return reject(new Error("relay"));
        if (conv === c) { conv = null; resetControls(); if (statusEl.getAttribute("data-state") !== "error") setState("idle"); }
      };
    });
  }

  var audio = null; // {ctx, stream, capture, player}
  function b64FromBuffer(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function floatsFromB64(b64) {
    var bin = atob(b64), n = bin.length >> 1, out = new Float32Array(n);
    for (var i = 0; i < n; i++) {
      var v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      out[i] = (v >= 0x8000 ? v - 0x10000 : v) / 0x8000;
    }
    return out;
  }
  async function startAudio(c) {
    var ctx;
    try { ctx = new AudioContext({ sampleRate: 24000 }); } catch (e) { ctx = new AudioContext(); }
    await ctx.audioWorklet.addModule(cfg.workletUrl);
    var stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    var capture = new AudioWorkletNode(ctx, "pcm-capture");
    var player = new AudioWorkletNode(ctx, "pcm-player");
    ctx.createMediaStreamSource(stream).connect(capture);
    player.connect(ctx.destination);
    capture.port.onmessage = function (e) {
      if (c.muted) return;
      // Type first: the relay recognises audio frames by their opening bytes.
      c.sendRaw('{"type":"input_audio_buffer.append","audio":"' + b64FromBuffer(e.data) + '"}');
    };
    player.port.onmessage = function (e) {
      var m = e.data;
      if (m.type !== "pos") return;
      c.playing = !m.drained;
      c.send({ type: EV.PLAYBACK, item_id: m.item, played_ms: m.played_ms, drained: m.drained });
      if (m.drained && !c.responseActive && conv === c) setState("listening");
    };
    c.play = function (item, b64) {
      var samples = floatsFromB64(b64);
      c.playing = true;
      player.port.postMessage({ type: "push", item: item, samples: samples }, [samples.buffer]);
    };
    c.flush = function () { player.port.postMessage({ type: "flush" }); c.playing = false; };
    audio = { ctx: ctx, stream: stream };
    if (ctx.state === "suspended") await ctx.resume();
  }
  function stopAudio() {
    if (!audio) return;
    audio.stream.getTracks().forEach(function (t) { t.stop(); });
    audio.ctx.close();
    audio = null;
  }

  // ---------------------------------------------------------------- WebRTC transport
  async function startWebRTC() {
    var r = await fetch(cfg.sessionPath, { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify({ companyId: cfg.companyId, resume_token: stored(TOKEN_KEY) || undefined,
                                                                  page_url: hostPage.page_url || undefined,
                                                                  referrer: hostPage.referrer || undefined,
                                                                  privacy_accepted: privacyAccepted(),
                                                                  language: visitorLanguage() || undefined }) });
    var data = await r.json().catch(function () { return {}; });
    if (!r.ok) { var e = new Error("session"); e.code = data.error && data.error.code; throw e; }
    if (typeof data.resume_token === "string") store(TOKEN_KEY, data.resume_token);
    var secret = typeof data.client_secret === "string" ? data.client_secret : (data.client_secret || {}).value;
    var pc = new RTCPeerConnection();
    var c = { kind: "webrtc", mode: "voice", pc: pc, responseActive: false, outputs: [], muted: false,
              session: data, callNames: {}, serverTools: false };
    pc.ontrack = function (e) { remoteAudio.srcObject = e.streams[0]; };
    var stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    stream.getTracks().forEach(function (t) { pc.addTrack(t, stream); });
    var dc = pc.createDataChannel("oai-events");
    c.send = function (o) { if (dc.readyState === "open") dc.send(JSON.stringify(o)); };
    c.close = function () { clearTimeout(c.timer); stream.getTracks().forEach(function (t) { t.stop(); }); try { dc.close(); pc.close(); } catch (x) { /* closed */ } };
    // The conversation's time limit (the server also hangs up): end it and go on in text.
    if (data.max_duration_seconds) c.timer = setTimeout(function () {
      if (conv !== c) return;
      note("This conversation reached its time limit. You can keep typing.");
      endConversation(true); switchToText();
    }, data.max_duration_seconds * 1000);
    c.setMuted = function (m) { stream.getAudioTracks().forEach(function (t) { t.enabled = !m; }); };
    dc.onmessage = function (e) { try { handleEvent(JSON.parse(e.data)); } catch (x) { console.error(x); } };
    // Tools: the server answers them through its sideband once it has joined the call; only if
    // it could not (an older server) does the browser relay them to the tool endpoint.
    c.toolsBy = Promise.resolve("browser");
    c.onItemDone = function (item) {
      if (item.type !== "function_call") return;
      c.callNames[item.call_id] = item.name;
      setState("thinking", "Looking that up\u2026");
      c.toolsBy.then(function (by) { if (by === "browser") runTool(c, data, item); });
    };
    c.onConversationItem = function (item) {
      if (item.type !== "function_call_output" || !c.serverTools) return;
      try {
        var parsed = JSON.parse(item.output);
        showToolResult({ name: c.callNames[item.call_id], ok: !parsed.error, result: parsed });
      } catch (x) { /* plain-text output: nothing to show */ }
    };
    c.onResponseDone = function () {
      flushOutputs(c);
      // One report per answered turn: time to first audio (as the visitor hears it) and to first
      // text. A response that only called a tool measured neither; the turn goes on.
      if (c.stoppedAt == null || (c.firstAudioMs == null && c.firstTextMs == null)) return;
      report(data, { kind: "latency",
                     first_audio_ms: c.firstAudioMs == null ? undefined : c.firstAudioMs,
                     first_text_ms: c.firstTextMs == null ? undefined : c.firstTextMs });
      c.stoppedAt = null;
    };
    c.onAudioStarted = function () {
      if (c.stoppedAt != null && c.firstAudioMs == null) {
        c.firstAudioMs = Math.round(performance.now() - c.stoppedAt);
      }
    };
    var opened = new Promise(function (res, rej) {
      dc.onopen = res;
      c.failConnect = rej;
    });
    pc.onconnectionstatechange = function () {
      var st = pc.connectionState;
      if (st === "failed") { if (c.failConnect) c.failConnect(fault("webrtc_failed")); callGone(c); }
      else if (st === "closed") callGone(c);
      else if (st === "disconnected") setTimeout(function () { if (pc.connectionState === "disconnected") callGone(c); }, 4000);
    };
    dc.onclose = function () { callGone(c); };
    try {
      var offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      var ans = await fetch(data.calls_url || cfg.callsUrl, { method: "POST", body: offer.sdp,
        headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + secret } });
      if (!ans.ok) throw fault("webrtc_failed");
      await pc.setRemoteDescription({ type: "answer", sdp: await ans.text() });
      // A failed ICE can take half a minute to say so: after ~8 s we stop waiting.
      var timer;
      await Promise.race([opened, new Promise(function (res, rej) {
        timer = setTimeout(function () { rej(fault("webrtc_timeout")); }, CONNECT_TIMEOUT_MS);
      })]).finally(function () { clearTimeout(timer); });
    } catch (err) {
      c.connectFailed = true;
      c.close();
      if (!err.code) err.code = "webrtc_failed";
      err.session = data;
      throw err;
    }
    c.failConnect = null;
    var callId = ((ans.headers.get("Location") || "").split("/").pop() || "").split("?")[0];
    c.toolsBy = joinCall(c, data, callId);
    return c;
  }
  var CONNECT_TIMEOUT_MS = 8000;
  function fault(code) { var e = new Error(code); e.code = code; return e; }
  // Hand the call to the server (sideband): tools, transcript, time limit, summary.
  function joinCall(c, session, callId) {
    if (!callId || !session.tool_token) return Promise.resolve("browser");
    return fetch("/api/realtime/calls/" + encodeURIComponent(cfg.companyId), { method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.tool_token },
      body: JSON.stringify({ session_id: session.session_id, call_id: callId }) })
      .then(function (r) { c.serverTools = r.ok; return r.ok ? "server" : "browser"; })
      .catch(function () { return "browser"; });
  }
  // The call ended without the visitor asking: the server hung up, or the connection died.
  function callGone(c) {
    if (conv !== c || c.ending || c.connectFailed) return;
    endConversation(true);
    setState("idle", "Call ended");
    note("The call has ended. You can start again or type below.");
  }
  // The visitor ends a WebRTC call: the server summarizes and hangs up first (a few seconds).
  async function finishCall(c) {
    if (!c || c.kind !== "webrtc" || !c.serverTools) return;
    c.ending = true;
    setState("idle", "Ending\u2026");
    var timer;
    await Promise.race([
      fetch("/api/realtime/calls/" + encodeURIComponent(cfg.companyId) + "/end", { method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + c.session.tool_token },
        body: JSON.stringify({ session_id: c.session.session_id }) }).catch(function () {}),
      new Promise(function (res) { timer = setTimeout(res, 7000); })
    ]);
    clearTimeout(timer);
  }
  async function runTool(c, session, item) {
    setState("thinking", "Looking that up\u2026");
    var out;
    try {
      var r = await fetch(cfg.toolPath, { method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.tool_token },
        body: JSON.stringify({ name: item.name, arguments: item.arguments || "{}", call_id: item.call_id, session_id: session.session_id }) });
      var body = await r.json();
      out = body.output != null ? body.output : JSON.stringify(body);
    } catch (e) {
      out = JSON.stringify({ error: { code: "internal_error", message: "The tool could not be reached." } });
    }
    try {
      var parsed = JSON.parse(out);
      showToolResult({ name: item.name, ok: !parsed.error, result: parsed });
    } catch (e) { /* plain-text output: nothing to show */ }
    c.outputs.push({ type: "function_call_output", call_id: item.call_id, output: out });
    if (!c.responseActive) flushOutputs(c);
  }
  function flushOutputs(c) {
    // A response.create while a response is active is refused: outputs wait for response.done.
    if (!c.outputs.length || c.responseActive) return;
    c.outputs.splice(0).forEach(function (item) { c.send({ type: "conversation.item.create", item: item }); });
    c.responseActive = true;
    c.send({ type: "response.create" });
  }

  // ---------------------------------------------------------------- controls
  function resetControls() {
    micBtn.classList.remove("live");
    micLabel.textContent = "Start talking";
    muteBtn.disabled = endBtn.disabled = true;
    muteBtn.setAttribute("aria-pressed", "false");
    muteBtn.textContent = "Mute";
  }
  function endConversation(keepState) {
    var c = conv;
    conv = null;
    if (c) c.close();
    stopAudio();
    resetControls();
    if (!keepState) setState("idle");
  }
  function switchToText() {
    stopAudio();
    if (conv) conv.mode = "text";
    root.classList.add("text-only");
    setState("idle", "Online \u00b7 text");
    input.focus();
  }
  function wantsWebRTC() {
    return cfg.realtime && (cfg.transport === "webrtc" || cfg.transport === "auto") && window.RTCPeerConnection;
  }
  async function startVoice() {
    setState("connecting");
    micBtn.disabled = true;
    try {
      if (wantsWebRTC()) {
        try { conv = await startWebRTC(); }
        catch (e) {
          if (e.code === "realtime_unavailable" || SPENT.test(e.code || "")) { note("Voice isn't available right now; you can type instead."); conv = await openRelay("text"); switchToText(); return; }
          if (cfg.transport === "webrtc") throw e;
          conv = null; // auto: fall back to the relay, and say so on the conversation record
          report(e.session, { kind: "fallback", to: "relay", reason: e.code === "webrtc_timeout" ? "webrtc_timeout" : "webrtc_failed" });
          var fellBack = e.session;
        }
      }
      if (!conv) {
        try {
          conv = await openRelay("voice");
          await startAudio(conv);
        } catch (relayError) {
          if (!fellBack) throw relayError;
          // auto, second step: WebRTC and the relay both failed; text still works.
          endConversation(true);
          report(fellBack, { kind: "fallback", to: "text", reason: "relay_failed" });
          note("Voice couldn't connect here, so let's type.");
          conv = await openRelay("text");
          switchToText();
          return;
        }
        if (conv.mode === "text") { stopAudio(); return; } // the server fell back to text meanwhile
      }
      micBtn.classList.add("live");
      micLabel.textContent = "Stop voice";
      muteBtn.disabled = endBtn.disabled = false;
      if (conv.mode === "voice") setState("listening");
    } catch (e) {
      console.error(e);
      endConversation(true);
      setState("error", e && e.name === "NotAllowedError" ? "Microphone blocked" : "Couldn't connect");
      note(e && e.name === "NotAllowedError" ? "Allow microphone access to talk, or type below." : "Voice couldn't start. You can still type below.", true);
    } finally { micBtn.disabled = false; }
  }
  micBtn.addEventListener("click", async function () {
    if (conv && conv.mode === "voice") { await finishCall(conv); endConversation(); }
    else if (!privacyAccepted()) showPrivacy();
    else startVoice();
  });
  muteBtn.addEventListener("click", function () {
    if (!conv) return;
    conv.muted = !conv.muted;
    if (conv.setMuted) conv.setMuted(conv.muted);
    muteBtn.setAttribute("aria-pressed", String(conv.muted));
    muteBtn.textContent = conv.muted ? "Unmute" : "Mute";
    setState(conv.muted ? "idle" : "listening", conv.muted ? "Muted" : null);
  });
  endBtn.addEventListener("click", async function () { await finishCall(conv); endConversation(); note("Conversation ended."); });

  var connecting = null;
  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (!privacyAccepted()) { showPrivacy(); return; }
    if (text.length > maxChars) { // never cut a paste silently: say so and keep it editable
      note("That message is " + text.length + " characters; the limit is " + maxChars + ". Please shorten it.");
      return;
    }
    input.value = "";
    updateCount();
    flushCards();
    bubble(null, "user", text);
    try {
      if (!conv) {
        setState("connecting");
        connecting = connecting || openRelay("text").then(function (c) { conv = c; return c; });
        await connecting;
        connecting = null;
      }
      conv.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: text }] } });
      conv.send({ type: "response.create" });
      setState("thinking");
    } catch (x) {
      connecting = null;
      setState("error", "Couldn't connect");
      note("The assistant is unreachable right now. Please try again in a moment.", true);
    }
  });

  // ---------------------------------------------------------------- input limit and privacy notice
  var maxChars = cfg.maxChars || 2000, counter = $("w-count");
  function updateCount() {
    var n = input.value.length;
    counter.textContent = n > maxChars * 0.8 ? n + " / " + maxChars : "";
    counter.classList.toggle("over", n > maxChars);
  }
  input.addEventListener("input", updateCount);
  var privacyCard = null;
  function showPrivacy() {
    if (privacyCard || privacyAccepted()) return;
    privacyCard = card("privacy", "Before we start");
    privacyCard.appendChild(el("p", null, cfg.privacy.notice));
    var policy = cfg.privacy.policy_url && safeUrl(cfg.privacy.policy_url);
    if (policy) { var a = el("a", null, "Privacy policy"); a.href = policy; a.target = "_blank"; a.rel = "noopener"; privacyCard.appendChild(a); }
    var ok = el("button", "w-btn w-accept", "OK, continue");
    ok.type = "button";
    ok.addEventListener("click", function () {
      store(CONSENT_KEY, "1");
      privacyCard.remove(); privacyCard = null;
      if (conv && conv.kind === "relay") sendContext(conv);
      input.focus();
    });
    privacyCard.appendChild(ok);
    add(privacyCard);
  }

  // A reload or another page of the site: show the conversation so far (the server resumes it
  // when the next message connects with the token).
  async function restoreHistory() {
    var token = stored(TOKEN_KEY);
    if (!token || !cfg.resumePath) return false;
    try {
      var r = await fetch(cfg.resumePath, { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ resume_token: token }) });
      var data = await r.json();
      if (!data.resumed || !data.history || !data.history.length) return false;
      data.history.forEach(function (line) { bubble(null, line.role === "user" ? "user" : "agent", line.text); });
      return true;
    } catch (e) { return false; }
  }

  // ---------------------------------------------------------------- start
  if (cfg.blocked) {
    root.classList.add("blocked");
    setState("error", "Not available here");
    note("This website is not allowed to show this chat.", true);
    return;
  }
  if (cfg.transport === "text" || !cfg.realtime || !(navigator.mediaDevices && window.AudioWorkletNode)) root.classList.add("text-only");
  setState("idle");
  restoreHistory().then(function (resumed) {
    // Text without voice greets as the text assistant, never as the voice persona first.
    if (!resumed) bubble(null, "agent", cfg.realtime ? cfg.greeting : (cfg.textGreeting || cfg.greeting));
    if (!privacyAccepted()) showPrivacy();
    toHost({ type: "ready" });
  });
})();
