// Console behaviour that htmx does not cover: copy-to-clipboard and the streaming "try it" box.
(function () {
  "use strict";

  function onCopy(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    field.select();
    var done = function () { if (status) status.textContent = "Copied."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  }

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

  async function tryIt(form) {
    var output = document.getElementById("try-output");
    var status = document.getElementById("try-status");
    var key = document.getElementById("try-key").value.trim();
    output.textContent = "";
    status.textContent = "Sending…";
    var response = await fetch(form.getAttribute("data-endpoint"), {
      method: "POST",
      credentials: "omit", // the data plane authenticates with the key, never the console session
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
      body: JSON.stringify({
        model: form.getAttribute("data-route"), stream: true,
        messages: [{role: "user", content: document.getElementById("try-prompt").value}]
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
    status.textContent = "Done.";
  }

  document.addEventListener("click", onCopy);
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "try-form") return;
    event.preventDefault();
    tryIt(event.target).catch(function (err) {
      document.getElementById("try-status").textContent = "Error: " + err.message;
    });
  });
})();
