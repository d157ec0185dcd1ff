// Live progress of a job through server-sent events (/jobs/ID/events); the
// page works without it (it then reloads itself while the job runs).
"use strict";
(function () {
  var el = document.getElementById("job");
  if (!el || !window.EventSource) { return; }
  var final = { completed: 1, cancelled: 1, discarded: 1 };
  var es = new EventSource("/jobs/" + el.dataset.id + "/events");
  es.addEventListener("job", function (ev) {
    var j = JSON.parse(ev.data);
    document.getElementById("state").textContent = j.state;
    var p = document.getElementById("progress");
    if (j.progress && j.progress.total) {
      p.textContent = j.progress.done + " / " + j.progress.total + " (" + Math.floor(100 * j.progress.done / j.progress.total) + "%)";
    }
    if (final[j.state]) { es.close(); el.dataset.final = "1"; }
  });
})();
