// Mock-interview countdown. The server sends the seconds left when the page loads; the
// count runs on performance.now(), so a wrong clock on the learner's machine cannot add or
// remove time. At zero the form is submitted with what is in the boxes; the server decides
// whether it still counts (it ends the attempt at its own deadline either way).
(function () {
  "use strict";
  var clock = document.getElementById("mock-clock");
  if (!clock || !clock.dataset.remainingMs) return; // untimed: nothing to count
  var form = document.getElementById(clock.dataset.form);
  var display = document.getElementById("mock-remaining");
  var announce = document.getElementById("mock-announce");
  var staticNote = document.getElementById("mock-static-note");
  var atLoad = parseInt(clock.dataset.remainingMs, 10) / 1000;
  var loadedAt = performance.now();
  // Screen readers hear the time at these marks only (a live timer every second is noise).
  var marks = [
    { seconds: 300, text: "5 minutes left." },
    { seconds: 60, text: "1 minute left." },
  ];
  var finished = false;

  if (staticNote) staticNote.hidden = true;

  function format(seconds) {
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function say(text) {
    if (announce) announce.textContent = text;
  }

  function tick() {
    var exact = atLoad - (performance.now() - loadedAt) / 1000;
    var left = Math.max(0, Math.ceil(exact));
    if (display) display.textContent = format(left);
    clock.classList.toggle("low", left <= 60);
    marks.forEach(function (mark) {
      if (!mark.done && atLoad > mark.seconds && left <= mark.seconds && left > 0) {
        mark.done = true;
        say(mark.text);
      }
    });
    if (exact <= 0 && !finished) {
      finished = true;
      say("Time is up. Your answers are being submitted.");
      // form.submit() skips validation and submit handlers: the clock has the last word.
      if (form) HTMLFormElement.prototype.submit.call(form);
    }
  }

  tick();
  window.setInterval(tick, 250);
})();
