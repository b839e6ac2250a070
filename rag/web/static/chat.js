() => {
  if (window.__kzCitations) { return; }
  window.__kzCitations = true;
  const reveal = (id) => {
    const el = document.getElementById(id);
    if (!el) { return false; }
    for (let p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS") { p.open = true; } }
    const box = el.closest("#kz-sources");
    if (box && getComputedStyle(box).overflowY === "auto" && box.scrollHeight > box.clientHeight + 1) {
      // Wide layout: scroll the sources panel itself, and the page only as far as needed to see the panel.
      const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
      box.scrollTo({ top: top, behavior: "smooth" });
      const r = box.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 120) { box.scrollIntoView({ behavior: "smooth", block: "start" }); }
    } else {
      el.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
    el.classList.remove("kz-flash"); void el.offsetWidth; el.classList.add("kz-flash");
    setTimeout(() => el.classList.remove("kz-flash"), 1600);
    return true;
  };
  document.addEventListener("click", (event) => {
    const link = event.target && event.target.closest ? event.target.closest("a") : null;
    if (!link) { return; }
    const href = link.getAttribute("href") || "";
    const hash = href.indexOf("#") >= 0 ? href.slice(href.indexOf("#") + 1) : "";
    if (!/^(cite|turn)-\d+(-\d+)?$/.test(hash)) { return; }
    event.preventDefault();
    event.stopPropagation();
    reveal(hash);
  }, true);
}
