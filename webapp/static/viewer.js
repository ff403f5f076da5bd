// Progressive enhancement of the model viewer: move the slice and instant sliders and the
// previews follow without reloading the page (without JavaScript the form reloads it).
(function () {
  const form = document.querySelector("form.viewer");
  if (!form) return;
  const instants = JSON.parse(document.getElementById("instants").textContent);
  const slice = document.getElementById("slice");
  const instant = document.getElementById("instant");
  function update() {
    const [tp, i] = instants[instant ? Number(instant.value) : 0];
    document.getElementById("slice-value").textContent = slice.value;
    if (instant) document.getElementById("instant-value").textContent = instant.value;
    for (const img of document.querySelectorAll("img.preview[data-layer]")) {
      const url = new URL(form.dataset.preview, window.location.href);
      url.search = new URLSearchParams({layer: img.dataset.layer, tp: tp, i: i, z: slice.value}).toString();
      img.src = url.toString();
      img.alt = img.dataset.layer + ", slice " + slice.value;
    }
    const page = new URL(window.location.href);
    page.searchParams.set("z", slice.value);
    if (instant) page.searchParams.set("instant", instant.value);
    history.replaceState(null, "", page.toString());
  }
  slice.addEventListener("input", update);
  if (instant) instant.addEventListener("input", update);
})();
