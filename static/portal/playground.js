// The portal playground: streams one or two chat completions from the data plane, side by side.
// The key stays in this page: it goes only to the gateway's /v1/ endpoint, never to the portal.
(function () {
  "use strict";

  // Server-sent events arrive in arbitrary chunks: keep the unfinished line for the next read.
  function parseEvents(buffer, onDelta) {
    var lines = buffer.split("\n");
    var rest = lines.pop();
    lines.forEach(function (line) {
      if (line.indexOf("data:") !== 0) return;
      var data = line.slice(5).trim();
      if (!data || data === "[DONE]") return;
      try {
        var chunk = JSON.parse(data);
        var delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) onDelta(delta.content);
      } catch (e) { /* a malformed event is skipped, the stream goes on */ }
    });
    return rest;
  }

  function numberOf(id) {
    var value = document.getElementById(id).value;
    return value === "" ? undefined : Number(value);
  }

  async function stream(endpoint, key, model, side) {
    var output = document.getElementById("pg-output-" + side);
    var status = document.getElementById("pg-status-" + side);
    document.getElementById("pg-title-" + side).textContent = model;
    output.textContent = "";
    status.textContent = "Sending…";
    var started = performance.now();
    var response = await fetch(endpoint, {
      method: "POST",
      credentials: "omit", // the data plane authenticates with the key, never the portal session
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
      body: JSON.stringify({
        model: model, stream: true, temperature: numberOf("pg-temperature"), max_tokens: numberOf("pg-max-tokens"),
        messages: [{role: "user", content: document.getElementById("pg-prompt").value}]
      })
    });
    if (!response.ok || !response.body) {
      var text = await response.text();
      var message = text;
      try { message = JSON.parse(text).error.message; } catch (e) { /* not JSON */ }
      status.textContent = "Error " + response.status + ": " + message;
      return;
    }
    status.textContent = "Streaming…";
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var part = await reader.read();
      if (part.done) break;
      buffer = parseEvents(buffer + decoder.decode(part.value, {stream: true}), function (text) {
        output.textContent += text;
      });
    }
    parseEvents(buffer + "\n", function (text) { output.textContent += text; });
    status.textContent = "Done in " + Math.round(performance.now() - started) + " ms.";
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
