/* Sales widget loader: <script src="https://HOST/embed.js" data-company="acme" async></script>
   Asks the server for the company's public config first: on an origin the company does not
   allow, nothing appears. Otherwise it adds the launcher (label, colour, position and greeting
   from the company config); the widget iframe is created on first open. One global: SalesWidget. */
(function () {
  "use strict";
  if (window.SalesWidget) return;
  var script = document.currentScript || document.querySelector("script[data-company][src*='embed.js']");
  if (!script) return;
  var company = script.getAttribute("data-company") || "";
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(company)) return;
  var widgetOrigin = new URL(script.src, location.href).origin;
  var COLOR = /^#[0-9a-fA-F]{3,8}$/;
  var OPEN_KEY = "sales-widget:" + company + ":open";
  window.SalesWidget = { company: company, ready: false };

  function css(el, rules) { for (var k in rules) el.style.setProperty(k, rules[k]); return el; }
  function remembered() { try { return sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { return false; } }
  function remember(open) { try { sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* blocked */ } }

  function mount(launcher) {
    var side = launcher.position === "bottom-left" ? "left" : "right";
    var label = launcher.label || "Talk to sales";
    var color = COLOR.test(launcher.color || "") ? launcher.color : "#4f46e5";
    var ink = COLOR.test(launcher.text_color || "") ? launcher.text_color : "#ffffff";
    var frame = null, box = null, teaser = null, isOpen = false;

    var button = css(document.createElement("button"), {
      position: "fixed", bottom: "20px", [side]: "20px", "z-index": "2147483000",
      "border-radius": "28px", border: "0", padding: "14px 20px", background: color, color: ink,
      font: "600 15px/1.2 system-ui,sans-serif", cursor: "pointer", "box-shadow": "0 6px 24px rgba(0,0,0,.25)"
    });
    button.type = "button";
    button.className = "sales-widget-launcher";
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    button.textContent = label;

    if (launcher.greeting && !remembered()) {
      teaser = css(document.createElement("div"), {
        position: "fixed", bottom: "76px", [side]: "20px", "z-index": "2147483000",
        "max-width": "260px", padding: "10px 14px", "border-radius": "14px", background: "#fff",
        color: "#111827", font: "14px/1.4 system-ui,sans-serif", "box-shadow": "0 6px 24px rgba(0,0,0,.18)",
        cursor: "pointer"
      });
      teaser.className = "sales-widget-teaser";
      teaser.textContent = launcher.greeting;
      teaser.addEventListener("click", function () { open(); });
    }

    function build() {
      box = css(document.createElement("div"), {
        position: "fixed", bottom: "84px", [side]: "20px", "z-index": "2147483000",
        width: "min(380px, calc(100vw - 24px))", height: "min(600px, calc(100vh - 110px))",
        "border-radius": "16px", overflow: "hidden", "box-shadow": "0 12px 48px rgba(0,0,0,.3)",
        display: "none", background: "#fff"
      });
      frame = css(document.createElement("iframe"), { border: "0", width: "100%", height: "100%" });
      frame.title = label;
      frame.allow = "microphone; autoplay";
      var transport = script.getAttribute("data-transport");
      frame.src = widgetOrigin + "/widget/" + company + "?host=" + encodeURIComponent(location.origin) +
        (/^(auto|webrtc|relay|text)$/.test(transport || "") ? "&transport=" + transport : "");
      box.appendChild(frame);
      document.body.appendChild(box);
    }

    function post(msg) { if (frame && frame.contentWindow) frame.contentWindow.postMessage(msg, widgetOrigin); }

    function open() {
      if (!frame) build();
      isOpen = true;
      remember(true);
      if (teaser) { teaser.remove(); teaser = null; }
      box.style.display = "block";
      button.setAttribute("aria-expanded", "true");
      button.textContent = "\u2715 Close";
      post({ source: "sales-widget-host", type: "open" });
    }

    function close() {
      if (!box) return;
      isOpen = false;
      remember(false);
      box.style.display = "none";
      button.setAttribute("aria-expanded", "false");
      button.textContent = label;
      button.focus();
    }

    window.addEventListener("message", function (e) {
      // Only the widget's own frame, from the widget's own origin, may steer the box.
      if (!frame || e.origin !== widgetOrigin || e.source !== frame.contentWindow) return;
      var d = e.data || {};
      if (d.source !== "sales-widget") return;
      if (d.type === "close") close();
      else if (d.type === "ready") {
        // Which page the conversation runs on (the record keeps where it started).
        post({ source: "sales-widget-host", type: "context", page_url: location.href, referrer: document.referrer });
        if (isOpen) post({ source: "sales-widget-host", type: "open" });
      } else if (d.type === "resize" && typeof d.height === "number")
        box.style.height = Math.max(240, Math.min(d.height, innerHeight - 110)) + "px";
    });

    button.addEventListener("click", function () { isOpen ? close() : open(); });
    document.body.appendChild(button);
    if (teaser) document.body.appendChild(teaser);
    window.SalesWidget = { open: open, close: close, company: company, ready: true };
    // The visitor had the chat open on the previous page of this site: keep it open.
    if (remembered()) open();
  }

  function start() {
    fetch(widgetOrigin + "/api/widget/" + company + "/config", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : { allowed: false }; })
      .then(function (conf) {
        if (!conf.allowed || !conf.launcher) { window.SalesWidget = { company: company, ready: true, allowed: false }; return; }
        mount(conf.launcher);
      })
      .catch(function () { window.SalesWidget = { company: company, ready: true, allowed: false }; });
  }
  document.body ? start() : document.addEventListener("DOMContentLoaded", start);
})();
