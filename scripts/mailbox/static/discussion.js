// The discussion an email belongs to, read from the API as a front-end on another origin would (CORS).
(function () {
  "use strict";
  const panel = document.getElementById("discussion");
  if (!panel) { return; }
  const status = panel.querySelector(".status");
  const list = panel.querySelector(".messages");
  const url = panel.dataset.api + "/api/tenant/threads/" + encodeURIComponent(panel.dataset.discussion) +
    "?messages_order=asc&messages_limit=100";

  function item(message) {
    const li = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = message.author + (message.is_internal ? " (internal note)" : "");
    const when = document.createElement("span");
    when.className = "date";
    when.textContent = " " + message.created_at;
    const body = document.createElement("p");
    body.textContent = message.body;
    li.append(who, when, body);
    return li;
  }

  fetch(url, {headers: {"Authorization": "Bearer " + panel.dataset.token}})
    .then(function (response) {
      if (!response.ok) { throw new Error("the API answered " + response.status); }
      return response.json();
    })
    .then(function (thread) {
      status.textContent = "“" + thread.subject + "” · " + thread.status + " · " + thread.message_count +
        " message" + (thread.message_count === 1 ? "" : "s");
      thread.messages.forEach(function (message) { list.append(item(message)); });
      panel.dataset.loaded = "true";
    })
    .catch(function (error) { status.textContent = "Could not read it: " + error.message; });
}());
