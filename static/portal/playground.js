// The portal playground: streams one or two chat completions from the data plane, side by side.
// The key stays in this page: it goes only to the gateway's /v1/ endpoint, never to the portal.
(function () {
  "use strict";

  function numberOf(id) {
    var value = document.getElementById(id).value;
    return value === "" ? undefined : Number(value);
  }

  // The fetch-and-stream loop is console.js's (loaded by the portal layout).
  async function stream(endpoint, key, model, side) {
    var status = document.getElementById("pg-status-" + side);
    document.getElementById("pg-title-" + side).textContent = model;
    var started = performance.now();
    var done = await window.Switchyard.streamChat(endpoint, key, {
      model: model, temperature: numberOf("pg-temperature"), max_tokens: numberOf("pg-max-tokens"),
      messages: [{role: "user", content: document.getElementById("pg-prompt").value}]
    }, document.getElementById("pg-output-" + side), status);
    if (done) status.textContent = "Done in " + Math.round(performance.now() - started) + " ms.";
  }

  function onSubmit(event) {
    var form = event.target;
    if (form.id !== "playground") return;
    event.preventDefault();
    var key = document.getElementById("pg-key").value.trim();
    var right = document.getElementById("pg-model-b").value;
    document.getElementById("pg-pane-b").hidden = !right;
    var runs = [stream(form.getAttribute("data-endpoint"), key, document.getElementById("pg-model-a").value, "a")];
    if (right) runs.push(stream(form.getAttribute("data-endpoint"), key, right, "b"));
    runs.forEach(function (run, i) {
      run.catch(function (error) {
        document.getElementById("pg-status-" + (i ? "b" : "a")).textContent = "Error: " + error.message;
      });
    });
  }

  document.addEventListener("submit", onSubmit);
  document.addEventListener("DOMContentLoaded", function () {
    var pane = document.getElementById("pg-pane-b");
    if (pane) pane.hidden = true;
  });
})();
