/*! shopwindow client: beacons, exit intent and the exit-intent popup. No dependencies.
 * Load once: <script src="/_sw/sw.js" defer></script>. Settings: data-sw-* attributes on
 * that tag, or window.shopwindowConfig = {...} set before it (docs/popups.md). */
(function (w, d) {
  "use strict";
  var old = w.shopwindow;
  if (old && old.version) return; // loaded twice

  var defaults = {
    dwell: 5000, // ms on the page before any exit intent counts
    top: 10, // px: the cursor leaves through the top edge (clientY at most this)
    scrollUp: 300, // px scrolled up ...
    scrollTime: 300, // ... within this many ms: a fast scroll up
    idle: 30000, // ms without touch, scroll or key: idle
    away: 2000, // ms the tab was hidden before coming back counts
    retry: 10000, // ms before asking again when the server had no popup
    triggers: "auto", // top scroll idle return, or auto: top with a mouse, the others on touch
    popup: true, // false: beacons only, never a popup
    render: null // function (offer, report): render the JSON answer yourself
  };
  var tag = d.currentScript;
  var base = tag && tag.src ? new URL(".", tag.src).href : "/_sw/";
  var cfg = {};
  var key;
  for (key in defaults) cfg[key] = defaults[key];
  for (key in defaults) {
    var attr = tag && tag.getAttribute("data-sw-" + key.replace(/[A-Z]/g, function (c) {
      return "-" + c.toLowerCase();
    }));
    if (attr !== null && attr !== undefined) cfg[key] = convert(attr, defaults[key]);
  }
  var given = w.shopwindowConfig || {};
  for (key in given) if (key in defaults) cfg[key] = given[key];

  function convert(text, like) {
    if (typeof like === "number") return isFinite(+text) ? +text : like;
    if (typeof like === "boolean") return text !== "false" && text !== "off" && text !== "0";
    return text;
  }

  // --- beacons: one request at a time, so each carries the cookie the last one set ---
  var queue = [];
  var busy = false;
  var STORE = "shopwindow:unsent";

  function pump() {
    if (busy || !queue.length) return;
    busy = true;
    var job;
    if (queue[0].run) {
      job = queue.shift().run();
    } else {
      var batch = [];
      while (queue.length && queue[0].event && batch.length < 20) batch.push(queue.shift().event);
      job = fetch(base + "events", {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(batch)
      });
    }
    Promise.resolve(job)
      .catch(function () {})
      .then(function () {
        busy = false;
        pump();
      });
  }

  function track(type, data) {
    var event = { type: String(type) };
    for (var k in data || {}) if (k !== "type" && data[k] != null) event[k] = data[k];
    queue.push({ event: event });
    pump();
  }

  // Runs `run` (which may return a promise) once every earlier beacon is answered.
  function after(run) {
    queue.push({ run: run });
    pump();
  }

  // Events still queued when the page goes are sent from the next page of this tab.
  function unsent() {
    return queue.filter(function (job) { return job.event; }).map(function (job) { return job.event; });
  }
  w.addEventListener("pagehide", function () {
    var events = unsent();
    try {
      if (events.length) sessionStorage.setItem(STORE, JSON.stringify(events));
    } catch (e) {}
  });
  w.addEventListener("pageshow", function (e) {
    if (e.persisted) try { sessionStorage.removeItem(STORE); } catch (err) {}
  });
  try {
    var saved = JSON.parse(sessionStorage.getItem(STORE) || "[]");
    sessionStorage.removeItem(STORE);
    for (var i = 0; i < saved.length && i < 50; i++) queue.push({ event: saved[i] });
  } catch (e) {}

  // --- data-sw-* attributes: views, cart adds, searches ---
  var productId = null;

  function attributes() {
    var viewed = d.querySelector("[data-sw-view]");
    if (viewed) {
      productId = viewed.getAttribute("data-sw-view");
      track("view", { product_id: productId });
    }
  }

  d.addEventListener("click", function (e) {
    var el = e.target && e.target.closest && e.target.closest("[data-sw-add-to-cart]");
    if (el) {
      track("add_to_cart", {
        product_id: el.getAttribute("data-sw-add-to-cart"),
        quantity: +el.getAttribute("data-sw-quantity") || 1
      });
    }
  }, true);

  // data-sw-click="<rule>": a click inside counts for that rule (a shoppable post's tags
  // and products), with the product from the nearest data-product-id.
  d.addEventListener("click", function (e) {
    var el = e.target && e.target.closest && e.target.closest("[data-sw-click]");
    if (!el) return;
    var item = e.target.closest("[data-product-id]");
    track("click", {
      rule: el.getAttribute("data-sw-click"),
      product_id: item && el.contains(item) ? item.getAttribute("data-product-id") : null
    });
  }, true);

  d.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-sw-search")) return;
    var field = form.elements[form.getAttribute("data-sw-search") || "q"];
    if (field && field.value && field.value.trim()) track("search", { query: field.value });
  }, true);

  // --- exit intent ---
  var start = Date.now();
  var askedAt = 0;
  var asking = false;
  var done = false; // a popup was shown on this page: no second one
  var open = null;

  function exitIntent(signal, force) {
    if (!cfg.popup || done || asking || open) return;
    var now = Date.now();
    if (!force && (now - start < cfg.dwell || (askedAt && now - askedAt < cfg.retry))) return;
    askedAt = now;
    asking = true;
    after(function () {
      var url = base + "popup?trigger=exit&signal=" + signal;
      if (productId) url += "&product=" + encodeURIComponent(productId);
      var custom = typeof cfg.render === "function";
      return fetch(url, {
        credentials: "same-origin",
        headers: { Accept: custom ? "application/json" : "text/html" }
      })
        .then(function (r) {
          if (r.status !== 200) return;
          var label = decided(r.headers.get("X-Shopwindow-Rules"));
          return (custom ? r.json() : r.text()).then(function (answer) {
            if (custom) return renderOwn(answer, label);
            show(answer, label);
          });
        })
        .then(function () { asking = false; }, function () { asking = false; });
    });
  }

  // The deciding rule is the last entry: "first-order:holdout, cart-reminder" -> cart-reminder.
  function decided(header) {
    var parts = (header || "").split(",");
    var last = parts[parts.length - 1].trim().split(":");
    return { rule: last[0] || null, variant: last[1] || null };
  }

  function report(kind, label) {
    if (label.rule) track("popup_" + kind, { rule: label.rule, variant: label.variant });
  }

  function renderOwn(offer, label) {
    label = { rule: label.rule || offer.rule, variant: label.variant || offer.variant };
    done = true;
    cfg.render(offer, function (kind) {
      if (kind === "shown" || kind === "dismissed" || kind === "converted") report(kind, label);
    });
  }

  function triggers() {
    var list = String(cfg.triggers);
    if (list === "auto") {
      var touch = w.matchMedia && w.matchMedia("(pointer: coarse)").matches;
      list = touch ? "scroll idle return" : "top";
    }
    return " " + list + " ";
  }

  function watch() {
    var on = triggers();
    if (on.indexOf(" top ") >= 0) {
      d.addEventListener("mouseout", function (e) {
        if (!e.relatedTarget && e.clientY <= cfg.top) exitIntent("top");
      });
    }
    if (on.indexOf(" scroll ") >= 0) {
      var lastY = w.scrollY;
      var ups = []; // [time, y] of the current run upwards
      w.addEventListener("scroll", function () {
        var y = w.scrollY;
        var t = Date.now();
        if (y >= lastY || (ups.length && t - ups[ups.length - 1][0] > cfg.scrollTime)) ups = [];
        if (y < lastY) {
          if (!ups.length) ups.push([t, lastY]);
          ups.push([t, y]);
          while (t - ups[0][0] > cfg.scrollTime) ups.shift();
          if (ups[0][1] - y >= cfg.scrollUp) exitIntent("scroll");
        }
        lastY = y;
      }, { passive: true });
    }
    if (on.indexOf(" idle ") >= 0) {
      var timer = 0;
      var poke = function () {
        clearTimeout(timer);
        timer = setTimeout(function () { exitIntent("idle"); }, cfg.idle);
      };
      ["scroll", "touchstart", "keydown", "pointerdown", "mousemove"].forEach(function (type) {
        w.addEventListener(type, poke, { passive: true });
      });
      poke();
    }
    if (on.indexOf(" return ") >= 0) {
      var hiddenAt = 0;
      d.addEventListener("visibilitychange", function () {
        if (d.visibilityState === "hidden") {
          hiddenAt = Date.now();
        } else if (hiddenAt) {
          var away = Date.now() - hiddenAt;
          hiddenAt = 0;
          if (away >= cfg.away) exitIntent("return");
        }
      });
    }
  }

  // --- the popup: a modal dialog; focus goes in, stays in, and comes back ---
  var CSS =
    ".sw-backdrop{position:fixed;inset:0;z-index:2147483000;display:flex;align-items:center;" +
    "justify-content:center;padding:1rem;background:rgba(0,0,0,.5)}" +
    ".sw-popup{position:relative;box-sizing:border-box;width:100%;max-width:28rem;max-height:90vh;" +
    "overflow:auto;padding:1.5rem;border-radius:8px;background:#fff;color:#222;" +
    "box-shadow:0 10px 40px rgba(0,0,0,.35)}" +
    ".sw-popup h2{margin:0 2rem .5rem 0;font-size:1.3rem}" +
    ".sw-popup-close{position:absolute;top:.4rem;right:.4rem;border:0;background:none;" +
    "font-size:1.6rem;line-height:1;padding:.3rem .6rem;cursor:pointer;color:inherit}" +
    ".sw-popup-code{letter-spacing:.06em}" +
    ".sw-popup-items{list-style:none;margin:.8rem 0;padding:0;display:grid;gap:.5rem}" +
    ".sw-popup-items a{display:flex;gap:.6rem;align-items:center;color:inherit}" +
    ".sw-popup-cta{display:inline-block;margin-top:.8rem;padding:.6rem 1.2rem;border:0;" +
    "border-radius:4px;background:#111;color:#fff;font:inherit;text-decoration:none;cursor:pointer}";
  var FOCUSABLE = "a[href],button:not([disabled]),input:not([disabled]),select,textarea,[tabindex]";

  function show(html, label) {
    if (!d.getElementById("sw-popup-style")) {
      var style = d.createElement("style");
      style.id = "sw-popup-style";
      style.textContent = CSS;
      d.head.appendChild(style);
    }
    var backdrop = d.createElement("div");
    backdrop.className = "sw-backdrop";
    backdrop.innerHTML = html;
    var box = backdrop.querySelector("[data-sw-popup]") || backdrop.firstElementChild;
    if (!box) return;
    label = {
      rule: label.rule || box.getAttribute("data-sw-rule"),
      variant: label.variant || box.getAttribute("data-sw-variant") || null
    };
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    if (!box.hasAttribute("aria-labelledby") && !box.hasAttribute("aria-label")) {
      var heading = box.querySelector("h1,h2,h3");
      if (heading) {
        heading.id = heading.id || "sw-popup-title";
        box.setAttribute("aria-labelledby", heading.id);
      }
    }
    if (!box.querySelector("[data-sw-close]")) {
      var x = d.createElement("button");
      x.type = "button";
      x.className = "sw-popup-close";
      x.setAttribute("data-sw-close", "");
      x.setAttribute("aria-label", "Close");
      x.textContent = "\u00d7";
      box.insertBefore(x, box.firstChild);
    }
    box.tabIndex = -1;
    var before = d.activeElement;
    d.body.appendChild(backdrop);
    open = backdrop;
    done = true;
    var first = box.querySelector(FOCUSABLE);
    (first || box).focus();
    report("shown", label);

    function focusables() {
      return Array.prototype.filter.call(box.querySelectorAll(FOCUSABLE), function (el) {
        return el.tabIndex >= 0 && el.offsetParent !== null;
      });
    }

    function close(kind) {
      if (open !== backdrop) return;
      open = null;
      d.removeEventListener("keydown", onKey, true);
      backdrop.parentNode && backdrop.parentNode.removeChild(backdrop);
      if (before && before.focus && d.contains(before)) before.focus();
      report(kind, label);
    }

    function onKey(e) {
      if (e.key === "Escape" || e.key === "Esc") {
        e.preventDefault();
        close("dismissed");
      } else if (e.key === "Tab") {
        var items = focusables();
        if (!items.length) {
          e.preventDefault();
          box.focus();
          return;
        }
        var firstItem = items[0];
        var lastItem = items[items.length - 1];
        var inside = box.contains(d.activeElement);
        if (e.shiftKey && (d.activeElement === firstItem || !inside)) {
          e.preventDefault();
          lastItem.focus();
        } else if (!e.shiftKey && (d.activeElement === lastItem || !inside)) {
          e.preventDefault();
          firstItem.focus();
        }
      }
    }
    d.addEventListener("keydown", onKey, true);

    backdrop.addEventListener("click", function (e) {
      var target = e.target;
      if (target === backdrop || (target.closest && target.closest("[data-sw-close]"))) {
        close("dismissed");
        return;
      }
      var cta = target.closest && target.closest("[data-sw-convert]");
      if (!cta) return;
      var href = cta.getAttribute("href");
      close("converted");
      if (href && href !== "#" && !e.defaultPrevented && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
        // Leave once the conversion is reported (or after a second at most).
        e.preventDefault();
        var gone = false;
        var go = function () {
          if (!gone) {
            gone = true;
            w.location.assign(cta.href);
          }
        };
        after(go);
        setTimeout(go, 1000);
      }
    });
  }

  var api = {
    version: "1",
    config: cfg,
    track: track,
    popup: function () { exitIntent("api", true); },
    // proof: {user_hash: "..."} or {token: "..."}, made by the shop's backend (docs/profiles.md)
    identify: function (customerId, proof) {
      if (customerId == null) return api.logout();
      var p = proof || {};
      track("identify", { customer_id: customerId, user_hash: p.user_hash, token: p.token });
    },
    // The shopper signed out: the device forgets the customer and starts as a new visitor.
    logout: function () { track("logout"); }
  };
  w.shopwindow = api;
  // Calls made before the script loaded: window.shopwindow = {q: [["track", "search", {...}]]}
  if (old && old.q && old.q.forEach) {
    old.q.forEach(function (call) {
      if (call && typeof api[call[0]] === "function") api[call[0]].apply(null, call.slice(1));
    });
  }

  function ready() {
    attributes();
    watch();
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", ready);
  else ready();
})(window, document);
