// Draws every plot of a page: each <div data-plot="ID"> takes its figure from the JSON block
// <script type="application/json" id="ID"> written by the server (glasswatch/web/plots.py).
// The figure is data: this file is the only script that reads it, and it never evaluates it.
"use strict";
(function () {
  var config = {displayModeBar: false, responsive: true};
  document.querySelectorAll("div[data-plot]").forEach(function (div) {
    var block = document.getElementById(div.getAttribute("data-plot"));
    if (!block) { return; }
    var figure = JSON.parse(block.textContent);
    window.Plotly.newPlot(div, figure.data, figure.layout, config).then(function () {
      div.setAttribute("data-drawn", String(figure.data.length));
    });
  });
})();
