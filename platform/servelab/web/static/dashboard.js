// Regrade progress on the exercise dashboard. Without JavaScript the page refreshes itself
// (a <noscript> meta refresh); with it, the batch's counts are polled as JSON and the page
// reloads once, when the batch is done, to show the new scores.
(function () {
  "use strict";
  var section = document.getElementById("regrade-progress");
  if (!section || !window.fetch) {
    return;
  }
  var url = section.getAttribute("data-progress-url");
  var seconds = Number(section.getAttribute("data-poll-seconds")) || 3;
  var status = document.getElementById("regrade-status");
  var bar = section.querySelector("progress");
  var failures = 0;

  function show(p) {
    var total = p.queued + p.running + p.done;
    status.textContent = p.queued + " queued, " + p.running + " running, " + p.done +
      " done of " + total + " regraded.";
    bar.max = Math.max(total, 1);
    bar.value = p.done;
  }
  function poll() {
    fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("progress answered " + response.status);
        }
        return response.json();
      })
      .then(function (progress) {
        failures = 0;
        show(progress);
        if (progress.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, seconds * 1000);
        }
      })
      .catch(function () {
        failures += 1;  // the server is busy or away: slow down, then fall back to reloading
        if (failures > 5) {
          window.location.reload();
        } else {
          window.setTimeout(poll, seconds * 2000);
        }
      });
  }
  window.setTimeout(poll, seconds * 1000);
})();
