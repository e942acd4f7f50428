// Filters of the side-by-side comparison report (inlined into the HTML file by report_html.py).
// Filter changes are written to the URL fragment (#show=disagree&classes=SignSymptom,Medication&hide=1), and such a
// fragment is applied when the page opens, so a view can be bookmarked or shared.
(function () {
  "use strict";
  var classBoxes = Array.prototype.slice.call(document.querySelectorAll("input[name=cls]"));
  var showRadios = Array.prototype.slice.call(document.querySelectorAll("input[name=show]"));
  var hideEmpty = document.getElementById("hide-empty");
  var notes = Array.prototype.slice.call(document.querySelectorAll("article.note"));

  function rowVisible(row, classes, show) {
    var rowClasses = row.getAttribute("data-classes").split(" ");
    if (!rowClasses.some(function (c) { return classes[c]; })) { return false; }
    var status = row.getAttribute("data-status");
    switch (show) {
      case "disagree": return row.getAttribute("data-dis") === "1";
      case "agree": return row.getAttribute("data-dis") === "0";
      case "only_a": case "only_b": case "other_class": case "overlap": return status === show;
      case "polarity": return row.getAttribute("data-pol") === "1";
      case "cui": return row.getAttribute("data-cui") === "1";
      default: return true;
    }
  }

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }

  function currentState() {
    var classes = {};
    classBoxes.forEach(function (box) { if (box.checked) { classes[box.value] = true; } });
    var show = "all";
    showRadios.forEach(function (radio) { if (radio.checked) { show = radio.value; } });
    return { classes: classes, show: show, hide: hideEmpty.checked };
  }

  function apply(event) {
    var state = currentState();
    var total = { a: 0, b: 0, rows: 0, notes: 0 };
    notes.forEach(function (note) {
      var css = {};
      var shown = 0;
      Array.prototype.forEach.call(note.querySelectorAll("tr.row"), function (row) {
        var visible = rowVisible(row, state.classes, state.show);
        row.hidden = !visible;
        if (!visible) { return; }
        shown += 1;
        var a = row.getAttribute("data-a"), b = row.getAttribute("data-b");
        if (a) { css[a] = row.getAttribute("data-acss"); total.a += 1; }
        if (b) { css[b] = row.getAttribute("data-bcss"); total.b += 1; }
      });
      Array.prototype.forEach.call(note.querySelectorAll("span.m"), function (seg) {
        var keys = seg.getAttribute("data-ms").split(" ");
        var first = keys.filter(function (k) { return css[k]; })[0];
        seg.className = first ? "m " + css[first] : "m off";
      });
      var count = note.querySelector(".note-shown");
      if (count) { count.textContent = String(shown); }
      note.hidden = state.hide && shown === 0;
      total.rows += shown;
      if (!note.hidden) { total.notes += 1; }
    });
    setText("shown-a", total.a);
    setText("shown-b", total.b);
    setText("shown-rows", total.rows);
    setText("shown-notes", total.notes);
    var parts = ["show=" + state.show];
    var picked = classBoxes.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    if (picked.length !== classBoxes.length) { parts.push("classes=" + picked.join(",")); }
    if (state.hide) { parts.push("hide=1"); }
    if (event && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + parts.join("&"));
    }
    document.body.setAttribute("data-show", state.show);
    document.body.setAttribute("data-classes", picked.join(","));
    document.body.setAttribute("data-ready", "1");
  }

  function readHash() {
    if (window.location.hash.indexOf("=") < 0) { return; }  // a plain anchor such as #note-3
    var params = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) { params[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1)); }
    });
    if (params.show) {
      showRadios.forEach(function (radio) { radio.checked = radio.value === params.show; });
    }
    if (params.classes !== undefined) {
      var wanted = params.classes.split(",");
      classBoxes.forEach(function (box) { box.checked = wanted.indexOf(box.value) >= 0; });
    }
    hideEmpty.checked = params.hide === "1";
  }

  classBoxes.concat(showRadios, [hideEmpty]).forEach(function (el) { el.addEventListener("change", apply); });
  readHash();
  apply();
})();
