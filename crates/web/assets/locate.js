// Carepath finder: "Use my location". Shown only where the browser can
// locate; fills the place field with the position rounded to 2 decimals
// (about a kilometre: enough to find programs nearby, no more) and
// searches. Without JavaScript or permission the typed place works as before.
(function () {
  "use strict";
  var button = document.getElementById("locate");
  if (!button || !("geolocation" in navigator)) return;
  var input = document.getElementById(button.getAttribute("data-for"));
  var status = document.getElementById("locate-status");
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.getAttribute("data-wait");
    navigator.geolocation.getCurrentPosition(
      function (p) {
        input.value = p.coords.latitude.toFixed(2) + "," + p.coords.longitude.toFixed(2);
        status.textContent = "";
        input.form.submit();
      },
      function () {
        status.textContent = button.getAttribute("data-failed");
        input.focus();
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 }
    );
  });
})();
