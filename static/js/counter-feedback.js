// 核销台 feedback, as 开店宝 gives it: a bright two-note chime and a short double buzz when a
// redemption is confirmed, a low tone and one long buzz when it is refused. The sound is made
// with Web Audio (no file to load); browsers allow it only after a tap, so the first tap on the
// page unlocks it. The clerk can switch the sound off (remembered on this phone).
(function () {
  var KEY = "counter-sound";
  var audio = null;
  var toggle = document.getElementById("counter-sound");

  function soundOn() {
    try { return window.localStorage.getItem(KEY) !== "off"; } catch (e) { return true; }
  }

  function showToggle() {
    if (!toggle) { return; }
    var on = soundOn();
    toggle.hidden = false;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? toggle.dataset.on : toggle.dataset.off;
  }

  function unlock() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    if (!audio) { audio = new Context(); }
    if (audio.state === "suspended") { audio.resume(); }
  }

  function tone(frequency, start, length, type) {
    var oscillator = audio.createOscillator(), gain = audio.createGain();
    var at = audio.currentTime + start;
    oscillator.type = type;
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    oscillator.connect(gain);
    gain.connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + length + 0.02);
  }

  function signal(ok) {
    document.body.dataset.counterSignal = ok ? "success" : "refused";  // what was signalled, for browser tests
    if (navigator.vibrate) { navigator.vibrate(ok ? [70, 60, 70] : [350]); }
    if (!soundOn() || !audio) { return; }
    if (ok) { tone(1046.5, 0, 0.16, "sine"); tone(1568, 0.12, 0.3, "sine"); }
    else { tone(220, 0, 0.45, "square"); }
    document.body.dataset.counterSound = "played";
  }

  document.addEventListener("pointerdown", unlock, { passive: true });
  document.addEventListener("keydown", unlock);
  if (toggle) {
    toggle.addEventListener("click", function () {
      try { window.localStorage.setItem(KEY, soundOn() ? "off" : "on"); } catch (e) { /* private mode: stays on */ }
      showToggle();
    });
  }
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "redemption-panel") { return; }
    if (document.getElementById("redemption-success")) { signal(true); }
    else if (document.getElementById("redemption-rejected")) { signal(false); }
  });
  showToggle();
})();
