// Inline validation of the simulation form: the browser's own constraint checks (min, max, step, from the
// simulator's description) shown next to each field as the user types; the server checks again on submit.
(function () {
  const form = document.getElementById("simulation");
  if (!form) return;
  function show(input) {
    const slot = input.parentElement.querySelector(".field-error.js");
    if (!slot) return true;
    const ok = input.checkValidity();
    slot.hidden = ok;
    slot.textContent = ok ? "" : input.name + ": " + input.validationMessage;
    input.closest("tr")?.classList.toggle("invalid", !ok);
    return ok;
  }
  form.querySelectorAll("input[type=number]").forEach((input) => {
    input.addEventListener("input", () => show(input));
  });
  form.addEventListener("submit", (event) => {
    let ok = true;
    form.querySelectorAll("input[type=number]").forEach((input) => { ok = show(input) && ok; });
    if (!ok) event.preventDefault();
  });
})();
