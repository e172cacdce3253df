// What every page shares: GOV.UK Frontend's start-up, the session, a DOM builder that
// only ever sets text (never HTML: nothing a person or the server sent becomes markup)
// and the error summary.
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
