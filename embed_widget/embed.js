/* Sales widget loader: <script src="https://HOST/embed.js" data-company="acme" async></script>
   Adds a launcher bubble; the widget iframe is created on first open. One global: SalesWidget. */
(function () {
  "use strict";
  if (window.SalesWidget) return;
  var script = document.currentScript || document.querySelector("script[data-company][src*='embed.js']");
  if (!script) return;
  var company = script.getAttribute("data-company") || "";
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(company)) return;
  var base = new URL(script.src, location.href);
  var widgetOrigin = base.origin;
  var side = script.getAttribute("data-position") === "bottom-left" ? "left" : "right";
  var label = script.getAttribute("data-label") || "Talk to sales";
  var color = /^#[0-9a-fA-F]{3,6}$/.test(script.getAttribute("data-color") || "") ? script.getAttribute("data-color") : "#4f46e5";
  var frame = null, box = null, isOpen = false;

  function css(el, rules) { for (var k in rules) el.style.setProperty(k, rules[k]); return el; }

  var button = css(document.createElement("button"), {
    position: "fixed", bottom: "20px", [side]: "20px", "z-index": "2147483000",
    "border-radius": "28px", border: "0", padding: "14px 20px", background: color, color: "#fff",
    font: "600 15px/1.2 system-ui,sans-serif", cursor: "pointer", "box-shadow": "0 6px 24px rgba(0,0,0,.25)"
  });
  button.type = "button";
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-expanded", "false");
  button.textContent = label;

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
    box.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    button.textContent = "\u2715 Close";
    post({ source: "sales-widget-host", type: "open" });
  }

  function close() {
    if (!box) return;
    isOpen = false;
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
    else if (d.type === "ready" && isOpen) post({ source: "sales-widget-host", type: "open" });
    else if (d.type === "resize" && typeof d.height === "number")
      box.style.height = Math.max(240, Math.min(d.height, innerHeight - 110)) + "px";
  });

  button.addEventListener("click", function () { isOpen ? close() : open(); });
  function mount() { document.body.appendChild(button); }
  document.body ? mount() : document.addEventListener("DOMContentLoaded", mount);
  window.SalesWidget = { open: open, close: close, company: company };
})();
