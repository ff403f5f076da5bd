// Forms marked data-confirm ask before they are sent (e.g. killing a run); without JavaScript they send at once.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
