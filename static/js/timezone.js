// Sign-up: preselect the browser's own time zone in the select marked data-detect-zone
// (the server marks it only on a fresh form, so a choice the learner made and posted is
// never overridden). Without JavaScript, or where the browser's zone is not one of the
// options, the server's default stays.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-detect-zone]");
    if (!select) return;
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === zone; });
    if (!option) return;
    select.value = zone;
    var note = document.getElementById(select.dataset.detectZone);
    if (note) note.textContent = "Preselected from your browser: " + zone + ".";
  });
})();
