// 核销台: scan a QR or barcode with the phone camera and look the code up.
// BarcodeDetector (Chrome on Android, Safari 17+) reads QR and Code 128; elsewhere the vendored
// jsQR decoder (QR only) is loaded on first use. Without a camera the typed code still works.
(function () {
  var form = document.getElementById("redemption-lookup");
  if (!form) { return; }
  var input = document.getElementById("code");
  var scanButton = document.getElementById("redemption-scan");
  var stopButton = document.getElementById("redemption-scan-stop");
  var box = document.getElementById("redemption-scanner");
  var video = document.getElementById("redemption-video");
  var stream = null, running = false, detector = null, canvas = null;

  function say(message) {
    var error = document.getElementById("global-error");
    if (error) { error.hidden = false; error.textContent = message; }
  }

  function submit(code) {
    input.value = code;
    stop();
    if (navigator.vibrate) { navigator.vibrate(60); }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function loadDecoder() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) { resolve(); return; }
      var script = document.createElement("script");
      script.src = form.dataset.decoder;
      script.onload = function () { resolve(); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function makeDetector() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      var wanted = ["qr_code", "code_128"].filter(function (f) { return formats.indexOf(f) >= 0; });
      return wanted.length ? new window.BarcodeDetector({ formats: wanted }) : null;
    }).catch(function () { return null; });
  }

  function tick() {
    if (!running) { return; }
    if (video.readyState < 2) { requestAnimationFrame(tick); return; }
    if (detector) {
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) { submit(codes[0].rawValue); } else { setTimeout(tick, 120); }
      }).catch(function () { setTimeout(tick, 250); });
      return;
    }
    canvas = canvas || document.createElement("canvas");
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, 640 / Math.max(w, h));
    canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    if (found && found.data) { submit(found.data); } else { setTimeout(tick, 150); }
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(form.dataset.unsupported); return; }
    makeDetector().then(function (d) {
      detector = d;
      return d ? null : loadDecoder();
    }).then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      box.hidden = false;
      running = true;
      return video.play();
    }).then(function () { tick(); }).catch(function () { stop(); say(form.dataset.noCamera); });
  }

  function stop() {
    running = false;
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    if (box) { box.hidden = true; }
  }

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", start);
    stopButton.addEventListener("click", stop);
  }
  // After a result, the next customer: clear and focus the field (a hardware scanner types there).
  // After a refusal the code stays, selected: a clerk can mend a mistyped digit, and a scanner's
  // next code still replaces it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "redemption-panel") {
      var state = document.getElementById("redemption-panel").dataset.state;
      if (state === "preview") { var confirm = document.getElementById("redemption-confirm"); if (confirm) { confirm.focus(); } }
      else if (document.getElementById("redemption-rejected")) { input.focus(); input.select(); }
      else { input.value = ""; input.focus(); }
    }
  });
})();
