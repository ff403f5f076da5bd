// Clicking an example puts its query in the editor (without JavaScript the link reloads the page with it).
(function () {
  const editor = document.getElementById("query");
  for (const link of document.querySelectorAll("#examples a[data-query]")) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      editor.value = link.dataset.query;
      editor.focus();
    });
  }
})();
