// The start page: who is signed in, what they can do, and signing out.
import { el, requireSession, roleName, signOut, startPage } from './app.mjs'

startPage()

async function main () {
  const session = await requireSession()
  if (!session) return
  const rows = [
    ['Staff ID', session.id],
    ['Role', roleName(session.role)],
    ['Agency', session.agency],
    ['Team', session.team || 'None']
  ]
  document.getElementById('who').replaceChildren(...rows.map(([key, value]) =>
    el('div', { class: 'govuk-summary-list__row' },
      el('dt', { class: 'govuk-summary-list__key' }, key),
      el('dd', { class: 'govuk-summary-list__value' }, value))))
  // Links for some roles only (data-roles): the others would only meet a refusal.
  for (const item of document.querySelectorAll('#actions [data-roles]')) {
    item.hidden = !item.dataset.roles.split(/\s+/).includes(session.role)
  }
  const button = document.getElementById('sign-out')
  button.addEventListener('click', () => {
    button.disabled = true
    signOut(session)
  })
  document.getElementById('signed-in').hidden = false
}

main()
