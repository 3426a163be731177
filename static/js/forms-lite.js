// The lite pages (the counter, sign-in) load this instead of htmx: htmx alone weighs more, gzipped,
// than everything else of the counter's first visit on a phone, and these pages use one thing of
// it: a form with hx-post whose answer replaces its hx-target (hx-swap="outerHTML"). This does that
// as htmx does: the same request headers (HX-Request, HX-Target, HX-Trigger, HX-Current-URL, the
// CSRF token), 2xx and 422 swapped, 204 left alone, HX-Redirect followed, hx-confirm asked first,
// hx-disabled-elt disabled while the request runs, a newer submit of the same form replacing the
// older, and the same events (htmx:afterSwap, htmx:load, htmx:responseError, htmx:sendError), so
// the pages' scripts work under either. tests/test_assets.py checks the lite pages use no other
// hx- attribute. Without JavaScript the forms post as plain forms.
(function () {
  if (window.htmx) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var running = new WeakMap();

  function fire(elt, name, detail) {
    (elt.isConnected ? elt : document.body).dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  }

  function swap(target, html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var fresh = holder.content.firstElementChild || target;
    target.replaceWith(holder.content);
    fire(fresh, "htmx:afterSwap", { elt: fresh, target: fresh });
    fire(fresh, "htmx:load", { elt: fresh });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var url = form.getAttribute && form.getAttribute("hx-post");
    if (!url || event.defaultPrevented) { return; }
    event.preventDefault();
    var question = form.getAttribute("hx-confirm");
    if (question && !window.confirm(question)) { return; }
    var target = (form.getAttribute("hx-target") && document.querySelector(form.getAttribute("hx-target"))) || form;
    var busy = form.getAttribute("hx-disabled-elt");
    busy = busy ? Array.prototype.slice.call(document.querySelectorAll(busy)) : [];
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    var headers = { "HX-Request": "true", "HX-Current-URL": window.location.href };
    if (target.id) { headers["HX-Target"] = target.id; }
    if (form.id) { headers["HX-Trigger"] = form.id; }
    if (meta) { headers["X-CSRFToken"] = meta.content; }
    if (running.get(form)) { running.get(form).abort(); }
    var request = new AbortController();
    running.set(form, request);
    busy.forEach(function (elt) { elt.disabled = true; });
    fetch(url, { method: "POST", body: new URLSearchParams(data), headers: headers, credentials: "same-origin", signal: request.signal })
      .then(function (response) {
        var redirect = response.headers.get("HX-Redirect");
        if (redirect) { window.location.href = redirect; return null; }
        if (response.status === 204) { return null; }
        if (!response.ok && response.status !== 422) {
          fire(form, "htmx:responseError", { elt: form, target: target, xhr: { status: response.status } });
          return null;
        }
        return response.text().then(function (html) { if (running.get(form) === request) { swap(target, html); } });
      })
      .catch(function (error) {
        if (error.name !== "AbortError") { fire(form, "htmx:sendError", { elt: form, target: target }); }
      })
      .then(function () {
        if (running.get(form) !== request) { return; }
        running.delete(form);
        busy.forEach(function (elt) { elt.disabled = false; });
      });
  });
})();
