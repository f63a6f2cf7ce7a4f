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

  // POST a streaming chat completion to the data plane and append its text to `output`.
  // Shared by the console's "try it" box and the portal playground (window.Switchyard.streamChat).
  async function streamChat(endpoint, key, body, output, status) {
    output.textContent = "";
    status.textContent = "Sending…";
    var response = await fetch(endpoint, {
      method: "POST",
      credentials: "omit", // the data plane authenticates with the key, never the browser session
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + key},
      body: JSON.stringify(Object.assign({stream: true}, body))
    });
    if (!response.ok || !response.body) {
      var text = await response.text();
      var message = text;
      try { message = JSON.parse(text).error.message; } catch (e) { /* not JSON */ }
      status.textContent = "Error " + response.status + ": " + message;
      return false;
    }
    status.textContent = "Streaming…";
    var append = function (text) { output.textContent += text; };
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var part = await reader.read();
      if (part.done) break;
      buffer = parseEvents(buffer + decoder.decode(part.value, {stream: true}), append);
    }
    parseEvents(buffer + "\n", append);
    return true;
  }

  window.Switchyard = {streamChat: streamChat};

  async function tryIt(form) {
    var status = document.getElementById("try-status");
    var done = await streamChat(form.getAttribute("data-endpoint"), document.getElementById("try-key").value.trim(), {
      model: form.getAttribute("data-route"),
      messages: [{role: "user", content: document.getElementById("try-prompt").value}]
    }, document.getElementById("try-output"), status);
    if (done) status.textContent = "Done.";
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
