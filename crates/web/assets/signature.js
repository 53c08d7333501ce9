// Carepath signature pad: draws on an <svg class="sigpad" data-target="ID">
// with a pointer and writes the strokes (SVG path data, M/L only) into the
// hidden input named by data-target. Without JavaScript the typed name is used.
(function () {
  "use strict";
  function pad(svg) {
    var ns = "http://www.w3.org/2000/svg";
    var target = document.getElementById(svg.getAttribute("data-target"));
    var d = "";
    var path = null;
    var down = false;
    function point(e) {
      var r = svg.getBoundingClientRect();
      var x = Math.round(((e.clientX - r.left) / r.width) * 400);
      var y = Math.round(((e.clientY - r.top) / r.height) * 120);
      return x + " " + y;
    }
    svg.addEventListener("pointerdown", function (e) {
      down = true;
      svg.setPointerCapture(e.pointerId);
      path = document.createElementNS(ns, "path");
      path.setAttribute("fill", "none");
      svg.appendChild(path);
      d += (d ? " " : "") + "M " + point(e);
      path.setAttribute("d", d);
      e.preventDefault();
    });
    svg.addEventListener("pointermove", function (e) {
      if (!down) return;
      d += " L " + point(e);
      path.setAttribute("d", d);
      if (target) target.value = d;
    });
    svg.addEventListener("pointerup", function () {
      down = false;
      if (target) target.value = d;
    });
  }
  document.querySelectorAll("svg.sigpad").forEach(pad);
})();
