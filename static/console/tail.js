// The live request tail on the request log page: rows arrive over /console/ws/tail/ (newest on top).
(function () {
  "use strict";
  var MAX_ROWS = 200;
  var socket = null;

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined || text === "" ? "–" : String(text);
    return td;
  }

  function addRow(row) {
    var body = document.getElementById("tail-rows");
    var tr = document.createElement("tr");
    tr.className = "tail-row";
    var when = cell(row.created_at.replace("T", " ").slice(0, 19));
    if (row.id) {
      when.textContent = "";
      var link = document.createElement("a");
      link.href = "/console/logs/" + row.id + "/";
      link.textContent = row.created_at.replace("T", " ").slice(0, 19);
      when.appendChild(link);
    }
    tr.appendChild(when);
    [row.key, row.route, row.model, row.status + (row.error_code ? " " + row.error_code : ""), row.cache_status,
     row.input_tokens + " / " + row.output_tokens,
     row.latency_ms === null ? null : Math.round(row.latency_ms), row.cost_usd].forEach(function (v) {
      tr.appendChild(cell(v));
    });
    body.insertBefore(tr, body.firstChild);
    while (body.children.length > MAX_ROWS) body.removeChild(body.lastChild);
  }

  function setState(running, text) {
    var button = document.getElementById("tail-toggle");
    button.setAttribute("aria-pressed", running ? "true" : "false");
    button.textContent = running ? "Stop live tail" : "Start live tail";
    document.getElementById("tail-status").textContent = text;
  }

  function start(path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path);
    setState(true, "Connecting…");
    socket.onopen = function () { setState(true, "Live: new requests appear at the top."); };
    socket.onmessage = function (message) {
      try { addRow(JSON.parse(message.data)); } catch (e) { /* skip a malformed row */ }
    };
    socket.onclose = function () { socket = null; setState(false, "Stopped."); };
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest("#tail-toggle")) return;
    if (socket) { socket.close(); return; }
    start(document.getElementById("live-tail").getAttribute("data-ws-path"));
  });
})();
