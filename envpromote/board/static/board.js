// Progressive enhancement for history pages: filter rows by outcome, approver and digest prefix.
// Without JavaScript the page shows every row and the per-outcome pages linked above the table.
(function () {
  "use strict";
  var form = document.querySelector("form.filters");
  if (!form) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.history tbody tr"));
  var count = form.querySelector(".count");
  var params = new URLSearchParams(window.location.search);
  ["outcome", "approver", "digest"].forEach(function (name) {
    if (params.get(name)) { form.elements[name].value = params.get(name); }
  });
  function apply() {
    var outcome = form.elements.outcome.value;
    var approver = form.elements.approver.value;
    var digest = form.elements.digest.value.trim().toLowerCase();
    if (digest && digest.indexOf("sha256:") !== 0) { digest = "sha256:" + digest; }
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!outcome || row.dataset.outcome === outcome) &&
        (!approver || row.dataset.approver === approver) &&
        (!digest || row.dataset.digest.indexOf(digest) === 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " releases shown";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.hidden = false;
  apply();
}());
