// main.js: read the embedded data and render each section with its view, in order.
{
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const app = document.getElementById("app");
  for (const name of data.order) {
    const view = VIEWS[name];
    if (view) view(data.sections[name], app);
    else app.append(h("p", "error", "This page has no view for the section ", name, "."));
  }
  document.documentElement.dataset.ready = "1";
}
