// What every page shares: GOV.UK Frontend's start-up, the session, a DOM builder that
// only ever sets text (never HTML: nothing a person or the server sent becomes markup),
// the error summary, the words for pathways and deadline statuses, and polling.
import { ErrorSummary, initAll } from '@GOVUK_FRONTEND@'

export const SERVICE = 'pathway'

// GOV.UK Frontend's template does this in an inline script, which the CSP forbids.
export function startPage () {
  document.body.classList.add('js-enabled', 'govuk-frontend-supported')
  initAll()
}

// An element with attributes and children (strings become text nodes).
export function el (tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value)
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return node
}

// fetch with a bound on the wait (a busy clinic's network must not hang a page).
export async function request (path, { method = 'GET', headers = {}, body, timeoutMs = 20000 } = {}) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    return await fetch(path, {
      method,
      headers: { Accept: 'application/json, application/problem+json', ...headers },
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal
    })
  } finally {
    clearTimeout(timer)
  }
}

export async function json (response) {
  try {
    return await response.json()
  } catch {
    return {}
  }
}

// Who is signed in ({id, role, agency, team, csrfToken}), or null.
export async function currentSession () {
  try {
    const response = await request('/v1/session')
    return response.status === 200 ? await json(response) : null
  } catch {
    return null
  }
}

// The session, or off to the sign-in page.
export async function requireSession () {
  const session = await currentSession()
  if (!session) window.location.replace('/')
  return session
}

const roleNames = {
  clinician: 'Clinician',
  caseworker: 'Caseworker',
  team_manager: 'Team manager',
  operations: 'Operations',
  auditor: 'Auditor',
  partner_system: 'Partner system'
}
export function roleName (role) {
  return roleNames[role] ?? role
}

export async function signOut (session) {
  try {
    await request('/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': session.csrfToken } })
  } finally {
    window.location.assign('/')
  }
}

// A GOV.UK error summary in `container`, focused (ErrorSummary does it). Items:
// {text, href?}: each links to its field when it has one.
export function showErrorSummary (container, items) {
  const summary = el('div', { class: 'govuk-error-summary', 'data-module': 'govuk-error-summary' },
    el('div', { role: 'alert' },
      el('h2', { class: 'govuk-error-summary__title' }, 'There is a problem'),
      el('div', { class: 'govuk-error-summary__body' },
        el('ul', { class: 'govuk-list govuk-error-summary__list' },
          items.map((item) => el('li', {}, item.href ? el('a', { href: item.href }, item.text) : item.text))))))
  container.replaceChildren(summary)
  // eslint-disable-next-line no-new
  new ErrorSummary(summary)
  return summary
}

// An NHS number as typed (spaces allowed) -> its 10 digits, or null when it is not 10
// digits with a valid modulus 11 check digit (a check digit of 10 is never issued).
export function nhsNumberDigits (raw) {
  const digits = String(raw ?? '').replace(/\s+/g, '')
  if (!/^[0-9]{10}$/.test(digits)) return null
  let sum = 0
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i)
  const check = (11 - (sum % 11)) % 11
  return check !== 10 && check === Number(digits[9]) ? digits : null
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December']

// A pathway.v1.Date ({year, month, day}) as "10 March 2026"; '' when absent.
export function dateText (d) {
  return d?.year && d?.month && d?.day ? `${d.day} ${MONTHS[d.month - 1]} ${d.year}` : ''
}

// The page title: the page's own name, "Error: " first while errors are shown. Never
// anything a person typed.
export function setTitle (pageName, { error = false } = {}) {
  document.title = `${error ? 'Error: ' : ''}${pageName} – ${SERVICE}`
}

// --- the words for what the views carry ----------------------------------------------

// pathway.v1.PathwayKind -> its name for people.
export const PATHWAYS = {
  PATHWAY_KIND_REFERRAL_INTAKE: 'Referral intake',
  PATHWAY_KIND_EHC_NEEDS_ASSESSMENT: 'EHC needs assessment',
  PATHWAY_KIND_ANNUAL_REVIEW: 'Annual review of the EHC plan',
  PATHWAY_KIND_NEURODEVELOPMENTAL: 'Neurodevelopmental assessment',
  PATHWAY_KIND_PREPARING_FOR_ADULTHOOD: 'Preparing for adulthood',
  PATHWAY_KIND_EXCEPTIONAL_NEEDS_GRANT: 'Exceptional needs grant',
  PATHWAY_KIND_DISAGREEMENT: 'Disagreement resolution'
}

export function pathwayName (kind) {
  return PATHWAYS[kind] ?? 'Pathway'
}

// pathway.v1.DeadlineStatus -> the tag's text and colour (GOV.UK's plain tag is blue).
export const STATUSES = {
  DEADLINE_STATUS_PENDING: { text: 'Pending', colour: '' },
  DEADLINE_STATUS_MET: { text: 'Met', colour: 'govuk-tag--green' },
  DEADLINE_STATUS_BREACHED: { text: 'Breached', colour: 'govuk-tag--red' },
  DEADLINE_STATUS_EXCEPTED: { text: 'Missed: exception recorded', colour: 'govuk-tag--orange' },
  DEADLINE_STATUS_CANCELLED: { text: 'No longer applies', colour: 'govuk-tag--grey' },
  DEADLINE_STATUS_SUPERSEDED: { text: 'Superseded', colour: 'govuk-tag--grey' }
}
const UNKNOWN_STATUS = { text: 'Not known', colour: 'govuk-tag--grey' }

export function statusOf (deadline) {
  return STATUSES[deadline?.status] ?? UNKNOWN_STATUS
}

// A deadline's status as a GOV.UK tag in its colour.
export function statusTag (deadline) {
  const status = statusOf(deadline)
  return el('strong', { class: `govuk-tag ${status.colour}`.trim() }, status.text)
}

const ACRONYMS = { nd: 'neurodevelopmental', ehc: 'EHC', send: 'SEND', nhs: 'NHS', upn: 'UPN' }

// "nd_first_appointment_attended" -> "neurodevelopmental first appointment attended"
// (acronyms stay capitals: "ehc_plan" -> "EHC plan").
export function phrase (snake) {
  return String(snake ?? '').split('_').filter(Boolean).map((w) => ACRONYMS[w] ?? w.toLowerCase()).join(' ')
}

// The same, as a sentence starts: "Neurodevelopmental first appointment attended".
export function words (snake) {
  const text = phrase(snake)
  return text.charAt(0).toUpperCase() + text.slice(1)
}

// --- polling ----------------------------------------------------------------------------

// How long a 503 or 429 asks us to wait (Retry-After, in seconds), at most `maxMs`;
// `fallbackMs` when it does not say.
export function retryAfterMs (response, fallbackMs, maxMs = 60000) {
  const seconds = Number(response.headers.get('Retry-After'))
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, maxMs) : fallbackMs
}

// Asks the server now and then every `everyMs` while the page is visible: `ask` makes
// one request and shows its answer, and returns the milliseconds until the next (or
// nothing: `everyMs`). While document.hidden nothing is asked; visible again, it asks at
// once. One ask at a time: now() during an ask asks again as soon as it ends.
// body[data-poll] says where it is: fetching, waiting, paused or stopped.
export function poller (ask, everyMs) {
  let timer = null
  let inFlight = false
  let again = false
  let stopped = false
  const state = (name) => { document.body.dataset.poll = name }

  function schedule (ms) {
    clearTimeout(timer)
    if (stopped) return
    if (document.hidden) {
      state('paused')
      return
    }
    state('waiting')
    timer = setTimeout(now, ms)
  }

  async function now () {
    if (stopped) return
    if (inFlight) {
      again = true
      return
    }
    clearTimeout(timer)
    inFlight = true
    again = false
    state('fetching')
    let next = everyMs
    try {
      next = (await ask()) ?? everyMs
    } finally {
      inFlight = false
      schedule(again ? 0 : next)
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (stopped) return
    if (document.hidden) {
      clearTimeout(timer)
      if (!inFlight) state('paused')
    } else if (!inFlight) {
      now()
    }
  })

  return {
    now,
    stop () {
      stopped = true
      clearTimeout(timer)
      state('stopped')
    },
    // After stop(): ask again at once, and go on polling.
    restart () {
      stopped = false
      now()
    }
  }
}
