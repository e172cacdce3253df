// The sign-in page: straight on to the start page when a session exists; otherwise the
// development sign-ins (only when the gateway offers them) or the identity provider's
// note.
import { currentSession, el, json, request, roleName, setTitle, showErrorSummary, startPage } from './app.mjs'

startPage()

const errors = document.getElementById('sign-in-errors')
const devSection = document.getElementById('dev-sign-ins')
const devButtons = document.getElementById('dev-sign-in-buttons')
const idpSection = document.getElementById('idp-sign-in')

async function signInAs (role, button) {
  button.disabled = true
  try {
    const response = await request('/dev/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ role })
    })
    if (response.status === 200) {
      window.location.assign('/start.html')
      return
    }
    const problem = await json(response)
    setTitle('Sign in', { error: true })
    showErrorSummary(errors, [{ text: problem.detail ? `Sign-in failed: ${problem.detail}` : 'Sign-in failed: try again' }])
  } catch {
    setTitle('Sign in', { error: true })
    showErrorSummary(errors, [{ text: 'pathway could not be reached: check the connection and try again' }])
  } finally {
    button.disabled = false
  }
}

async function main () {
  if (await currentSession()) {
    window.location.replace('/start.html')
    return
  }
  let people = null
  try {
    const response = await request('/dev/sign-ins')
    if (response.status === 200) people = (await json(response)).people ?? null
  } catch {
    people = null
  }
  if (people && people.length > 0) {
    for (const person of people) {
      const button = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', 'data-module': 'govuk-button' },
        `Sign in as ${roleName(person.role).toLowerCase()} (${person.id})`)
      button.dataset.role = person.role
      button.addEventListener('click', () => signInAs(person.role, button))
      devButtons.append(el('div', {}, button))
    }
    devSection.hidden = false
  } else {
    idpSection.hidden = false
  }
}

main()
