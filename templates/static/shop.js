/* The demo shop's header cart count, the "added to cart" message and the drop reminder.
 * Cart events go through sw.js (window.shopwindow.track); the count starts from GET /_sw/cart. */
(function (w, d) {
  "use strict";
  var lines = {}; // product id -> quantity, as the header believes it
  var toastTimer = null;

  function total() {
    var n = 0;
    for (var id in lines) n += lines[id];
    return n;
  }

  function render() {
    var n = total();
    var counts = d.querySelectorAll("[data-cart-count]");
    for (var i = 0; i < counts.length; i++) counts[i].textContent = String(n);
    var removes = d.querySelectorAll("[data-cart-remove]");
    for (var j = 0; j < removes.length; j++) {
      removes[j].hidden = !lines[removes[j].getAttribute("data-cart-remove")];
    }
  }

  function toast(text) {
    var box = d.querySelector("[data-cart-toast]");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, 4000);
  }

  function items(n) {
    return n + (n === 1 ? " item" : " items");
  }

  function track(type, data) {
    if (w.shopwindow && w.shopwindow.track) w.shopwindow.track(type, data);
  }

  // Capture phase after sw.js's own listener has queued the add_to_cart beacon.
  d.addEventListener("click", function (e) {
    var add = e.target.closest && e.target.closest("[data-sw-add-to-cart]");
    if (add) {
      var id = add.getAttribute("data-sw-add-to-cart");
      var qty = +add.getAttribute("data-sw-quantity") || 1;
      lines[id] = Math.min(99, (lines[id] || 0) + qty);
      render();
      toast("Added to your cart: " + (add.getAttribute("data-name") || "this item") +
        ". Your cart holds " + items(total()) + ".");
      return;
    }
    var remove = e.target.closest && e.target.closest("[data-cart-remove]");
    if (remove) {
      var rid = remove.getAttribute("data-cart-remove");
      track("remove_from_cart", { product_id: rid });
      delete lines[rid];
      render();
      toast("Removed from your cart: " + (remove.getAttribute("data-name") || "this item") +
        ". Your cart holds " + items(total()) + ".");
    }
  });

  d.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-remind-drop")) return;
    e.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ drop: form.getAttribute("data-remind-drop") })
    }).then(function (r) {
      var done = form.querySelector(".remind-done");
      if (r.ok && done) {
        done.hidden = false;
        if (button) button.hidden = true;
      } else if (button) {
        button.disabled = false;
      }
    }, function () { if (button) button.disabled = false; });
  });

  function start() {
    fetch("/_sw/cart", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (cart) {
        if (!cart) return;
        // What was clicked before the answer came stays counted on top of it.
        var clicked = lines;
        lines = {};
        (cart.lines || []).forEach(function (line) { lines[line.product_id] = line.quantity; });
        for (var id in clicked) lines[id] = Math.max(lines[id] || 0, clicked[id]);
        render();
      })
      .catch(function () {});
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start);
  else start();
})(window, document);
