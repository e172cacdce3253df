// "My caseload" (caseload.html) and "Waiting list" (waiting.html), one module: GET
// /v1/caseload (/openapi.json; docs/gateway.md, "The web app"), a page of the caller's
// team's or service's list as pathway.v1.CaseloadPage in protobuf's JSON mapping
// (defaults left out), shown as a GOV.UK table: the child (a link to its timeline, named
// by the partner's reference: views carry no names), pathway, state, weeks waited, the
// next deadline with its status and statutory rule, breaches and risk.
//
// Every child on a page shown is an audit record, so the page asks once when opened or
// changed, then once a minute while it is visible (app.mjs's poller), and on "Refresh".
// The sort, pathway and team-or-service controls are handled here: only our own option
// values go into the API's URL, and nothing into the page's. "Next" and "Previous" page
// with the answer's nextCursor and a stack of the cursors before. 401: the sign-in page;
// 403: "you cannot see"; 503, 429 or no network: "temporarily unavailable", tried again
// as Retry-After says, at most MAX_TRIES times in a row, then left to "Refresh".
import {
  PATHWAYS, dateText, el, json, pathwayName, poller, request, requireSession, retryAfterMs, roleName, setTitle,
  startPage, statusTag, words
} from './app.mjs'

startPage()

const REFRESH_MS = 60000
const RETRY_MS = 5000
const MAX_TRIES = 10 // unavailable answers in a row before the page stops trying by itself
const CURSOR = /^[0-9a-f]{2,1024}$/

const page = document.getElementById('list-page')
const LIST = page.dataset.list === 'waiting' ? 'waiting' : 'caseload'
const PAGE_NAME = LIST === 'waiting' ? 'Waiting list' : 'My caseload'
const LIST_WORDS = LIST === 'waiting' ? 'waiting list' : 'caseload'

const form = document.getElementById('controls')
const sortSelect = document.getElementById('sort')
const pathwaySelect = document.getElementById('pathway')
const announcer = document.getElementById('announcer')
const unavailable = document.getElementById('unavailable')
const sections = {
  loading: document.getElementById('loading'),
  view: document.getElementById('view'),
  problem: document.getElementById('problem')
}

let session = null
let applied = { scope: 'service', sort: 'next_deadline', pathway: '' } // the controls as last applied
let cursor = '' // the page shown: '' the first
let before = [] // the cursors of the pages before it, nearest last
let tries = 0 // unavailable answers in a row
let previous = null // the last answer shown: {query, json, rows: Map(key -> json)}
let focusResults = false // after a person's action: the focus goes to what it brought
let sayRefreshed = false // after "Refresh": say so even when nothing changed

// --- what to ask ----------------------------------------------------------------------

// The definition names of the pathways (referral_intake, ...), from their kinds.
const PATHWAY_NAMES = Object.keys(PATHWAYS).map((kind) => kind.replace(/^PATHWAY_KIND_/, '').toLowerCase())

// The controls as chosen, as our own option values only (checked against them).
function chosen () {
  return {
    scope: session?.team && document.getElementById('scope-team').checked ? 'team' : 'service',
    sort: sortSelect.value === 'waited' ? 'waited' : 'next_deadline',
    pathway: PATHWAY_NAMES.includes(pathwaySelect.value) ? pathwaySelect.value : ''
  }
}

// The list's query: the controls as applied and the cursor the API gave.
function query () {
  const params = new URLSearchParams({ list: LIST, scope: applied.scope, sort: applied.sort })
  if (applied.pathway) params.set('pathway', applied.pathway)
  if (cursor) params.set('cursor', cursor)
  return params.toString()
}

function chosenPathway () {
  return applied.pathway ? pathwayName(`PATHWAY_KIND_${applied.pathway.toUpperCase()}`).toLowerCase() : ''
}

// --- rendering (text only: nothing from the server becomes markup) ----------------------

function keyOf (e) {
  return `${e.childId ?? ''}/${e.instanceId ?? ''}`
}

function riskText (risk) {
  return risk ? words(risk) : 'Not assessed'
}

function deadlineCell (d) {
  // The engine's next deadline is the earliest still to be met: pending, or breached
  // and not met yet (overdue). None: nothing is open.
  if (!d) return el('td', { class: 'govuk-table__cell' }, 'None open')
  const due = dateText(d.due)
  return el('td', { class: 'govuk-table__cell' },
    el('span', { class: 'govuk-!-display-block' }, words(d.name) || 'Deadline'),
    el('span', { class: 'govuk-!-display-block govuk-!-margin-bottom-1' }, due ? `Due ${due}` : 'Due date not set'),
    statusTag(d),
    el('span', { class: 'govuk-body-s govuk-!-display-block govuk-!-margin-top-1 govuk-!-margin-bottom-0' },
      d.rule || 'Statutory rule not named'))
}

function row (e) {
  const reference = e.reference || 'No reference'
  return el('tr', { class: 'govuk-table__row', 'data-entry': keyOf(e), 'data-pathway': e.pathway ?? '' },
    el('th', { scope: 'row', class: 'govuk-table__header' },
      el('a', { class: 'govuk-link', href: `/timeline.html?child=${encodeURIComponent(e.childId ?? '')}` },
        reference)),
    el('td', { class: 'govuk-table__cell' }, pathwayName(e.pathway)),
    el('td', { class: 'govuk-table__cell' }, words(e.state) || 'Not known'),
    el('td', { class: 'govuk-table__cell govuk-table__cell--numeric' }, String(Number(e.weeksWaited ?? 0))),
    deadlineCell(e.nextDeadline),
    el('td', { class: 'govuk-table__cell govuk-table__cell--numeric' }, String(Number(e.breaches ?? 0))),
    el('td', { class: 'govuk-table__cell' }, riskText(e.risk)))
}

function whose () {
  return applied.scope === 'team' ? 'Your team’s' : 'Your service’s'
}

function captionText () {
  const order = applied.sort === 'waited' ? 'longest wait first' : 'next deadline first'
  const only = applied.pathway ? `, ${chosenPathway()} only` : ''
  return `${whose()} ${LIST_WORDS}${only}, ${order} – page ${before.length + 1}`
}

function emptyText () {
  const only = applied.pathway ? ` for ${chosenPathway()}` : ''
  return `There are no ${before.length > 0 ? 'more ' : ''}children on ${whose().toLowerCase()} ${LIST_WORDS}${only}.`
}

function changes (old, rows) {
  let added = 0
  let changed = 0
  for (const [key, text] of rows) {
    if (!old.has(key)) added += 1
    else if (old.get(key) !== text) changed += 1
  }
  const removed = [...old.keys()].filter((key) => !rows.has(key)).length
  const parts = []
  if (added) parts.push(`${added} ${added === 1 ? 'child' : 'children'} added`)
  if (removed) parts.push(`${removed} removed`)
  if (changed) parts.push(`${changed} changed`)
  return parts.join(', ')
}

function render (asked, answer) {
  const entries = answer.entries ?? []
  const text = JSON.stringify(answer)
  const rows = new Map(entries.map((e) => [keyOf(e), JSON.stringify(e)]))
  const same = previous?.query === asked
  if (!same || previous.json !== text) {
    document.getElementById('rows').replaceChildren(...entries.map(row))
    document.getElementById('caption').textContent = captionText()
    const table = document.getElementById('table')
    const empty = document.getElementById('empty')
    table.hidden = entries.length === 0
    empty.hidden = entries.length !== 0
    empty.textContent = emptyText()
    const next = typeof answer.nextCursor === 'string' && CURSOR.test(answer.nextCursor) ? answer.nextCursor : ''
    document.getElementById('next').dataset.cursor = next
    document.getElementById('next-item').hidden = !next
    document.getElementById('previous-item').hidden = before.length === 0
    document.getElementById('pagination').hidden = !next && before.length === 0
    const on = dateText(answer.on)
    document.getElementById('as-of').textContent = on ? `Weeks waited are counted to ${on}, from the dates the partners gave.` : ''
  }
  // A person's own change is shown where the focus goes; a refresh is announced.
  if (focusResults) {
    const shown = entries.length === 0 ? document.getElementById('empty') : document.getElementById('table')
    shown.focus()
  } else if (same && previous.json !== text) {
    const what = changes(previous.rows, rows)
    announce(`The list has been updated${what ? `: ${what}` : ''}.`)
  } else if (sayRefreshed && same) {
    announce('The list has been refreshed: nothing has changed.')
  }
  focusResults = false
  sayRefreshed = false
  previous = { query: asked, json: text, rows }
  show('view', PAGE_NAME)
}

// --- states of the page ---------------------------------------------------------------

function announce (text) {
  announcer.textContent = text
}

function show (name, title) {
  for (const [key, section] of Object.entries(sections)) section.hidden = key !== name
  const heading = document.getElementById('heading')
  if (heading.textContent !== title) heading.textContent = title
  setTitle(title)
}

function setUnavailable (on, { gaveUp = false } = {}) {
  document.getElementById('unavailable-heading').textContent = gaveUp
    ? 'The list is still unavailable: pathway has stopped trying.'
    : 'The list is temporarily unavailable: pathway is trying again.'
  document.getElementById('unavailable-detail').textContent = gaveUp
    ? 'Try again in a few minutes with Refresh.'
    : 'This page will update by itself when it is back. You do not need to reload it.'
  if (on === !unavailable.hidden && !gaveUp) return
  unavailable.hidden = !on
  announce(gaveUp
    ? 'The list is still unavailable: pathway has stopped trying. Try again later with Refresh.'
    : on ? 'The list is temporarily unavailable: trying again.' : 'The list is available again.')
}

function problem (title, detail) {
  form.hidden = true
  document.getElementById('problem-detail').textContent = detail
  show('problem', title)
  polling.stop()
}

// --- asking (app.mjs's poller: once a minute while visible) -----------------------------

async function ask () {
  const asked = query()
  let response
  try {
    response = await request(`/v1/caseload?${asked}`, { timeoutMs: 20000 })
  } catch {
    return unavailableFor(RETRY_MS)
  }
  const answer = await json(response)
  // The controls or the page changed while this was asked: ask again for what is wanted.
  if (asked !== query()) return 0
  if (response.status === 200) {
    tries = 0
    setUnavailable(false)
    render(asked, answer)
  } else if (response.status === 401) {
    polling.stop()
    window.location.assign('/')
  } else if (response.status === 403) {
    setUnavailable(false)
    problem(`You cannot see ${LIST === 'waiting' ? 'waiting lists' : 'caseloads'}`,
      `Your role (${roleName(session?.role)}) cannot see caseloads or waiting lists. Clinicians, caseworkers and team managers can.`)
  } else if (response.status === 429 || response.status >= 500) {
    return unavailableFor(retryAfterMs(response, RETRY_MS))
  } else {
    setUnavailable(false)
    problem('Sorry, there is a problem', answer.detail || answer.title || 'The list could not be shown.')
  }
}

// Unavailable: try again after `ms`, unless it has been MAX_TRIES times in a row.
function unavailableFor (ms) {
  tries += 1
  focusResults = false
  sayRefreshed = false
  if (tries >= MAX_TRIES) {
    setUnavailable(true, { gaveUp: true })
    polling.stop()
    return
  }
  setUnavailable(true)
  return ms
}

const polling = poller(ask, REFRESH_MS)

// A person asked for something: ask now (again, if it had stopped trying).
function askNow () {
  tries = 0
  if (document.body.dataset.poll === 'stopped') polling.restart()
  else polling.now()
}

// --- the controls -----------------------------------------------------------------------

function setUpControls () {
  for (const name of PATHWAY_NAMES) {
    pathwaySelect.append(el('option', { value: name }, pathwayName(`PATHWAY_KIND_${name.toUpperCase()}`)))
  }
  sortSelect.value = page.dataset.sort === 'waited' ? 'waited' : 'next_deadline'
  form.hidden = false
  // Team or service only for a sign-in that names a team (else the API says 400).
  if (session.team) {
    document.getElementById('scope-team-hint').textContent = `Team ${session.team}`
    document.getElementById('scope-service-hint').textContent = `Every team of ${session.agency}`
    document.getElementById('scope-group').hidden = false
  }
  applied = chosen()
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    applied = chosen()
    cursor = ''
    before = []
    focusResults = true
    askNow()
  })
  document.getElementById('refresh').addEventListener('click', () => {
    sayRefreshed = true
    askNow()
  })
  document.getElementById('next').addEventListener('click', (event) => {
    event.preventDefault()
    const next = event.currentTarget.dataset.cursor
    if (!next) return
    before.push(cursor)
    cursor = next
    focusResults = true
    askNow()
  })
  document.getElementById('previous').addEventListener('click', (event) => {
    event.preventDefault()
    if (before.length === 0) return
    cursor = before.pop()
    focusResults = true
    askNow()
  })
}

async function main () {
  session = await requireSession()
  if (!session) return
  setUpControls()
  polling.now()
}

main()
