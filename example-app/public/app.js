// Shows how this page arrived: the server reports the protocol in a response header the page echoes back.
document.addEventListener('DOMContentLoaded', () => {
  const el = document.querySelector('[data-proto]')
  if (el) el.textContent = 'served over ' + el.getAttribute('data-proto')
  const started = performance.timing ? performance.timing.navigationStart : 0
  window.addEventListener('load', () => {
    const t = document.querySelector('[data-load-time]')
    if (t && started) t.textContent = 'loaded in ' + (Date.now() - started) + ' ms'
  })
})
