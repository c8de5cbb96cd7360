/* The web chat client: every text is shown with textContent, never parsed as HTML. */
(function () {
  "use strict";

  var app = document.querySelector(".app");
  var log = document.getElementById("log");
  var scroller = document.getElementById("scroller");
  var typing = document.getElementById("typing");
  var form = document.getElementById("composer");
  var box = document.getElementById("msg");
  var historyUrl = app.getAttribute("data-history-url");
  var messageUrl = app.getAttribute("data-message-url");
  var csrf = "";
  var queue = Promise.resolve();
  var waiting = 0;

  // https links, North American phone numbers, and 911.
  var LINKS = /(https:\/\/[^\s<>"']+)|((?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4})|\b(911)\b/g;
  var TRAILING = /[.,;:!?)\]'"]+$/;

  function link(href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (href.indexOf("https:") === 0) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return a;
  }

  function httpsLink(raw) {
    try {
      var url = new URL(raw);
      return url.protocol === "https:" ? link(url.href, raw) : null;
    } catch (e) {
      return null;
    }
  }

  function telLink(raw) {
    var digits = raw.replace(/\D/g, "");
    if (digits.length === 10) digits = "1" + digits;
    return link(digits.length === 3 ? "tel:" + digits : "tel:+" + digits, raw);
  }

  // Append text to `el`, turning links and phone numbers into <a> elements (textContent only).
  function fillLinked(el, text) {
    var last = 0;
    var match;
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      var raw = match[0];
      var tail = "";
      if (match[1]) {
        tail = (raw.match(TRAILING) || [""])[0];
        raw = raw.slice(0, raw.length - tail.length);
      }
      var a = match[1] ? httpsLink(raw) : telLink(raw);
      if (!a) continue;
      el.appendChild(document.createTextNode(text.slice(last, match.index)));
      el.appendChild(a);
      last = match.index + raw.length;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
  }

  // Every string the page shows comes from the page (templates/web/[LANG/]chat.html).
  function say(name, fallback) {
    var key = "say" + String(name || "").replace(/(^|[-_])(\w)/g, function (_, __, c) { return c.toUpperCase(); });
    return app.dataset[key] || fallback;
  }

  function scrollDown() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  function add(from, text) {
    var li = document.createElement("li");
    li.className = "bubble " + from;
    var who = document.createElement("span");
    who.className = "sr-only";
    who.textContent = from === "you" ? say("you", "You: ") : from === "bot" ? say("bot", "Assistant: ") : "";
    var body = document.createElement("span");
    body.className = "text";
    if (from === "bot") fillLinked(body, text);
    else body.textContent = text;
    li.appendChild(who);
    li.appendChild(body);
    log.appendChild(li);
    scrollDown();
    return li;
  }

  function setTyping(delta) {
    waiting += delta;
    typing.hidden = waiting <= 0;
    scrollDown();
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function loadHistory() {
    return fetch(historyUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("history " + res.status);
        return res.json();
      })
      .then(function (data) {
        csrf = data.csrf;
        return data.messages || [];
      });
  }

  function post(text, id, attempt) {
    return fetch(messageUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text: text, id: id })
    }).then(function (res) {
      if (res.status === 403 && attempt < 1) {
        return loadHistory().then(function () { return post(text, id, attempt + 1); });
      }
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          // The server explains in the clinic's language; a page in another says it itself.
          var localized = app.dataset.lang !== app.dataset.defaultLang && say(data.error, "");
          throw new Error(localized || data.message || say("failed", "Something went wrong. Please try again."));
        }
        return data;
      });
    }, function () {
      // Network trouble: the same id again is safe, the server processes it once.
      if (attempt >= 2) {
        throw new Error(say("offline", "We couldn't reach the clinic. Check your connection and try again."));
      }
      return sleep(700 * (attempt + 1)).then(function () { return post(text, id, attempt + 1); });
    });
  }

  function deliver(text, id) {
    setTyping(1);
    return post(text, id, 0)
      .then(function (data) {
        (data.replies || []).forEach(function (reply) { add("bot", reply); });
        // The conversation is now in another language (ES / EN, or detected): so is the page.
        if (data.lang && data.lang !== app.dataset.lang) {
          window.location.replace(window.location.pathname + "?lang=" + encodeURIComponent(data.lang));
        }
      })
      .catch(function (err) {
        add("note", err.message);
      })
      .then(function () { setTyping(-1); });
  }

  function autosize() {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight + 2, 140) + "px";
  }

  function send() {
    var text = box.value.trim();
    box.focus();
    if (!text) return;
    box.value = "";
    autosize();
    add("you", text);
    var id = newId();
    queue = queue.then(function () { return deliver(text, id); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  box.addEventListener("input", autosize);

  log.setAttribute("aria-busy", "true");
  queue = loadHistory()
    .then(function (messages) {
      messages.forEach(function (m) { add(m.from === "you" ? "you" : "bot", m.text); });
    })
    .catch(function () {
      add("note", say("not-loaded", "The chat could not load. Reload the page, or call us."));
    })
    .then(function () {
      log.removeAttribute("aria-busy");
      app.setAttribute("data-ready", "true");
    });
  box.focus();
})();
