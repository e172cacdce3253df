// "Record a neurodevelopmental assessment step": one form per step a clinician records.
// Each submission is checked here first (what is missing or malformed), then sent as
// the protobuf JSON mapping of the command to POST /v1/commands/<name> with
// `Prefer: wait=10` and an Idempotency-Key of its own. The engine's answer is shown:
// a success panel with what it recorded, "submitted, waiting" while it has not
// answered (the outcome's Location is polled a bounded number of times), or the
// problem: an error summary on top and the message beside the field it names.
import {
  dateText, el, json, nhsNumberDigits, request, requireSession, roleName, setTitle, showErrorSummary, startPage
} from './app.mjs'

startPage()

const PAGE = 'Record a neurodevelopmental assessment step'
const POLLS = 6 // each waits up to 10 s for the engine

const steps = {
  'first-appointment': {
    command: 'nd_first_appointment_attended',
    payload: 'ndFirstAppointmentAttended',
    date: { json: 'attendedOn', proto: 'attended_on', label: 'Date attended', missing: 'Enter the date the first appointment was attended' },
    done: 'First appointment recorded'
  },
  outcome: {
    command: 'nd_outcome_recorded',
    payload: 'ndOutcomeRecorded',
    date: { json: 'decidedOn', proto: 'decided_on', label: 'Date of the outcome', missing: 'Enter the date the outcome was decided' },
    outcome: true,
    done: 'Outcome recorded'
  },
  discharge: {
    command: 'nd_discharged',
    payload: 'ndDischarged',
    date: { json: 'dischargedOn', proto: 'discharged_on', label: 'Date discharged', missing: 'Enter the date the child was discharged' },
    reason: true,
    done: 'Discharge recorded'
  }
}

const feedback = document.getElementById('feedback')
let session = null

// --- the fields of a form -------------------------------------------------------------

function group (form, field) {
  return form.querySelector(`[data-field="${field}"]`)
}

function value (form, name) {
  return (form.elements.namedItem(name)?.value ?? '').trim()
}

// The id an error links to: the part of a date at fault, the first radio, the input.
function anchorId (form, field, part) {
  const g = group(form, field)
  if (!g) return null
  const input = (part && g.querySelector(`input[name$="-${part}"]`)) || g.querySelector('input')
  return input?.id ?? null
}

function clearErrors (form) {
  for (const message of form.querySelectorAll('.govuk-error-message')) message.remove()
  for (const g of form.querySelectorAll('.govuk-form-group--error')) g.classList.remove('govuk-form-group--error')
  for (const input of form.querySelectorAll('.govuk-input--error')) input.classList.remove('govuk-input--error')
  for (const described of form.querySelectorAll('[data-described-by]')) {
    const original = described.dataset.describedBy
    if (original) described.setAttribute('aria-describedby', original)
    else described.removeAttribute('aria-describedby')
  }
}

function showFieldError (form, error) {
  const g = group(form, error.field)
  if (!g || g.classList.contains('govuk-form-group--error')) return // one message per field
  g.classList.add('govuk-form-group--error')
  const messageId = `${g.id}-error`
  const message = el('p', { id: messageId, class: 'govuk-error-message' },
    el('span', { class: 'govuk-visually-hidden' }, 'Error:'), ` ${error.text}`)
  const before = g.querySelector('.govuk-date-input, .govuk-radios, input')
  before.parentNode.insertBefore(message, before)
  const described = g.querySelector('fieldset') ?? g.querySelector('input')
  if (described.dataset.describedBy === undefined) described.dataset.describedBy = described.getAttribute('aria-describedby') ?? ''
  described.setAttribute('aria-describedby', `${described.dataset.describedBy} ${messageId}`.trim())
  const inputs = error.field === 'date' && error.part
    ? [g.querySelector(`input[name$="-${error.part}"]`)]
    : [...g.querySelectorAll('input.govuk-input')]
  for (const input of inputs) input?.classList.add('govuk-input--error')
}

function showErrors (form, errors) {
  clearErrors(form)
  for (const error of errors) if (error.field) showFieldError(form, error)
  setTitle(PAGE, { error: true })
  showErrorSummary(feedback, errors.map((error) => {
    const id = error.field ? anchorId(form, error.field, error.part) : null
    return { text: error.text, href: id ? `#${id}` : error.href }
  }))
}

// --- checks before sending --------------------------------------------------------------

function nhsNumberError (raw) {
  if (raw === '') return 'Enter the child’s NHS number'
  if (!/^[0-9]{10}$/.test(raw.replace(/\s+/g, ''))) return 'NHS number must be 10 digits'
  return nhsNumberDigits(raw) ? null : 'Enter a valid NHS number'
}

function dateOf (form, prefix, spec) {
  const parts = { day: value(form, `${prefix}-date-day`), month: value(form, `${prefix}-date-month`), year: value(form, `${prefix}-date-year`) }
  const missing = Object.keys(parts).filter((k) => parts[k] === '')
  if (missing.length === 3) return { error: { text: spec.missing } }
  if (missing.length > 0) {
    return { error: { text: `${spec.label} must include a ${missing.join(' and a ')}`, part: missing[0] } }
  }
  const bad = { text: `${spec.label} must be a real date` }
  if (!/^[0-9]{1,2}$/.test(parts.day) || !/^[0-9]{1,2}$/.test(parts.month) || !/^[0-9]{4}$/.test(parts.year)) return { error: bad }
  const [year, month, day] = [Number(parts.year), Number(parts.month), Number(parts.day)]
  const date = new Date(Date.UTC(year, month - 1, day))
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return { error: bad }
  if (date.getTime() > Date.now()) return { error: { text: `${spec.label} must be today or in the past` } }
  return { date: { year, month, day } }
}

function check (form, step) {
  const prefix = form.dataset.prefix
  const errors = []
  const nhs = value(form, `${prefix}-nhs-number`)
  const nhsError = nhsNumberError(nhs)
  if (nhsError) errors.push({ field: 'nhs', text: nhsError })
  const referralId = value(form, `${prefix}-referral-id`)
  if (referralId === '') errors.push({ field: 'referral', text: 'Enter the referral ID' })
  let outcome = null
  if (step.outcome) {
    outcome = form.querySelector(`input[name="${prefix}-outcome"]:checked`)?.value ?? null
    if (!outcome) errors.push({ field: 'outcome', text: 'Select the outcome' })
  }
  const date = dateOf(form, prefix, step.date)
  if (date.error) errors.push({ field: 'date', ...date.error })
  let reason = null
  if (step.reason) {
    reason = value(form, `${prefix}-reason`)
    if (reason === '') errors.push({ field: 'reason', text: 'Enter the reason for discharge' })
  }
  if (errors.length > 0) return { errors }
  const payload = { referralId, [step.date.json]: date.date }
  if (outcome) payload.outcome = outcome
  if (reason) payload.reason = reason
  return { body: { subject: { nhsNumber: nhs.replace(/\s+/g, '') }, [step.payload]: payload } }
}

// --- the gateway's problems -----------------------------------------------------------

// A field path as the gateway names it (protobuf names, or JSON names from the parser:
// "nd_first_appointment_attended.attended_on.day", "subject.nhs_number",
// "referral_submitted.child.nhs_number", "ndDischarged.reason") -> this form's field.
export function formField (path, step) {
  if (!path) return null
  const snake = path.replace(/\[[0-9]*\]/g, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  const names = snake.split('.')
  const last = names[names.length - 1]
  if (last === 'nhs_number') return { field: 'nhs' }
  if (last === 'referral_id') return { field: 'referral' }
  const dateAt = names.indexOf(step.date.proto)
  if (dateAt >= 0) {
    const part = names[dateAt + 1]
    return { field: 'date', part: ['day', 'month', 'year'].includes(part) ? part : undefined }
  }
  if (step.outcome && last === 'outcome') return { field: 'outcome' }
  if (step.reason && last === 'reason') return { field: 'reason' }
  return null
}

function problemText (rule, fieldName, problem, step) {
  if (rule?.startsWith('nhs_number.')) return 'Enter a valid NHS number'
  if (rule === 'pathway.unknown_reference') return 'There is no neurodevelopmental referral with this referral ID for this child'
  if (rule?.startsWith('date.') && fieldName === 'date') return `${step.date.label} must be a real date`
  if (rule === 'string.too_long') return 'This is too long'
  return problem.detail || problem.title || 'Something went wrong: try again'
}

function showProblem (form, step, status, problem) {
  if (status === 401) {
    showErrors(form, [{ text: 'Your session has ended: sign in again', href: '/' }])
    return
  }
  if (status === 403) {
    showErrors(form, [{ text: problem.rule === 'csrf.missing_or_wrong' ? 'Your session has ended: sign in again' : `A ${roleName(session.role).toLowerCase()} cannot record this step`, href: problem.rule === 'csrf.missing_or_wrong' ? '/' : undefined }])
    return
  }
  if (status === 429) {
    showErrors(form, [{ text: 'Too many requests: wait a minute and try again' }])
    return
  }
  if (status >= 500) {
    showErrors(form, [{ text: 'pathway is not available at the moment: try again in a few minutes' }])
    return
  }
  const violations = Array.isArray(problem.violations) && problem.violations.length > 0
    ? problem.violations
    : [{ field: problem.field, rule: problem.rule, reason: problem.detail }]
  const errors = violations.map((v) => {
    const mapped = formField(v.field, step)
    return { ...(mapped ?? {}), text: problemText(v.rule ?? problem.rule, mapped?.field, { ...problem, detail: v.reason || problem.detail }, step) }
  })
  showErrors(form, errors)
}

// --- outcomes --------------------------------------------------------------------------

const envelopeMembers = new Set(['eventId', 'occurredAt', 'recordedAt', 'source', 'actor', 'subject', 'subjectKey', 'correlationId', 'causationId', 'schemaVersion'])

function words (snake) {
  const text = String(snake ?? '').replace(/^[A-Z]+_[A-Z]+_/, '').replaceAll('_', ' ').toLowerCase()
  return text.charAt(0).toUpperCase() + text.slice(1)
}

// One line per thing the engine recorded, from the events of the outcome (as on
// pathway.events.v1: references, states and dates; nothing personal is in clear).
export function recordedLines (event) {
  const key = Object.keys(event).find((k) => !envelopeMembers.has(k) && typeof event[k] === 'object')
  if (!key) return []
  const payload = event[key]
  if (key === 'pathwayStepRecorded') {
    const moved = payload.fromState ? `${words(payload.fromState)} to ${words(payload.toState)}` : words(payload.toState)
    return [`${words(payload.step)} on ${dateText(payload.on)}: ${moved}`]
  }
  if (key === 'caseCorrected') {
    const lines = (payload.steps ?? []).filter((step) => !step.withdrawn).map((step) =>
      `${words(step.step)} on ${dateText(step.on)}: now ${words(step.state).toLowerCase()}`)
    for (const deadline of payload.deadlines ?? []) {
      lines.push(`Deadline ${words(deadline.name).toLowerCase()}: ${words(deadline.status).toLowerCase()}${deadline.due ? `, due ${dateText(deadline.due)}` : ''}`)
    }
    return lines.length > 0 ? lines : ['The case was re-decided from the step’s date']
  }
  return [words(key.replace(/([A-Z])/g, '_$1'))]
}

function showSuccess (form, step, outcome, referralId) {
  clearErrors(form)
  setTitle(PAGE)
  const events = Array.isArray(outcome.events) ? outcome.events : []
  const panel = el('div', { class: 'govuk-panel govuk-panel--confirmation', tabindex: '-1', id: 'success-panel' },
    el('h2', { class: 'govuk-panel__title' }, step.done),
    el('div', { class: 'govuk-panel__body' }, `Referral ${referralId}`))
  const recorded = el('div', { id: 'recorded' },
    el('h2', { class: 'govuk-heading-m' }, 'What pathway recorded'),
    events.length > 0
      ? el('ul', { class: 'govuk-list govuk-list--bullet' }, events.flatMap(recordedLines).map((line) => el('li', {}, line)))
      : el('p', { class: 'govuk-body' }, 'The step was accepted.'))
  feedback.replaceChildren(panel, recorded)
  form.reset()
  panel.focus()
}

function showWaiting (step, eventId, stillWaiting) {
  setTitle(PAGE)
  const banner = el('div', { class: 'govuk-notification-banner', role: 'region', 'aria-labelledby': 'waiting-title', tabindex: '-1', id: 'waiting' },
    el('div', { class: 'govuk-notification-banner__header' },
      el('h2', { class: 'govuk-notification-banner__title', id: 'waiting-title' }, 'Submitted')),
    el('div', { class: 'govuk-notification-banner__content' },
      el('p', { class: 'govuk-notification-banner__heading' },
        stillWaiting ? 'Submitted: pathway has not confirmed it yet' : 'Submitted, waiting for pathway to confirm it'),
      el('p', { class: 'govuk-body' },
        stillWaiting
          ? `The step will be recorded when pathway gets to it. Reference: ${eventId}.`
          : 'This usually takes a few seconds.')))
  feedback.replaceChildren(banner)
  banner.focus()
}

async function pollOutcome (form, step, location, eventId, referralId) {
  for (let i = 0; i < POLLS; i++) {
    let response
    try {
      response = await request(location, { headers: { Prefer: 'wait=10' }, timeoutMs: 15000 })
    } catch {
      continue
    }
    const answer = await json(response)
    if (response.status === 200 && answer.status === 'accepted') return showSuccess(form, step, answer, referralId)
    if (response.status === 200 && answer.status === 'rejected') {
      return showProblem(form, step, 422, { ...answer.rejection, detail: answer.rejection?.reason })
    }
    if (response.status >= 400 && response.status !== 503) return showProblem(form, step, response.status, answer)
  }
  showWaiting(step, eventId, true)
}

// --- submitting --------------------------------------------------------------------------

function idempotencyKey () {
  if (crypto.randomUUID) return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

async function submit (form, step) {
  const checked = check(form, step)
  if (checked.errors) return showErrors(form, checked.errors)
  const referralId = checked.body[step.payload].referralId
  let response
  try {
    response = await request(`/v1/commands/${step.command}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Prefer: 'wait=10',
        'Idempotency-Key': idempotencyKey(),
        'X-CSRF-Token': session.csrfToken
      },
      body: JSON.stringify(checked.body),
      timeoutMs: 20000
    })
  } catch {
    return showErrors(form, [{ text: 'pathway could not be reached: check the connection and try again' }])
  }
  const answer = await json(response)
  if (response.status === 200) return showSuccess(form, step, answer, referralId)
  if (response.status === 202) {
    clearErrors(form)
    showWaiting(step, answer.eventId, false)
    return pollOutcome(form, step, response.headers.get('Location') ?? `/v1/outcomes/${answer.eventId}`, answer.eventId, referralId)
  }
  return showProblem(form, step, response.status, answer)
}

async function main () {
  session = await requireSession()
  if (!session) return
  document.getElementById('signed-in-as').textContent = `${session.id} (${roleName(session.role)}, ${session.agency})`
  for (const form of document.querySelectorAll('form[data-step]')) {
    const step = steps[form.dataset.step]
    let busy = false
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      if (busy) return // one submission at a time per form
      busy = true
      const button = form.querySelector('button[type="submit"]')
      button.setAttribute('aria-disabled', 'true')
      try {
        await submit(form, step)
      } finally {
        busy = false
        button.removeAttribute('aria-disabled')
      }
    })
  }
  document.getElementById('forms').hidden = false
}

main()
