// qscookies dashboard: one request to /api/counts (same origin only) brings the
// top promotions, the rest summed, the totals, the site row and the top
// promotions day by day; it draws the tables and one inline-SVG chart per top
// promotion. No library, no CDN, and never one request per promotion.
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

  function figureCells(name, f, rate) {
    return [
      name,
      figure(f.landings),
      figure(f.visitors),
      figure(f.returning),
      figure(f.carts),
      figure(f.purchases),
      money(f.revenue_cents),
      percent(rate),
    ];
  }

  function mergedRate(f) {
    return f.visitors ? f.purchases / f.visitors : f.visitors === null ? null : 0;
  }

  function drawTable(data) {
    const table = document.getElementById("counts");
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of data.rows) {
      body.appendChild(
        tableRow(figureCells(row.promotion, row, row.conversion_rate), {
          "data-promotion": row.promotion,
        }),
      );
    }
    if (data.rest) {
      const name = data.rest_codes + " other promotion" + (data.rest_codes === 1 ? "" : "s");
      body.appendChild(
        tableRow(figureCells(name, data.rest, mergedRate(data.rest)), {
          "data-promotion": "",
          class: "rest",
        }),
      );
    }
    const t = data.totals;
    table.tFoot.replaceChildren(
      tableRow(figureCells("Total", t, mergedRate(t)), { "data-promotion": "" }),
    );
    table.hidden = false;
    document.getElementById("note").hidden = false;
  }

  function drawSite(site) {
    const table = document.getElementById("site");
    table.tBodies[0].replaceChildren(
      tableRow([figure(site.visits), figure(site.visitors), figure(site.returning)]),
    );
    table.hidden = false;
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
        drawSite(data.site);
        const status = document.getElementById("status");
        if (!data.rows.length) {
          status.textContent = "No promotion activity from " + data.since + " to " + data.until + ".";
          document.documentElement.dataset.state = "ready";
          return;
        }
        const count = data.rows.length + data.rest_codes;
        status.textContent =
          count + " promotions, " + data.since + " to " + data.until + " (UTC)" +
          (data.rest ? "; the top " + data.rows.length + " by landings, the rest summed." : ".");
        drawTable(data);
        const allDays = daysBetween(data.since, data.until);
        const charts = document.getElementById("charts");
        charts.replaceChildren(
          ...data.rows.map((row) => drawChart(row.promotion, data.daily[row.promotion] || [], allDays)),
        );
        document.getElementById("charts-title").hidden = false;
        document.getElementById("legend").hidden = false;
        document.documentElement.dataset.state = "ready";
      })
      .catch(function (error) {
        showError(error.message);
      });
  }

  document.addEventListener("DOMContentLoaded", load);
})();
