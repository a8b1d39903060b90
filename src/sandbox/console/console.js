// The console's only script: copy buttons, and the inbox refreshing itself (the page works without it).
/* global document, Element, navigator, window, setTimeout, setInterval, fetch, location, DOMParser */
'use strict';

document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('button.copy') : null;
  if (!button) return;
  const source = document.getElementById(button.dataset.copy || '');
  if (!source) return;
  const text = source.textContent || '';
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API (not a secure context): select the text for Ctrl+C
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  // the button's accessible name stays its aria-label: a screen reader hears the outcome here
  const status = document.getElementById('copy-status');
  if (status) status.textContent = `${button.getAttribute('aria-label') || 'Copy'}: done`;
  setTimeout(() => (button.textContent = label), 1500);
});

const inbox = document.getElementById('inbox');
const toggle = document.getElementById('auto-refresh');
if (inbox && toggle) {
  const every = Number(inbox.dataset.refresh) || 3000;
  const refresh = async () => {
    // never while hidden, switched off, or while the keyboard is inside the list (the focus would be lost)
    if (document.hidden || !toggle.checked || inbox.contains(document.activeElement)) return;
    try {
      const response = await fetch(location.href, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (!response.ok || response.redirected) return;
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
      const fresh = doc.getElementById('inbox');
      if (fresh && fresh.innerHTML !== inbox.innerHTML) inbox.innerHTML = fresh.innerHTML;
      // the count stays one live region (replacing it would silence it): only its text changes
      const count = document.getElementById('inbox-count');
      const freshCount = doc.getElementById('inbox-count');
      if (count && freshCount && count.textContent !== freshCount.textContent) count.textContent = freshCount.textContent;
    } catch {
      // the server is restarting: the next tick tries again
    }
  };
  setInterval(refresh, every);
}
