// The dependency-chain page (/demo/chain): the post list comes from a JSON API this script fetches, so a browser
// learns of it only after the script ran (HTML -> script -> JSON).
fetch('/api/posts').then((r) => r.json()).then((posts) => {
  const ul = document.getElementById('posts')
  for (const p of posts) {
    const li = document.createElement('li')
    li.textContent = p.date + ' ' + p.title
    ul.appendChild(li)
  }
})
