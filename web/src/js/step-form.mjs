// A step form at run time, for any form src/js/steps.mjs describes (the markup is
// build.mjs's, from the same description). Each submission is checked here first (what
// is missing or malformed), then sent as the protobuf JSON mapping of the command to
// POST /v1/commands/<name> with `Prefer: wait=10` and an Idempotency-Key of its own.
// The engine's answer is shown: a success panel with what it recorded, "submitted,
// waiting" while it has not answered (the outcome's Location is polled a bounded number
// of times), or the problem: an error summary on top and the message beside the field
// it names.
import { dateText, el, json, nhsNumberDigits, request, roleName, setTitle, showErrorSummary } from './app.mjs'

const POLLS = 6 // each waits up to 10 s for the engine

// --- the fields of a form -------------------------------------------------------------

function group (form, key) {
  return form.querySelector(`[data-field="${key}"]`)
}

function value (form, id) {
  return (form.elements.namedItem(id)?.value ?? '').trim()
}

// The id an error links to: the part of a date at fault, the first radio, the input.
function anchorId (form, key, part) {
  const g = group(form, key)
  if (!g) return null
  const input = (part && g.querySelector(`input[name$="-${part}"]`)) || g.querySelector('input, textarea')
  return input?.id ?? null
}

function clearErrors (form) {
  for (const message of form.querySelectorAll('.govuk-error-message')) message.remove()
  for (const g of form.querySelectorAll('.govuk-form-group--error')) g.classList.remove('govuk-form-group--error')
  for (const input of form.querySelectorAll('.govuk-input--error, .govuk-textarea--error')) {
    input.classList.remove('govuk-input--error', 'govuk-textarea--error')
  }
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
  const before = g.querySelector('.govuk-date-input, .govuk-radios, .govuk-checkboxes, input, textarea')
  before.parentNode.insertBefore(message, before)
  const described = g.querySelector('fieldset') ?? g.querySelector('input, textarea')
  if (described.dataset.describedBy === undefined) described.dataset.describedBy = described.getAttribute('aria-describedby') ?? ''
  described.setAttribute('aria-describedby', `${described.dataset.describedBy} ${messageId}`.trim())
  const inputs = error.part
    ? [g.querySelector(`input[name$="-${error.part}"]`)]
    : [...g.querySelectorAll('input.govuk-input, textarea')]
  for (const input of inputs) input?.classList.add(input.tagName === 'TEXTAREA' ? 'govuk-textarea--error' : 'govuk-input--error')
}

// --- checks before sending --------------------------------------------------------------

function nhsNumberError (raw) {
  if (raw === '') return 'Enter the child’s NHS number'
  if (!/^[0-9]{10}$/.test(raw.replace(/\s+/g, ''))) return 'NHS number must be 10 digits'
  return nhsNumberDigits(raw) ? null : 'Enter a valid NHS number'
}

function bytes (text) {
  return new TextEncoder().encode(text).length
}

// A date's three inputs -> {date} (a pathway.v1.Date), {error}, or {} when an optional
// date is left blank.
function dateOf (form, id, field) {
  const parts = { day: value(form, `${id}-day`), month: value(form, `${id}-month`), year: value(form, `${id}-year`) }
  const missing = Object.keys(parts).filter((k) => parts[k] === '')
  if (missing.length === 3) return field.optional ? {} : { error: { text: field.missing } }
  if (missing.length > 0) {
    return { error: { text: `${field.label} must include a ${missing.join(' and a ')}`, part: missing[0] } }
  }
  const bad = { text: `${field.label} must be a real date` }
  if (!/^[0-9]{1,2}$/.test(parts.day) || !/^[0-9]{1,2}$/.test(parts.month) || !/^[0-9]{4}$/.test(parts.year)) return { error: bad }
  const [year, month, day] = [Number(parts.year), Number(parts.month), Number(parts.day)]
  const date = new Date(Date.UTC(year, month - 1, day))
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return { error: bad }
  if (!field.future && date.getTime() > Date.now()) return { error: { text: `${field.label} must be today or in the past` } }
  return { date: { year, month, day } }
}

// One field's value for the body (undefined: left out) or its error.
function read (form, step, field) {
  const id = `${step.prefix}-${field.key}`
  switch (field.type) {
    case 'nhs': {
      const raw = value(form, id)
      const error = nhsNumberError(raw)
      return error ? { error: { text: error } } : { value: raw.replace(/\s+/g, '') }
    }
    case 'date': {
      const { date, error } = dateOf(form, id, field)
      return error ? { error } : { value: date }
    }
    case 'radios': {
      const chosen = form.querySelector(`input[name="${id}"]:checked`)?.value
      return chosen ? { value: chosen } : { error: { text: field.missing } }
    }
    case 'checkbox':
      return { value: form.querySelector(`#${id}`).checked || undefined }
    default: { // reference, text, textarea
      const typed = value(form, id)
      if (typed === '') {
        return field.type === 'reference' || field.required ? { error: { text: field.missing } } : {}
      }
      if (field.max && bytes(typed) > field.max) {
        return { error: { text: `${field.label.replace(/ \(optional\)$/, '')} must be ${field.max} characters or fewer` } }
      }
      return { value: typed }
    }
  }
}

// The form -> {body} (the command as the gateway takes it) or {errors}.
export function check (form, step) {
  const errors = []
  const body = { subject: {}, [step.payload]: {} }
  for (const field of step.fields) {
    const { value: v, error } = read(form, step, field)
    if (error) errors.push({ field: field.key, ...error })
    else if (v === undefined) continue
    else if (field.type === 'nhs') body.subject.nhsNumber = v
    else body[step.payload][field.json] = v
  }
  return errors.length > 0 ? { errors } : { body }
}

// --- the gateway's problems -----------------------------------------------------------

function referenceField (step) {
  return step.fields.find((f) => f.type === 'reference')
}

// A field path as the gateway names it (protobuf names, or JSON names from the parser:
// "ehc_assessment_requested.received_on.day", "subject.nhs_number",
// "ehcAssessmentDecided.appealRightsGiven") -> {field (the spec), part?}. "payload" (the
// engine's transition.not_allowed and transition.after_end: the step does not fit the
// state of the case) -> the reference, the field that chose the case.
export function formField (path, step) {
  if (!path) return null
  const snake = path.replace(/\[[0-9]*\]/g, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
  const names = snake.split('.')
  const last = names[names.length - 1]
  if (snake === 'payload') return { field: referenceField(step) }
  if (last === 'nhs_number' || last === 'subject') return { field: step.fields.find((f) => f.type === 'nhs') }
  for (const field of step.fields) {
    const at = names.indexOf(field.name)
    if (at < 0 || (field.type !== 'date' && at !== names.length - 1)) continue
    const part = field.type === 'date' && ['day', 'month', 'year'].includes(names[at + 1]) ? names[at + 1] : undefined
    return { field, part }
  }
  return null
}

function sentence (text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text
}

function problemText (rule, field, problem) {
  if (rule?.startsWith('nhs_number.')) return 'Enter a valid NHS number'
  if (rule === 'pathway.unknown_reference' && field?.unknown) return field.unknown
  if (rule === 'required' && field?.missing) return field.missing
  if ((rule === 'date.calendar' || rule === 'date.out_of_range') && field?.type === 'date') return `${field.label} must be a real date`
  if (rule === 'string.too_long') return field ? `${field.label.replace(/ \(optional\)$/, '')} is too long` : 'This is too long'
  return sentence(problem.detail || problem.title) || 'Something went wrong: try again'
}

// A form of the page: its step, the page's name (for the title), the session and where
// the summary and panels go.
class StepForm {
  constructor (form, step, { page, session, feedback }) {
    Object.assign(this, { form, step, page, session, feedback })
  }

  showErrors (errors) {
    const { form, feedback } = this
    clearErrors(form)
    for (const error of errors) if (error.field) showFieldError(form, error)
    setTitle(this.page(), { error: true })
    showErrorSummary(feedback, errors.map((error) => {
      const id = error.field ? anchorId(form, error.field, error.part) : null
      return { text: error.text, href: id ? `#${id}` : error.href }
    }))
  }

  showProblem (status, problem) {
    if (status === 401) return this.showErrors([{ text: 'Your session has ended: sign in again', href: '/' }])
    if (status === 403) {
      const csrf = problem.rule === 'csrf.missing_or_wrong'
      return this.showErrors([{
        text: csrf ? 'Your session has ended: sign in again' : `A ${roleName(this.session.role).toLowerCase()} cannot record this step`,
        href: csrf ? '/' : undefined
      }])
    }
    if (status === 429) return this.showErrors([{ text: 'Too many requests: wait a minute and try again' }])
    if (status >= 500) return this.showErrors([{ text: 'pathway is not available at the moment: try again in a few minutes' }])
    const violations = Array.isArray(problem.violations) && problem.violations.length > 0
      ? problem.violations
      : [{ field: problem.field, rule: problem.rule, reason: problem.detail }]
    this.showErrors(violations.map((v) => {
      const mapped = formField(v.field, this.step)
      const text = problemText(v.rule ?? problem.rule, mapped?.field, { ...problem, detail: v.reason || problem.detail })
      return mapped?.field ? { field: mapped.field.key, part: mapped.part, text } : { text }
    }))
  }

  showSuccess (outcome, reference) {
    const { form, step, feedback } = this
    clearErrors(form)
    setTitle(this.page())
    const events = Array.isArray(outcome.events) ? outcome.events : []
    const panel = el('div', { class: 'govuk-panel govuk-panel--confirmation', tabindex: '-1', id: 'success-panel' },
      el('h2', { class: 'govuk-panel__title' }, step.done),
      el('div', { class: 'govuk-panel__body' }, `${referenceField(step).label} ${reference}`))
    const recorded = el('div', { id: 'recorded' },
      el('h2', { class: 'govuk-heading-m' }, 'What pathway recorded'),
      events.length > 0
        ? el('ul', { class: 'govuk-list govuk-list--bullet' }, events.flatMap(recordedLines).map((line) => el('li', {}, line)))
        : el('p', { class: 'govuk-body' }, 'The step was accepted.'))
    feedback.replaceChildren(panel, recorded)
    form.reset()
    panel.focus()
  }

  showWaiting (eventId, stillWaiting) {
    setTitle(this.page())
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
    this.feedback.replaceChildren(banner)
    banner.focus()
  }

  async pollOutcome (location, eventId, reference) {
    for (let i = 0; i < POLLS; i++) {
      let response
      try {
        response = await request(location, { headers: { Prefer: 'wait=10' }, timeoutMs: 15000 })
      } catch {
        continue
      }
      const answer = await json(response)
      if (response.status === 200 && answer.status === 'accepted') return this.showSuccess(answer, reference)
      if (response.status === 200 && answer.status === 'rejected') {
        return this.showProblem(422, { ...answer.rejection, detail: answer.rejection?.reason })
      }
      if (response.status >= 400 && response.status !== 503) return this.showProblem(response.status, answer)
    }
    this.showWaiting(eventId, true)
  }

  async submit () {
    const { form, step } = this
    const checked = check(form, step)
    if (checked.errors) return this.showErrors(checked.errors)
    const reference = checked.body[step.payload][referenceField(step).json]
    let response
    try {
      response = await request(`/v1/commands/${step.command}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Prefer: 'wait=10',
          'Idempotency-Key': idempotencyKey(),
          'X-CSRF-Token': this.session.csrfToken
        },
        body: JSON.stringify(checked.body),
        timeoutMs: 20000
      })
    } catch {
      return this.showErrors([{ text: 'pathway could not be reached: check the connection and try again' }])
    }
    const answer = await json(response)
    if (response.status === 200) return this.showSuccess(answer, reference)
    if (response.status === 202) {
      clearErrors(form)
      this.showWaiting(answer.eventId, false)
      return this.pollOutcome(response.headers.get('Location') ?? `/v1/outcomes/${answer.eventId}`, answer.eventId, reference)
    }
    return this.showProblem(response.status, answer)
  }
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

function idempotencyKey () {
  if (crypto.randomUUID) return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

// Wires up every form[data-step] in `root` whose id `steps` describes: one submission
// at a time per form. `page()` is the page's name for the title.
export function bindStepForms (root, steps, { page, session, feedback }) {
  for (const form of root.querySelectorAll('form[data-step]')) {
    const step = steps.find((s) => s.id === form.dataset.step)
    if (!step) continue
    const stepForm = new StepForm(form, step, { page, session, feedback })
    let busy = false
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      if (busy) return
      busy = true
      const button = form.querySelector('button[type="submit"]')
      button.setAttribute('aria-disabled', 'true')
      try {
        await stepForm.submit()
      } finally {
        busy = false
        button.removeAttribute('aria-disabled')
      }
    })
  }
}
