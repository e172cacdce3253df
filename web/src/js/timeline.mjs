// "Child's timeline" (timeline.html?child=<child id>): GET /v1/children/<id>/timeline,
// the protobuf JSON of pathway.v1.ChildTimeline (proto/pathway/v1/views.proto), shown as
// a summary, one section per pathway (state, reference, start, deadlines with their
// status and statutory rule, steps, data-quality warnings) and the latest events.
//
// Protobuf's JSON mapping leaves out default values (empty strings, false, 0, empty
// lists), so every field may be absent. The page polls every 5 seconds while it is
// visible (not while document.hidden), updates in place only what changed, keeps the
// focus where it was and announces changes through a polite live region. 403
// timeline.not_involved: "you cannot see"; 404: not found; 503 (engine.rebalancing,
// engine.unavailable), 429 or no network: "temporarily unavailable", and it keeps trying.
import {
  currentSession, dateText, el, json, pathwayName, phrase, poller, request, retryAfterMs, roleName, setTitle,
  startPage, statusOf, words
} from './app.mjs'

startPage()

const POLL_MS = 5000
const EVENTS = 20 // the latest entries of the history shown

// Who may record a neurodevelopmental step (docs/gateway.md, "Who may do what").
const RECORDS_ND_STEPS = new Set(['clinician', 'team_manager'])

const childId = new URLSearchParams(window.location.search).get('child') ?? ''
const heading = document.getElementById('heading')
const announcer = document.getElementById('announcer')
const sections = {
  loading: document.getElementById('loading'),
  view: document.getElementById('view'),
  'cannot-see': document.getElementById('cannot-see'),
  'not-found': document.getElementById('not-found'),
  problem: document.getElementById('problem')
}
const unavailable = document.getElementById('unavailable')
const view = sections.view

let session = null
let previous = null // the last timeline shown: {json, sections, facts, historyLength}

// --- words and dates ------------------------------------------------------------------

const londonDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/London' })

// An RFC 3339 time as the date in London, "10 March 2026"; '' when absent or unreadable.
function timeText (rfc3339) {
  const time = rfc3339 ? new Date(rfc3339) : null
  return time && !Number.isNaN(time.getTime()) ? londonDate.format(time) : ''
}

function accessText (basis) {
  if (!basis || basis === 'involved') return 'Your agency is involved with this child'
  const consent = /^consent:\s*(.+)$/.exec(basis)
  if (consent) return `The family’s consent to share with your agency for ${phrase(consent[1])}`
  return basis
}

function shortId (id) {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id
}

// Protobuf's JSON printer names fields in lowerCamelCase; take snake_case too.
export function camel (value) {
  if (Array.isArray(value)) return value.map(camel)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) =>
    [k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()), camel(v)]))
}

// --- rendering (text only: nothing from the server becomes markup) ----------------------

function summaryList (rows, attributes = {}) {
  return el('dl', { class: 'govuk-summary-list', ...attributes }, rows.map(([key, value]) =>
    el('div', { class: 'govuk-summary-list__row' },
      el('dt', { class: 'govuk-summary-list__key' }, key),
      el('dd', { class: 'govuk-summary-list__value' }, value))))
}

function renderSummary (t) {
  const length = Number(t.historyLength ?? 0)
  return summaryList([
    ['Child ID', shortId(t.childId || childId)],
    ['Why you can see this', accessText(t.accessBasis)],
    ['History', `${length} ${length === 1 ? 'entry' : 'entries'}`]
  ], { id: 'summary' })
}

function warningText (text) {
  return el('div', { class: 'govuk-warning-text' },
    el('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true' }, '!'),
    el('strong', { class: 'govuk-warning-text__text' },
      el('span', { class: 'govuk-visually-hidden' }, 'Warning'), text))
}

function dataQualityText (w) {
  if (w.text) return w.text
  const on = dateText(w.on)
  return `${words(w.step)}${on ? ` on ${on}` : ''} was never reported${w.missing ? ` (no ${phrase(w.missing)} message came)` : ''}`
}

function deadlineRow (d) {
  const status = statusOf(d)
  const notes = []
  if (d.metOn) notes.push(`Met on ${dateText(d.metOn)}`)
  if (d.supersededBy) {
    const due = dateText(d.supersededByDue)
    notes.push(`Replaced by ${phrase(d.supersededBy)}${due ? `, due ${due}` : ''}`)
  }
  return el('tr', { class: 'govuk-table__row', 'data-deadline': d.name ?? '' },
    el('th', { scope: 'row', class: 'govuk-table__header' }, words(d.name) || 'Deadline'),
    el('td', { class: 'govuk-table__cell' }, dateText(d.due) || 'Not set'),
    el('td', { class: 'govuk-table__cell' },
      el('strong', { class: `govuk-tag ${status.colour}`.trim() }, status.text),
      notes.map((note) => el('span', { class: 'govuk-body-s govuk-!-display-block govuk-!-margin-top-1 govuk-!-margin-bottom-0' }, note))),
    el('td', { class: 'govuk-table__cell' }, d.rule || 'Not named'))
}

function renderPathway (p, index) {
  const id = `pathway-${index}`
  const deadlines = p.deadlines ?? []
  const steps = p.steps ?? []
  const name = pathwayName(p.pathway)
  return el('section', { class: 'govuk-!-margin-bottom-9', id, 'aria-labelledby': `${id}-heading`, 'data-pathway': p.pathway ?? '' },
    el('h2', { class: 'govuk-heading-m', id: `${id}-heading` }, name),
    summaryList([
      ['State', p.state ? words(p.state) : 'Not known'],
      ['Reference', p.reference || 'None'],
      ['Started', dateText(p.startedOn) || 'Not known']
    ]),
    (p.dataQuality ?? []).map((w) => warningText(dataQualityText(w))),
    el('h3', { class: 'govuk-heading-s', id: `${id}-deadlines` }, 'Deadlines'),
    deadlines.length === 0
      ? el('p', { class: 'govuk-body' }, 'No deadlines have been set.')
      : el('table', { class: 'govuk-table', 'aria-labelledby': `${id}-deadlines` },
        el('thead', { class: 'govuk-table__head' },
          el('tr', { class: 'govuk-table__row' },
            ['Deadline', 'Due', 'Status', 'Statutory rule'].map((h) =>
              el('th', { scope: 'col', class: 'govuk-table__header' }, h)))),
        el('tbody', { class: 'govuk-table__body' }, deadlines.map(deadlineRow))),
    el('h3', { class: 'govuk-heading-s' }, 'Steps'),
    steps.length === 0
      ? el('p', { class: 'govuk-body' }, 'No steps have been recorded.')
      : el('ol', { class: 'govuk-list govuk-list--number', 'data-steps': '' }, steps.map((s) => {
        const on = dateText(s.on)
        return el('li', { 'data-step': s.step ?? '' }, `${words(s.step) || 'Step'}${on ? `, ${on}` : ''}`,
          s.implied ? [' ', el('strong', {}, '(implied – never reported)')] : null)
      })),
    p.pathway === 'PATHWAY_KIND_NEURODEVELOPMENTAL' && RECORDS_ND_STEPS.has(session?.role)
      ? el('p', { class: 'govuk-body' },
        el('a', { class: 'govuk-link', href: '/nd-step.html', id: `${id}-record` }, 'Record a step of this neurodevelopmental assessment'))
      : null)
}

function renderEvents (t) {
  const events = t.events ?? []
  const length = Number(t.historyLength ?? events.length)
  return el('div', { id: 'events' },
    el('h2', { class: 'govuk-heading-m', id: 'events-heading' }, 'Latest events'),
    events.length === 0
      ? el('p', { class: 'govuk-body' }, 'Nothing has been recorded yet.')
      : [
          // The history also holds the commands that decided the case, which are not events:
          // so "of N" would promise entries that are never listed.
          el('p', { class: 'govuk-body' }, `The ${events.length === 1 ? 'latest event' : `latest ${events.length} events`}, newest first. The child’s history has ${length} ${length === 1 ? 'entry' : 'entries'} in all.`),
          el('table', { class: 'govuk-table', 'aria-labelledby': 'events-heading' },
            el('thead', { class: 'govuk-table__head' },
              el('tr', { class: 'govuk-table__row' },
                ['Event', 'Date', 'Agency'].map((h) => el('th', { scope: 'col', class: 'govuk-table__header' }, h)))),
            el('tbody', { class: 'govuk-table__body' }, events.map((e) =>
              el('tr', { class: 'govuk-table__row', 'data-kind': e.kind ?? '' },
                el('td', { class: 'govuk-table__cell' }, words(e.kind) || 'Event'),
                el('td', { class: 'govuk-table__cell' }, timeText(e.recordedAt) || 'Not known'),
                el('td', { class: 'govuk-table__cell' }, e.sourceAgency || 'Not recorded')))))
        ])
}

// What a person would want told when it changes: each pathway's state, each deadline's
// status, and new entries in the history.
function factsOf (t) {
  const facts = new Map()
  ;(t.pathways ?? []).forEach((p, index) => {
    const key = p.instanceId || String(index)
    const name = pathwayName(p.pathway)
    facts.set(`state|${key}`, { value: p.state ?? '', text: `${name}: now ${phrase(p.state) || 'in no state'}` })
    for (const d of p.deadlines ?? []) {
      const status = statusOf(d).text.toLowerCase()
      facts.set(`deadline|${key}|${d.name}`, { value: d.status ?? '', text: `${name}: the ${phrase(d.name)} deadline is now ${status}` })
    }
  })
  return facts
}

function changes (before, after, t) {
  const lines = []
  for (const [key, fact] of after.facts) {
    if (before.facts.get(key)?.value !== fact.value) lines.push(fact.text)
  }
  const added = Number(t.historyLength ?? 0) - before.historyLength
  if (added > 0) lines.push(`${added} new ${added === 1 ? 'entry' : 'entries'} in the history`)
  return lines.length > 0 ? `The timeline has been updated. ${lines.join('. ')}.` : 'The timeline has been updated.'
}

function announce (text) {
  announcer.textContent = text
}

function swap (old, fresh) {
  if (old) old.replaceWith(fresh)
}

function render (t) {
  const text = JSON.stringify(t)
  if (previous && previous.json === text) return
  const parts = {
    summary: JSON.stringify([t.childId, t.accessBasis, t.historyLength]),
    pathways: (t.pathways ?? []).map((p) => JSON.stringify(p)),
    events: JSON.stringify([t.events, t.historyLength])
  }
  // Only the parts whose data changed are replaced; the focus then goes back to the
  // element with the same id (a link re-rendered is the same link to the person on it).
  const focusedId = view.contains(document.activeElement) ? document.activeElement.id : ''
  const container = document.getElementById('pathways')
  if (!previous || previous.parts.summary !== parts.summary) swap(document.getElementById('summary'), renderSummary(t))
  if (!previous || previous.parts.pathways.length !== parts.pathways.length) {
    container.replaceChildren(...(t.pathways ?? []).map(renderPathway))
    if (parts.pathways.length === 0) container.append(el('p', { class: 'govuk-body' }, 'No pathway has started for this child.'))
  } else {
    parts.pathways.forEach((part, index) => {
      if (previous.parts.pathways[index] !== part) swap(document.getElementById(`pathway-${index}`), renderPathway(t.pathways[index], index))
    })
  }
  if (!previous || previous.parts.events !== parts.events) swap(document.getElementById('events'), renderEvents(t))
  if (focusedId && document.activeElement?.id !== focusedId) document.getElementById(focusedId)?.focus({ preventScroll: true })

  const now = { json: text, parts, facts: factsOf(t), historyLength: Number(t.historyLength ?? 0) }
  if (previous) announce(changes(previous, now, t))
  previous = now
  show('view', 'Child’s timeline')
}

// --- states of the page ---------------------------------------------------------------

function show (name, title) {
  for (const [key, section] of Object.entries(sections)) section.hidden = key !== name
  if (heading.textContent !== title) heading.textContent = title
  setTitle(title)
}

function setUnavailable (on) {
  if (on === !unavailable.hidden) return
  unavailable.hidden = !on
  announce(on ? 'The timeline is temporarily unavailable: trying again.' : 'The timeline is available again.')
}

function stop () {
  polling.stop()
}

function problem (detail) {
  document.getElementById('problem-detail').textContent = detail
  show('problem', 'Sorry, there is a problem')
  stop()
}

// --- polling (app.mjs: every 5 s while the page is visible) ------------------------------

async function ask () {
  let response
  try {
    response = await request(`/v1/children/${encodeURIComponent(childId)}/timeline?events=${EVENTS}`, { timeoutMs: 15000 })
  } catch {
    setUnavailable(true)
    return
  }
  const answer = await json(response)
  if (response.status === 200) {
    setUnavailable(false)
    render(camel(answer))
  } else if (response.status === 401) {
    stop()
    window.location.assign('/')
  } else if (response.status === 403 && answer.rule === 'authorisation.role') {
    problem(`A ${session ? roleName(session.role).toLowerCase() : 'person in your role'} cannot see children’s timelines.`)
  } else if (response.status === 403) {
    setUnavailable(false)
    show('cannot-see', 'You cannot see this child’s timeline')
    stop()
  } else if (response.status === 404 || response.status === 400) {
    setUnavailable(false)
    show('not-found', 'Child not found')
    stop()
  } else if (response.status === 429 || response.status >= 500) {
    setUnavailable(true)
    return retryAfterMs(response, POLL_MS)
  } else {
    setUnavailable(false)
    problem(answer.detail || answer.title || 'The timeline could not be shown.')
  }
}

const polling = poller(ask, POLL_MS)

async function main () {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(childId)) {
    show('not-found', 'Child not found')
    stop()
    return
  }
  session = await currentSession()
  if (!session) {
    window.location.replace('/')
    return
  }
  // The shared record of the same child, for the purpose of the pathway this page is about.
  document.getElementById('record-link').setAttribute('href',
    `/record.html?child=${encodeURIComponent(childId)}&purpose=neurodevelopmental`)
  polling.now()
}

main()
