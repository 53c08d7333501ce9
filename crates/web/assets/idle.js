// Automatic sign-off without lost work, on staff pages.
// - Typing, tapping or clicking tells the server the person is still there
//   (at most once a minute), so a long note is never cut off mid-sentence.
// - With no activity, a warning appears two minutes before the sign-off,
//   with "Stay signed in".
// - Thirty seconds before the sign-off, a form with unsaved typing is kept as
//   the person's draft; at the sign-off the page is covered and the browser
//   goes to the sign-in page (the record does not stay on an unattended
//   screen). Signing in again brings the draft back into its form.
(function () {
  "use strict";
  var idle = 0, lastPing = Date.now(), dirty = null, saved = false;
  var box = null, timer = null;

  function ping() {
    lastPing = Date.now();
    return fetch("/session/alive", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j && j.idle_seconds) { idle = j.idle_seconds; } return j; })
      .catch(function () { return null; });
  }

  function activity() {
    hide();
    if (Date.now() - lastPing > 60000) { ping(); }
  }

  function show(secondsLeft) {
    if (!box) {
      box = document.createElement("div");
      box.className = "idle-warning";
      box.setAttribute("role", "alertdialog");
      box.setAttribute("aria-live", "assertive");
      box.setAttribute("aria-label", "Signing out soon");
      var p = document.createElement("p");
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = "Stay signed in";
      b.addEventListener("click", function () { activity(); ping(); });
      box.appendChild(p);
      box.appendChild(b);
      document.body.appendChild(box);
      b.focus();
    }
    var m = Math.floor(secondsLeft / 60), s = secondsLeft % 60;
    box.firstChild.textContent = "For privacy you will be signed out in " +
      (m > 0 ? m + " min " : "") + s + " s because nothing has been typed or clicked." +
      (dirty ? " What you typed will be kept as a draft." : "");
  }

  function hide() {
    if (box) { box.remove(); box = null; }
  }

  function keepDraft() {
    if (!dirty || saved) { return; }
    saved = true;
    var action = dirty.getAttribute("action") || location.pathname;
    var body = new URLSearchParams(new FormData(dirty)).toString();
    fetch("/drafts?path=" + encodeURIComponent(action), {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: body
    }).catch(function () {});
  }

  function tick() {
    if (!idle) { return; }
    // The server counts from the last request it saw; activity pings it.
    var left = Math.round((lastPing + idle * 1000 - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(timer);
      document.body.classList.add("signed-off");
      location.assign("/login?m=idle");
    } else if (left <= 45) {
      keepDraft();
      show(left);
    } else if (left <= 120) {
      show(left);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[method=post]").forEach(function (f) {
      if (f.enctype === "multipart/form-data") { return; }
      f.addEventListener("input", function () { dirty = f; saved = false; });
      f.addEventListener("submit", function () { dirty = null; });
    });
    ["keydown", "pointerdown", "input"].forEach(function (e) {
      document.addEventListener(e, activity, { passive: true, capture: true });
    });
    ping().then(function () { timer = setInterval(tick, 1000); });
  });
})();
