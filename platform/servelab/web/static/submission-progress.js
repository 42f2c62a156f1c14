// Live progress for a submission page. Without JavaScript the page refreshes itself
// (a <noscript> meta refresh); with it, status changes arrive by Server-Sent Events.
// When the server refuses the stream (too many open: 429), the page refreshes itself too.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !window.EventSource) {
    return;
  }
  var timeline = document.getElementById("timeline");
  var current = document.getElementById("current-status");
  var source = new EventSource(section.getAttribute("data-events-url"));
  var seen = timeline ? timeline.children.length : 0;
  var received = 0;

  source.addEventListener("status", function (message) {
    var event = JSON.parse(message.data);
    received += 1;
    if (current) {
      current.textContent = event.status;
      current.className = "status status-" + event.status;
    }
    if (timeline && received > seen) {
      var item = document.createElement("li");
      var badge = document.createElement("span");
      badge.className = "status status-" + event.status;
      badge.textContent = event.status;
      var time = document.createElement("time");
      time.setAttribute("datetime", event.at);
      time.textContent = " " + new Date(event.at).toLocaleTimeString();
      item.appendChild(badge);
      item.appendChild(time);
      timeline.appendChild(item);
    }
  });
  function reload() {
    source.close();
    window.location.reload();
  }
  source.addEventListener("done", reload);
  source.addEventListener("timeout", reload);
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      var seconds = Number(section.getAttribute("data-refresh-seconds")) || 3;
      window.setTimeout(reload, seconds * 1000);
    }
  });
})();
