// The console's few lines of script; every page also works without it.
(function () {
  "use strict";
  // dates in the user's zone: tell the server the browser's zone (WebContext.zone reads it)
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // zone names are letters, digits and _ + - /: safe in a cookie as they are
    var usable = zone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone);
    var had = document.cookie.split("; ").some(function (c) { return c === "tz=" + zone; });
    if (usable && !had) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
      var root = document.documentElement.dataset;
      if (root.reloadable && root.zone !== zone && !sessionStorage.getItem("tz-reloaded")) {
        sessionStorage.setItem("tz-reloaded", "1");
        location.reload();
        return;
      }
    }
  } catch (e) { /* no Intl: the server's zone is used */ }

  // the watchlist editor's live preview: a debounced fetch of an HTML fragment
  var form = document.querySelector("form[data-preview]");
  if (!form) { return; }
  var box = document.getElementById("preview");
  var timer = null, serial = 0;
  function refresh() {
    var params = new URLSearchParams(new FormData(form));
    params.delete("csrf_token");
    var mine = ++serial;
    box.setAttribute("aria-busy", "true");
    fetch(form.dataset.preview + "?" + params.toString(), { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== serial) { return; }  // an older answer arriving late
        box.innerHTML = html;  // the server's fragment: rendered with autoescape
        box.setAttribute("aria-busy", "false");
        box.dataset.updated = String(mine);
      })
      .catch(function () { box.setAttribute("aria-busy", "false"); });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 350);
  });
})();
