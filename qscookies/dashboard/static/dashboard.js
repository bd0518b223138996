// qscookies dashboard: one request to /api/counts (same origin only) brings the
// top promotions, the rest summed, the totals, the site row and the top
// promotions day by day; it draws the tables and one inline-SVG chart per top
// promotion. No library, no CDN, and never one request per promotion. The
// quick ranges change the address and ask again: one request per range shown.
// Picking a promotion asks /api/breakdown once for it (by source and medium,
// bounded: its top rows and the rest summed), only when picked.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 460;
  const HEIGHT = 200;
  const PAD = { left: 40, right: 14, top: 14, bottom: 30 };
  // Each series has its own dash pattern and point marker as well as its
  // colour, so lines that overlap stay apart without colour vision. Where two
  // points meet, the circle (radius 4.5) rings the square (half-side 3).
  const SERIES = [
    { name: "landings", dash: "none", marker: "circle", size: 4.5 },
    { name: "purchases", dash: "6 4", marker: "square", size: 3 },
  ];

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
    return fetch(path + "?" + params.toString(), { credentials: "same-origin" }).then(
      function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || response.statusText);
          return body;
        });
      },
    );
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  // Rounded half up to a cent, as qscookies.report.render does for the CLI.
  function money(cents) {
    return cents === null ? "" : (Math.floor(cents + 0.5) / 100).toFixed(2);
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

  // A sum of money and its currency: "27.00 EUR" (blank where there is none).
  function priced(cents, currency) {
    return cents === null ? "" : money(cents) + " " + currency;
  }

  function figureCells(name, f, currency) {
    return [
      name,
      figure(f.landings),
      figure(f.visitors),
      figure(f.returning),
      figure(f.carts),
      figure(f.purchases),
      priced(f.revenue_cents, currency),
      percent(f.conversion_rate),
      priced(f.average_order_cents, currency),
    ];
  }

  function drawTable(data) {
    const table = document.getElementById("counts");
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const row of data.rows) {
      const tr = tableRow(figureCells(row.promotion, row, data.currency), {
        "data-promotion": row.promotion,
      });
      const pick = el("button", { type: "button", class: "pick" }, row.promotion);
      pick.addEventListener("click", function () {
        loadBreakdown(row.promotion, data.since, data.until, data.currency);
      });
      tr.cells[0].replaceChildren(pick);
      body.appendChild(tr);
    }
    if (data.rest) {
      const name = plural(data.rest_codes, "other promotion");
      body.appendChild(
        tableRow(figureCells(name, data.rest, data.currency), {
          "data-promotion": "",
          class: "rest",
        }),
      );
    }
    table.tFoot.replaceChildren(
      tableRow(figureCells("Total", data.totals, data.currency), { "data-promotion": "" }),
    );
  }

  // The currency of every money figure: in the column heads, and the choice
  // among the currencies with revenue in the range (the others listed apart,
  // never added).
  function drawCurrencies(data) {
    for (const head of document.querySelectorAll("#counts th .cur")) {
      head.textContent = "(" + data.currency + ")";
    }
    const select = document.getElementById("currency");
    select.replaceChildren(
      ...data.currencies.map((code) => el("option", { value: code }, code)),
    );
    select.value = data.currency;
    document.getElementById("currency-choice").hidden = data.currencies.length < 2;
    const others = Object.entries(data.totals.revenue_by_currency || {}).filter(
      ([code]) => code !== data.currency,
    );
    const note = document.getElementById("currencies");
    note.textContent = others.length
      ? "Revenue above is in " + data.currency + ". Other currencies, never added to it: " +
        others.map(([code, cents]) => code + " " + money(cents)).join(", ") + "."
      : "";
    note.hidden = !others.length;
  }

  function loadBreakdown(promotion, since, until, currency) {
    const section = document.getElementById("breakdown");
    section.dataset.state = "loading";
    const asked = new URLSearchParams({ promotion, since, until, currency });
    fetchJSON("api/breakdown", asked)
      .then(function (data) {
        const none = (value) => (value === null ? "(none)" : value);
        const table = document.getElementById("breakdown-table");
        if (!table.tHead.rows.length) {
          // The promotions' column heads, Source and Medium in place of Promotion.
          const heads = document.querySelector("#counts thead tr").cloneNode(true);
          heads.cells[0].textContent = "Source";
          heads.insertBefore(el("th", { scope: "col" }, "Medium"), heads.cells[1]);
          table.tHead.appendChild(heads);
        }
        for (const head of table.querySelectorAll("th .cur")) {
          head.textContent = "(" + data.currency + ")";
        }
        document.getElementById("breakdown-currency").textContent = data.currency;
        table.tBodies[0].replaceChildren(
          ...data.rows.map((row) => {
            const cells = figureCells(none(row.source), row, data.currency);
            cells.splice(1, 0, none(row.medium));
            return tableRow(cells);
          }),
        );
        const foot = [];
        if (data.rest) {
          const rest = figureCells(
            plural(data.rest_rows, "other row"),
            data.rest,
            data.currency,
          );
          rest.splice(1, 0, "");
          foot.push(tableRow(rest, { class: "rest" }));
        }
        const total = figureCells("Total", data.totals, data.currency);
        total.splice(1, 0, "");
        foot.push(tableRow(total));
        table.tFoot.replaceChildren(...foot);
        document.getElementById("breakdown-title").textContent =
          promotion + " by source and medium, " + data.since + " to " + data.until;
        section.hidden = false;
        section.dataset.state = "ready";
      })
      .catch(function (error) {
        showError(error.message);
      });
  }

  function drawSite(site) {
    const table = document.getElementById("site");
    table.tBodies[0].replaceChildren(
      tableRow([figure(site.visits), figure(site.visitors), figure(site.returning)]),
    );
    table.hidden = false;
  }

  // A series' point marker centred on (x, y): the chart and the legend both
  // draw theirs with it.
  function marker(series, x, y, attrs) {
    const size = series.size;
    const [tag, shape] =
      series.marker === "circle"
        ? ["svg:circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: size }]
        : [
            "svg:rect",
            {
              x: (x - size).toFixed(1),
              y: (y - size).toFixed(1),
              width: 2 * size,
              height: 2 * size,
            },
          ];
    return el(tag, { class: series.name, ...shape, ...attrs });
  }

  function line(series, points) {
    return el("svg:polyline", {
      class: series.name,
      points: points,
      "stroke-dasharray": series.dash,
      "data-series": series.name,
    });
  }

  function drawLegend() {
    const legend = document.getElementById("legend");
    legend.replaceChildren(
      ...SERIES.map(function (series) {
        const key = el("span", { class: "key", "data-series": series.name });
        const sample = el("svg:svg", { width: 34, height: 12, viewBox: "0 0 34 12" });
        sample.appendChild(line(series, "2,6 32,6"));
        sample.appendChild(marker(series, 17, 6, {}));
        key.append(sample, " " + series.name);
        return key;
      }),
    );
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
      const name = series.name;
      const points = days.map((d) => x(d.day).toFixed(1) + "," + y(d[name]).toFixed(1));
      svg.appendChild(line(series, points.join(" ")));
      for (const d of days) {
        const dot = marker(series, x(d.day), y(d[name]), {
          "data-series": name,
          "data-day": d.day,
          "data-value": d[name],
        });
        dot.appendChild(el("svg:title", {}, d.day + " " + name + ": " + d[name]));
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

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  // A quick range as UTC days ending today: "7" and "30" days, or "month".
  function quickRange(range) {
    const today = new Date();
    const since = new Date(today);
    if (range === "month") since.setUTCDate(1);
    else since.setUTCDate(since.getUTCDate() - (Number(range) - 1));
    return { since: isoDay(since), until: isoDay(today) };
  }

  function showFigures(shown) {
    for (const id of ["counts", "note", "definitions", "charts-title", "legend"]) {
      document.getElementById(id).hidden = !shown;
    }
    if (!shown) document.getElementById("charts").replaceChildren();
  }

  function showError(message) {
    const status = document.getElementById("status");
    status.textContent = "Could not load the figures: " + message;
    status.className = "error";
    showFigures(false);
    document.documentElement.dataset.state = "error";
  }

  let latest = 0; // the last load asked for: an earlier answer is dropped

  function load() {
    const ticket = ++latest;
    document.documentElement.dataset.state = "loading";
    const params = new URLSearchParams(window.location.search);
    const asked = new URLSearchParams();
    for (const name of ["since", "until", "top", "currency"]) {
      if (params.get(name)) asked.set(name, params.get(name));
    }
    fetchJSON("api/counts", asked)
      .then(function (data) {
        if (ticket !== latest) return;
        document.getElementById("since").value = data.since;
        document.getElementById("until").value = data.until;
        const shown = new URLSearchParams({ since: data.since, until: data.until });
        document.getElementById("csv").href = "api/counts.csv?" + shown.toString();
        drawSite(data.site);
        const status = document.getElementById("status");
        status.className = "";
        if (!data.rows.length) {
          status.textContent = "No promotion activity from " + data.since + " to " + data.until + ".";
          showFigures(false);
          document.documentElement.dataset.state = "ready";
          return;
        }
        const count = data.rows.length + data.rest_codes;
        status.textContent =
          plural(count, "promotion") + ", " + data.since + " to " + data.until + " (UTC)" +
          (data.rest ? "; the top " + data.rows.length + " by landings, the rest summed." : ".");
        drawTable(data);
        drawCurrencies(data);
        const allDays = daysBetween(data.since, data.until);
        const charts = document.getElementById("charts");
        charts.replaceChildren(
          ...data.rows.map((row) => drawChart(row.promotion, data.daily[row.promotion] || [], allDays)),
        );
        showFigures(true);
        document.documentElement.dataset.state = "ready";
      })
      .catch(function (error) {
        if (ticket === latest) showError(error.message);
      });
  }

  function pickRange(event) {
    const range = quickRange(event.currentTarget.dataset.range);
    const params = new URLSearchParams(window.location.search);
    for (const [name, day] of Object.entries(range)) {
      document.getElementById(name).value = day;
      params.set(name, day);
    }
    history.pushState(null, "", "?" + params.toString());
    load();
  }

  function pickCurrency(event) {
    const params = new URLSearchParams(window.location.search);
    params.set("currency", event.currentTarget.value);
    history.pushState(null, "", "?" + params.toString());
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const button of document.querySelectorAll("button.quick")) {
      button.addEventListener("click", pickRange);
    }
    document.getElementById("currency").addEventListener("change", pickCurrency);
    window.addEventListener("popstate", load);
    drawLegend();
    load();
  });
})();
