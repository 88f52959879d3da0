/* The console's few scripts: live parts that poll, and the report form's preview.
 * Plain JavaScript, no library: the pages work without it, it only saves reloads. */
(function () {
  "use strict";
  var POLL_MS = 3000;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  /* The script's words in the page's language: say(text) reads them from the page
   * (#console-texts, keyed by the Chinese text); a word it lacks is shown in Chinese.
   * Placeholders such as {m} are filled from the values given. */
  var TEXTS = {};
  try { TEXTS = JSON.parse((document.getElementById("console-texts") || {}).textContent || "{}"); } catch (e) {}
  function say(key, values) {
    var out = Object.prototype.hasOwnProperty.call(TEXTS, key) ? TEXTS[key] : key;
    return out.replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? String(values[name]) : all;
    });
  }

  /* A live part: an element with data-live (a URL answering {version, html}) and
   * data-version. The server sends html only when the version changed. While the user
   * is typing inside it, the swap waits, so an answer being written is never lost. */
  function busy(el) {
    var a = document.activeElement;
    if (!a || !el.contains(a) || !/^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) return false;
    return a.type !== "hidden" && a.type !== "submit";
  }

  function poll(el) {
    if (document.hidden || busy(el)) return;
    var url = el.dataset.live + "?since=" + encodeURIComponent(el.dataset.version || "");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) {
        if (!data || data.html === null || data.html === undefined) return;
        var before = {};
        el.querySelectorAll("[data-order]").forEach(function (n) { before[n.dataset.order] = n.dataset.state; });
        el.innerHTML = data.html;
        el.dataset.version = data.version;
        el.querySelectorAll("[data-order]").forEach(function (n) {
          if (before[n.dataset.order] !== n.dataset.state) n.classList.add("fresh");
        });
      })
      .catch(function () { /* the network blinked: the next poll tries again */ });
  }

  document.querySelectorAll("[data-live]").forEach(function (el) {
    setInterval(function () { poll(el); }, POLL_MS);
  });

  /* Running clocks (the board): elements with data-since tick every second between polls. */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".clock.running[data-since]").forEach(function (el) {
      var s = Math.floor((now - Date.parse(el.dataset.since)) / 1000);
      if (isNaN(s) || s < 0) return;
      el.textContent = s < 3600 ? say("{m}分{s}秒", { m: Math.floor(s / 60), s: pad(s % 60) })
        : say("{h}小时{m}分", { h: Math.floor(s / 3600), m: pad(Math.floor((s % 3600) / 60)) });
    });
  }
  if (document.querySelector(".clock.running, [data-live='/console/board/live']")) setInterval(tick, 1000);

  /* Parts loaded after the page (a case's linked cases): data-fragment answers {html}. */
  document.querySelectorAll("[data-fragment]").forEach(function (el) {
    fetch(el.dataset.fragment, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.html) el.innerHTML = data.html; })
      .catch(function () {});
  });

  /* The money-flow graph: clicking an account shows its transactions and holds beside it. */
  document.querySelectorAll(".flow-wrap[data-account-url]").forEach(function (wrap) {
    var panel = wrap.querySelector("#account-detail");
    wrap.addEventListener("click", function (ev) {
      var node = ev.target.closest ? ev.target.closest("a.node[data-account]") : null;
      if (!node || !panel) return;
      ev.preventDefault();
      var account = node.dataset.account;
      fetch(wrap.dataset.accountUrl + "?account=" + encodeURIComponent(account),
            { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          panel.innerHTML = data.html;
          wrap.querySelectorAll("a.node.selected").forEach(function (n) { n.classList.remove("selected"); });
          node.classList.add("selected");
        })
        .catch(function () {});
    });
  });

  /* The report form: what intake reads from the text, for the officer to confirm. */
  var text = document.querySelector("textarea[data-preview]");
  var box = document.getElementById("preview");
  if (text && box) {
    var timer = null;
    var show = function (data) {
      var dl = box.querySelector("dl");
      var empty = box.querySelector("[data-empty]");
      var any = data.scam_label || data.amounts.length || data.identifiers.length;
      dl.hidden = !any; empty.hidden = !!any;
      box.querySelector('[data-field="scam"]').textContent = data.scam_label || "—";
      box.querySelector('[data-field="amounts"]').textContent = data.amounts.join(say("，")) || "—";
      var ids = box.querySelector('[data-field="ids"]');
      ids.textContent = "";
      data.identifiers.forEach(function (i) {
        var line = document.createElement("div");
        var code = document.createElement("code");
        code.textContent = i.value;
        line.textContent = (i.label || i.kind) + " ";
        line.appendChild(code);
        ids.appendChild(line);
      });
      if (!data.identifiers.length) ids.textContent = "—";
    };
    var send = function () {
      var body = new URLSearchParams({ text: text.value });
      fetch(text.dataset.preview, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf }
      }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) show(data); })
        .catch(function () {});
    };
    text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(send, 400); });
    if (text.value) send();
  }

  /* The order form: the amount matters only for stop-payment, freeze and unfreeze. */
  document.querySelectorAll("form[data-money-kinds]").forEach(function (form) {
    var money = form.dataset.moneyKinds.split(",");
    var kind = form.querySelector('select[name="kind"]');
    var amount = form.querySelector("label.amount");
    var sync = function () {
      var need = money.indexOf(kind.value) >= 0;
      amount.style.visibility = need ? "visible" : "hidden";
      amount.querySelector("input").required = need;
    };
    kind.addEventListener("change", sync);
    sync();
  });
})();
