// "Find a child": the NHS number is checked here (10 digits, spaces allowed, the
// modulus 11 check digit), then sent in the body of POST /v1/children/search, never in
// a URL: the answer names the child by its child id (a pseudonym) and the browser goes
// on to timeline.html?child=<child id>. The form's method is POST, so that even without
// this module a submission would not put the number in a URL; nothing here logs it.
// Unknown and not permitted are one answer (404 child.not_found) and one message, so a
// search does not reveal that a child is known to SEND services.
import {
  el, json, nhsNumberDigits, request, requireSession, roleName, setTitle, showErrorSummary, startPage
} from './app.mjs'

startPage()

const PAGE = 'Find a child'
const form = document.getElementById('find')
const input = document.getElementById('nhs-number')
const group = document.getElementById('nhs-number-group')
const feedback = document.getElementById('feedback')
const hintId = 'nhs-number-hint'
const errorId = 'nhs-number-error'

export const MESSAGES = {
  missing: 'Enter the child’s NHS number',
  invalid: 'Enter a valid 10 digit NHS number',
  notFound: 'No child with this NHS number is known to your service'
}

let session = null

function clearErrors () {
  document.getElementById(errorId)?.remove()
  group.classList.remove('govuk-form-group--error')
  input.classList.remove('govuk-input--error')
  input.setAttribute('aria-describedby', hintId)
  feedback.replaceChildren()
  setTitle(PAGE)
}

// The error summary on top (focused) and, for the field, the message beside it.
function showErrors (errors) {
  clearErrors()
  const fieldError = errors.find((e) => e.field)
  if (fieldError) {
    group.classList.add('govuk-form-group--error')
    input.classList.add('govuk-input--error')
    input.parentNode.insertBefore(el('p', { id: errorId, class: 'govuk-error-message' },
      el('span', { class: 'govuk-visually-hidden' }, 'Error:'), ` ${fieldError.text}`), input)
    input.setAttribute('aria-describedby', `${hintId} ${errorId}`)
  }
  setTitle(PAGE, { error: true })
  showErrorSummary(feedback, errors.map((e) => ({ text: e.text, href: e.field ? '#nhs-number' : e.href })))
}

function problemErrors (status, problem) {
  if (status === 404 && (problem.rule === 'child.not_found' || !problem.rule)) {
    return [{ field: true, text: MESSAGES.notFound }]
  }
  if (status === 422 && (problem.rule?.startsWith('nhs_number.') || /nhs_number|nhsNumber/.test(problem.field ?? ''))) {
    return [{ field: true, text: MESSAGES.invalid }]
  }
  if (status === 403 && problem.rule === 'csrf.missing_or_wrong') {
    return [{ text: 'Your session has ended: sign in again', href: '/' }]
  }
  if (status === 403 && problem.rule === 'authorisation.role') {
    return [{ text: `A ${roleName(session.role).toLowerCase()} cannot look up children’s timelines` }]
  }
  if (status === 429) return [{ text: problem.detail || 'Too many requests: wait a minute and try again' }]
  return [{ text: problem.detail || problem.title || 'pathway is not available at the moment: try again in a few minutes' }]
}

async function find () {
  const raw = input.value.trim()
  if (raw === '') return showErrors([{ field: true, text: MESSAGES.missing }])
  const nhsNumber = nhsNumberDigits(raw)
  if (!nhsNumber) return showErrors([{ field: true, text: MESSAGES.invalid }])
  let response
  try {
    response = await request('/v1/children/search', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken },
      body: JSON.stringify({ nhs_number: nhsNumber })
    })
  } catch {
    return showErrors([{ text: 'pathway could not be reached: check the connection and try again' }])
  }
  const answer = await json(response)
  if (response.status === 401) {
    window.location.assign('/')
    return
  }
  const childId = answer.child_id ?? answer.childId
  if (response.status === 200 && typeof childId === 'string' && childId !== '') {
    window.location.assign(`/timeline.html?child=${encodeURIComponent(childId)}`)
    return
  }
  showErrors(problemErrors(response.status, answer))
}

async function main () {
  session = await requireSession()
  if (!session) return
  document.getElementById('signed-in-as').textContent = `${session.id} (${roleName(session.role)}, ${session.agency})`
  let busy = false
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (busy) return
    busy = true
    const button = form.querySelector('button[type="submit"]')
    button.setAttribute('aria-disabled', 'true')
    try {
      await find()
    } finally {
      busy = false
      button.removeAttribute('aria-disabled')
    }
  })
  form.hidden = false
}

main()
