// "Dead letters" (deadletters.html[?before=CURSOR]), for the operations role: GET
// /v1/deadletters (docs/gateway.md, "Dead letters"), a page of the messages pathway could
// not process, newest first: when, the reason, where the original was and its size, and
// the dead letter's own place. Never the original's content (the API does not have it).
//
// The page polls every 10 seconds while it is visible (not while document.hidden),
// replaces the table's rows only when the answer changed, and says what changed in a
// polite live region (the rows hold nothing focusable, so the focus stays where it was).
// "Older" links to the next page with the answer's `next` cursor; "Newest" back to the
// first. 403 authorisation.role: "only operations"; 503, 429 or no network:
// "temporarily unavailable", and it keeps trying.
import { currentSession, el, json, poller, request, retryAfterMs, roleName, setTitle, startPage } from './app.mjs'

startPage()

const POLL_MS = 10000
const LIMIT = 50
const CURSOR = /^[0-9]{1,19}-[0-9]{1,10}-[0-9]{1,19}$/

// A cursor that is not one of the API's is ignored: the newest page is shown instead.
const given = new URLSearchParams(window.location.search).get('before') ?? ''
const before = CURSOR.test(given) ? given : ''

const announcer = document.getElementById('announcer')
const unavailable = document.getElementById('unavailable')
const sections = {
  loading: document.getElementById('loading'),
  view: document.getElementById('view'),
  problem: document.getElementById('problem')
}

let previous = null // {json, keys}

const londonTime = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'Europe/London'
})

// An RFC 3339 time as the date and time in London; '' when absent or unreadable.
export function timeText (rfc3339) {
  const time = rfc3339 ? new Date(rfc3339) : null
  return time && !Number.isNaN(time.getTime()) ? londonTime.format(time) : ''
}

function place (partition, offset) {
  return `partition ${Number(partition ?? 0)}, offset ${Number(offset ?? 0)}`
}

export function sizeText (bytes) {
  const n = Number(bytes ?? 0)
  return `${n.toLocaleString('en-GB')} ${n === 1 ? 'byte' : 'bytes'}`
}

function keyOf (d) {
  return `${Number(d.partition ?? 0)}/${Number(d.offset ?? 0)}`
}

// --- rendering (text only: nothing from the server becomes markup) ----------------------

function row (d) {
  const original = d.original ?? {}
  const when = timeText(d.deadLetteredAt)
  return el('tr', { class: 'govuk-table__row', 'data-dead-letter': keyOf(d) },
    el('td', { class: 'govuk-table__cell' },
      when ? el('time', { datetime: d.deadLetteredAt }, when) : 'Not known'),
    el('td', { class: 'govuk-table__cell' }, d.reason || 'No reason given'),
    el('td', { class: 'govuk-table__cell' },
      el('span', { class: 'govuk-!-display-block' }, original.topic || 'Not known'),
      el('span', { class: 'govuk-body-s govuk-!-margin-bottom-0' }, place(original.partition, original.offset))),
    el('td', { class: 'govuk-table__cell govuk-table__cell--numeric' }, sizeText(original.sizeBytes)),
    el('td', { class: 'govuk-table__cell' }, place(d.partition, d.offset)))
}

function announce (text) {
  announcer.textContent = text
}

function render (page) {
  const text = JSON.stringify(page)
  if (previous && previous.json === text) return
  const items = page.items ?? []
  const keys = items.map(keyOf)
  document.getElementById('rows').replaceChildren(...items.map(row))
  document.getElementById('table').hidden = items.length === 0
  const empty = document.getElementById('empty')
  empty.hidden = items.length !== 0
  empty.textContent = before ? 'No older dead letters' : 'No dead letters'
  document.getElementById('caption').textContent = before ? 'Older dead letters, newest first' : 'Newest first'

  // The links keep their elements (and so the focus): only where they go changes.
  const next = typeof page.next === 'string' && CURSOR.test(page.next) ? page.next : ''
  document.getElementById('older').setAttribute('href', next ? `/deadletters.html?before=${encodeURIComponent(next)}` : '/deadletters.html')
  document.getElementById('older-item').hidden = !next
  document.getElementById('newest-item').hidden = !before
  document.getElementById('pagination').hidden = !next && !before

  if (previous) {
    const known = new Set(previous.keys)
    const added = keys.filter((k) => !known.has(k)).length
    announce(added > 0
      ? `${added} new ${added === 1 ? 'dead letter' : 'dead letters'}.`
      : 'The list of dead letters has been updated.')
  }
  previous = { json: text, keys }
  show('view', 'Dead letters')
}

// --- states of the page ---------------------------------------------------------------

function show (name, title) {
  for (const [key, section] of Object.entries(sections)) section.hidden = key !== name
  const heading = document.getElementById('heading')
  if (heading.textContent !== title) heading.textContent = title
  setTitle(title)
}

function setUnavailable (on) {
  if (on === !unavailable.hidden) return
  unavailable.hidden = !on
  announce(on ? 'The dead letters are temporarily unavailable: trying again.' : 'The dead letters are available again.')
}

function stop () {
  polling.stop()
}

function problem (title, detail) {
  document.getElementById('problem-detail').textContent = detail
  show('problem', title)
  stop()
}

// --- polling (app.mjs: every 10 s while the page is visible) -----------------------------

async function ask () {
  let response
  try {
    const query = `limit=${LIMIT}${before ? `&before=${encodeURIComponent(before)}` : ''}`
    response = await request(`/v1/deadletters?${query}`, { timeoutMs: 15000 })
  } catch {
    setUnavailable(true)
    return
  }
  const answer = await json(response)
  if (response.status === 200) {
    setUnavailable(false)
    render(answer)
  } else if (response.status === 401) {
    stop()
    window.location.assign('/')
  } else if (response.status === 403) {
    setUnavailable(false)
    problem('You cannot see dead letters', 'Only the operations team can see dead letters.')
  } else if (response.status === 429 || response.status >= 500) {
    setUnavailable(true)
    return retryAfterMs(response, POLL_MS)
  } else {
    setUnavailable(false)
    problem('Sorry, there is a problem', answer.detail || answer.title || 'The dead letters could not be shown.')
  }
}

const polling = poller(ask, POLL_MS)

async function main () {
  const session = await currentSession()
  if (!session) {
    window.location.replace('/')
    return
  }
  if (session.role !== 'operations') {
    // Said at once; the API would refuse the same (403 authorisation.role).
    problem('You cannot see dead letters', `A ${roleName(session.role).toLowerCase()} cannot see dead letters: only the operations team can.`)
    return
  }
  polling.now()
}

main()
