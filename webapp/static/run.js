// Live run page: poll the run's progress.json every second while it is queued or running, update status,
// progress bar and log in place, and reload once the run has ended (to show its results).
(function () {
  const state = document.getElementById("state");
  if (!state || state.dataset.final === "true") return;
  const url = state.dataset.progress;
  async function poll() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch (err) {
      setTimeout(poll, 3000);
      return;
    }
    const status = document.getElementById("status");
    status.textContent = data.status;
    status.className = "status " + data.status;
    const p = data.progress;
    if (p) {
      document.getElementById("progress").hidden = false;
      const bar = document.getElementById("bar");
      bar.max = p.total;
      bar.value = p.done;
      let text = `${p.phase}: ${p.done}/${p.total} tasks (${p.percent}%), ${p.rate} tasks/s, ${p.workers} worker(s)`;
      if (p.eta !== null) text += `, about ${Math.round(p.eta)} s left`;
      document.getElementById("progress-text").textContent = text;
    }
    document.getElementById("log").textContent = data.log || "Nothing logged yet.";
    if (data.final) {
      window.location.reload();
    } else {
      setTimeout(poll, 1000);
    }
  }
  setTimeout(poll, 500);
})();
