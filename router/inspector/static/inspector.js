// hcr inspector: keeps the requests list live by polling its JSON, and filters by model.
// Text from requests is set with textContent only, never parsed as HTML.
"use strict";

(function () {
  const table = document.getElementById("requests");
  if (!table) return;
  const live = document.getElementById("live");
  const filter = document.getElementById("model-filter");
  const body = table.tBodies[0];
  const columns = ["tokens_before", "tokens_after", "cost_before", "cost_after", "images", "route_ms", "billed"];

  if (filter) {
    filter.addEventListener("change", function () {
      const url = new URL(window.location.href);
      if (filter.value) url.searchParams.set("model", filter.value); else url.searchParams.delete("model");
      window.location.assign(url.toString());
    });
  }

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    if (numeric) td.className = "n";
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function shown(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "number" ? value.toLocaleString("en-US") : String(value);
  }

  function draw(requests) {
    const rows = document.createDocumentFragment();
    for (const r of requests) {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      const link = document.createElement("a");
      link.href = r.url;
      link.textContent = r.time;
      cell(tr, "", false).appendChild(link);
      cell(tr, r.model, false);
      cell(tr, r.encoder, false);
      for (const name of columns) cell(tr, shown(r[name]), true);
      cell(tr, ((r.status || "") + " " + r.state).trim(), false);
      rows.appendChild(tr);
    }
    if (!requests.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(tr, "No requests yet.", false);
      td.colSpan = 11;
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }

  let shownCount = body.querySelectorAll("tr[data-id]").length;

  // New requests change the totals too: fetch the server's section and swap it in (parsed, not run).
  async function refreshTotals() {
    const url = new URL(table.dataset.totals, window.location.href);
    if (table.dataset.model) url.searchParams.set("model", table.dataset.model);
    const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!answer.ok) return;
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById("totals");
    const current = document.getElementById("totals");
    if (fresh && current) current.replaceWith(document.importNode(fresh, true));
  }

  async function poll() {
    const url = new URL(table.dataset.api, window.location.href);
    if (table.dataset.model) url.searchParams.set("model", table.dataset.model);
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) throw new Error(String(answer.status));
      const requests = (await answer.json()).requests;
      draw(requests);
      if (shownCount !== requests.length) await refreshTotals();
      shownCount = requests.length;
      if (live) live.classList.add("on");
    } catch (error) {
      if (live) live.classList.remove("on");
    }
  }

  poll();
  window.setInterval(poll, 2000);
})();
