// "Copy link" buttons: <button data-copy-from="input-id">; the page gives the word "copied" (corridor/i18n.js).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-from]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copyFrom);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy"); // older browsers, or a page not served over HTTPS
  }
  const status = button.closest("section")?.querySelector(".copy-status");
  if (status) status.textContent = window.corridor.t("copied");
});
