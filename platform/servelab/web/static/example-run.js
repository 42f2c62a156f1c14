// "Run the example" on a lesson page: without JavaScript the form posts and the lesson page
// comes back with the result; with it, the same form is sent in the background and only the
// result block (templates/_example_run.html, rendered and escaped by the server) is replaced.
(function () {
  "use strict";
  var form = document.getElementById("example-run-form");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var result = document.getElementById("example-run-result");
    if (button.disabled) {
      return;
    }
    button.disabled = true;
    button.textContent = "Running…";
    if (result) {
      result.textContent = "";
      var waiting = document.createElement("p");
      waiting.className = "example-run-status is-running";
      waiting.setAttribute("role", "status");
      waiting.textContent = "Running the example in the sandbox…";
      result.appendChild(waiting);
    }
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Example-Run": "fragment" },
    })
      .then(function (response) {
        return response.text().then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;  // the server's escaped fragment, nothing from the page
          var fresh = holder.querySelector("#example-run-result");
          if (!fresh) {
            throw new Error("unexpected answer");
          }
          document.getElementById("example-run-result").replaceWith(fresh);
        });
      })
      .catch(function () {
        form.submit();  // fall back to the plain form post
      })
      .finally(function () {
        button.disabled = false;
        button.textContent = "Run";
      });
  });
})();
