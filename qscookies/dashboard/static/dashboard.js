// qscookies dashboard: reads /api/counts and /api/daily (same origin only) and
// draws the table and one inline-SVG chart per promotion. No library, no CDN.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 460;
  const HEIGHT = 200;
  const PAD = { left: 40, right: 14, top: 14, bottom: 30 };
  const SERIES = ["landings", "purchases"];

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fetchJSON(path, params) {
    const query = new URLSearchParams(params).toString();
    return fetch(path + "?" + query, { credentials: "same-origin" }).then(
      function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || response.statusText);
          return body;
        });
      },
    );
  }

  function money(cents) {
    return (cents / 100).toFixed(2);
  }

  function percent(rate) {
    return rate === null ? "n/a" : (rate * 100).toFixed(1) + "%";
  }

  function figure(value) {
    return value === null ? "n/a" : String(value);
  }

  function tableRow(cells, attrs) {
    const tr = el("tr", attrs);
    for (const cell of cells) tr.appendChild(el("td", {}, cell));
    return tr;
  }

  function drawTable(data) {
    const table = document.getElementById("counts");
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of data.rows) {
      body.appendChild(
        tableRow(
          [
            row.promotion,
            figure(row.landings),
            figure(row.visitors),
            figure(row.returning),
            figure(row.carts),
            figure(row.purchases),
            money(row.revenue_cents),
            percent(row.conversion_rate),
          ],
          { "data-promotion": row.promotion },
        ),
      );
    }
    const t = data.totals;
    const rate = t.visitors ? t.purchases / t.visitors : t.visitors === null ? null : 0;
    table.tFoot.replaceChildren(
      tableRow(
        [
          "Total",
          figure(t.landings),
          figure(t.visitors),
          figure(t.returning),
          figure(t.carts),
          figure(t.purchases),
          money(t.revenue_cents),
          percent(rate),
        ],
        { "data-promotion": "" },
      ),
    );
    table.hidden = false;
    document.getElementById("note").hidden = false;
  }

  function drawChart(promotion, days, allDays) {
    const box = el("figure", { class: "chart", "data-promotion": promotion });
    box.appendChild(el("h3", {}, promotion));
    const svg = el("svg:svg", {
      width: WIDTH,
      height: HEIGHT,
      viewBox: "0 0 " + WIDTH + " " + HEIGHT,
      role: "img",
      "data-promotion": promotion,
    });
    svg.appendChild(el("svg:title", {}, promotion + ": landings and purchases per day"));
    const top = Math.max(1, ...days.map((d) => Math.max(d.landings, d.purchases)));
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const index = new Map(allDays.map((day, i) => [day, i]));
    const x = (day) =>
      PAD.left + (allDays.length > 1 ? (index.get(day) * plotW) / (allDays.length - 1) : plotW / 2);
    const y = (value) => PAD.top + plotH - (value * plotH) / top;

    for (const tick of new Set([0, Math.round(top / 2), top])) {
      const ty = y(tick);
      svg.appendChild(el("svg:line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: ty, y2: ty }));
      svg.appendChild(el("svg:text", { class: "axis-label", x: PAD.left - 6, y: ty + 4, "text-anchor": "end" }, String(tick)));
    }
    const labelled = [...new Set([allDays[0], allDays[Math.floor((allDays.length - 1) / 2)], allDays[allDays.length - 1]])];
    labelled.forEach(function (day, i) {
      const anchor = labelled.length === 1 ? "middle" : i === 0 ? "start" : i === labelled.length - 1 ? "end" : "middle";
      svg.appendChild(el("svg:text", { class: "axis-label", x: x(day), y: HEIGHT - 8, "text-anchor": anchor }, day.slice(5)));
    });

    for (const series of SERIES) {
      const points = days.map((d) => x(d.day).toFixed(1) + "," + y(d[series]).toFixed(1));
      svg.appendChild(el("svg:polyline", { class: series, points: points.join(" ") }));
      for (const d of days) {
        const dot = el("svg:circle", {
          class: series,
          cx: x(d.day).toFixed(1),
          cy: y(d[series]).toFixed(1),
          r: 3.5,
          "data-series": series,
          "data-day": d.day,
          "data-value": d[series],
        });
        dot.appendChild(el("svg:title", {}, d.day + " " + series + ": " + d[series]));
        svg.appendChild(dot);
      }
    }
    box.appendChild(svg);
    return box;
  }

  function daysBetween(since, until) {
    const out = [];
    const day = new Date(since + "T00:00:00Z");
    const last = new Date(until + "T00:00:00Z");
    while (day <= last) {
      out.push(day.toISOString().slice(0, 10));
      day.setUTCDate(day.getUTCDate() + 1);
    }
    return out;
  }

  function showError(message) {
    const status = document.getElementById("status");
    status.textContent = "Could not load the figures: " + message;
    status.className = "error";
    document.documentElement.dataset.state = "error";
  }

  function load() {
    const params = new URLSearchParams(window.location.search);
    const range = {};
    for (const name of ["since", "until"]) {
      if (params.get(name)) range[name] = params.get(name);
    }
    fetchJSON("api/counts", range)
      .then(function (data) {
        document.getElementById("since").value = data.since;
        document.getElementById("until").value = data.until;
        const status = document.getElementById("status");
        if (!data.rows.length) {
          status.textContent = "No promotion activity from " + data.since + " to " + data.until + ".";
          document.documentElement.dataset.state = "ready";
          return;
        }
        status.textContent = data.rows.length + " promotions, " + data.since + " to " + data.until + " (UTC).";
        drawTable(data);
        const allDays = daysBetween(data.since, data.until);
        const rows = [...data.rows].sort((a, b) => b.landings - a.landings || a.promotion.localeCompare(b.promotion));
        return Promise.all(
          rows.map((row) =>
            fetchJSON("api/daily", { promotion: row.promotion, since: data.since, until: data.until }),
          ),
        ).then(function (series) {
          const charts = document.getElementById("charts");
          charts.replaceChildren(...series.map((s) => drawChart(s.promotion, s.days, allDays)));
          document.getElementById("charts-title").hidden = false;
          document.getElementById("legend").hidden = false;
          document.documentElement.dataset.state = "ready";
        });
      })
      .catch(function (error) {
        showError(error.message);
      });
  }

  document.addEventListener("DOMContentLoaded", load);
})();
