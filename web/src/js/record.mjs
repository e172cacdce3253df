// "Child's shared record" (record.html?child=<child id>&purpose=<purpose>):
// GET /v1/children/<id>/record?purpose=P, the protobuf JSON of pathway.v1.ChildRecord
// (proto/pathway/v1/views.proto): the facts the caller's agency may see for purpose P,
// each with who gave it, when, until when and why it may be seen (its own, the
// family's consent, or a statutory basis without consent); the facts held back (type
// and reason only: the server never sends their content); and the family's consent
// decisions about the caller's agency.
//
// Consent is given per agency and purpose, so the purpose is chosen here (radios, a
// plain GET form: the purpose goes in the URL; it is a pathway's name, not personal
// data) and nothing is asked until one is chosen. Every view is audited by the
// gateway, so the page asks once per view and never polls. The facts' content is
// personal data: it is only ever set as text in the page, never in a URL, the title or
// a console line. Protobuf's JSON mapping leaves out default values, so every field may
// be absent. 400 query.purpose: an error on the chooser; 403: "you cannot see"; 404:
// not found; 503, 429 or no network: "temporarily unavailable", with a button to try
// again.
import { currentSession, dateText, el, json, request, roleName, setTitle, showErrorSummary, startPage } from './app.mjs'

startPage()

const PAGE = 'Child’s shared record'

// The pathways' purposes: the radios' labels (record.html) and, in sentences, what
// "for ..." says.
export const PURPOSES = {
  neurodevelopmental: { label: 'Neurodevelopmental assessment', phrase: 'a neurodevelopmental assessment' },
  ehc_needs_assessment: { label: 'EHC needs assessment', phrase: 'an EHC needs assessment' },
  annual_review: { label: 'Annual review of the EHC plan', phrase: 'the annual review of the EHC plan' },
  preparing_for_adulthood: { label: 'Preparing for adulthood', phrase: 'preparing for adulthood' }
}

// pathway.v1.FactType (proto/pathway/v1/record.proto) in plain English.
export const FACT_TYPES = {
  FACT_TYPE_IDENTITY: 'Identity',
  FACT_TYPE_CONTACTS: 'Contact details and preferred language',
  FACT_TYPE_COMMUNICATION_NEEDS: 'Communication needs',
  FACT_TYPE_ALL_ABOUT_ME: 'All about me',
  FACT_TYPE_DIAGNOSES: 'Diagnoses',
  FACT_TYPE_NEEDS: 'Needs',
  FACT_TYPE_CURRENT_SETTING: 'Current school or setting',
  FACT_TYPE_PROFESSIONALS: 'Professionals involved',
  FACT_TYPE_EXISTING_ADVICE: 'Advice and reports',
  FACT_TYPE_FAMILY_VIEWS: 'The family’s views, wishes and feelings',
  FACT_TYPE_DEVELOPMENTAL_HISTORY: 'Developmental history',
  FACT_TYPE_SCHOOL_OBSERVATIONS: 'Observations from the school or setting',
  FACT_TYPE_ASPIRATIONS: 'Hopes for adult life',
  FACT_TYPE_COSTED_PROVISION: 'Costed provision map'
}

// pathway.v1.ConsentDecision -> the tag's text and colour.
export const DECISIONS = {
  CONSENT_DECISION_GRANTED: { text: 'Granted', colour: 'govuk-tag--green' },
  CONSENT_DECISION_REFUSED: { text: 'Refused', colour: 'govuk-tag--red' },
  CONSENT_DECISION_WITHDRAWN: { text: 'Withdrawn', colour: 'govuk-tag--grey' }
}
const UNKNOWN_DECISION = { text: 'Not known', colour: 'govuk-tag--grey' }

const ACRONYMS = { nd: 'neurodevelopmental', ehc: 'EHC', send: 'SEND', nhs: 'NHS', upn: 'UPN' }
const PURPOSE_RULE = 'query.purpose'
const CHOOSE_PURPOSE = 'Choose why you need to see the record'

const query = new URLSearchParams(window.location.search)
const childId = query.get('child') ?? ''
const purpose = query.get('purpose') ?? ''

const heading = document.getElementById('heading')
const feedback = document.getElementById('feedback')
const form = document.getElementById('purpose-form')
const group = document.getElementById('purpose-group')
const audited = document.getElementById('audited')
const backLinks = document.getElementById('back-links')
const sections = {
  loading: document.getElementById('loading'),
  view: document.getElementById('view'),
  'cannot-see': document.getElementById('cannot-see'),
  'not-found': document.getElementById('not-found'),
  unavailable: document.getElementById('unavailable'),
  problem: document.getElementById('problem')
}

let session = null

// --- words ----------------------------------------------------------------------------

// "ehc_needs_assessment" -> "EHC needs assessment" (for purposes the radios do not name).
function phrase (snake) {
  return String(snake ?? '').split('_').filter(Boolean).map((w) => ACRONYMS[w] ?? w.toLowerCase()).join(' ')
}

export function purposeLabel (p) {
  if (PURPOSES[p]) return PURPOSES[p].label
  const text = phrase(p)
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function purposePhrase (p) {
  return PURPOSES[p]?.phrase ?? phrase(p)
}

export function factTypeName (type) {
  if (FACT_TYPES[type]) return FACT_TYPES[type]
  const text = phrase(String(type ?? '').replace(/^FACT_TYPE_/, '').toLowerCase())
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : 'Other information'
}

// Why a disclosed fact may be seen: "own", "consent" or "statutory: <legal basis>".
export function disclosedBecause (basis, p) {
  if (basis === 'own') return 'Your organisation gave this'
  if (basis === 'consent') return `The family consented to sharing it with you for ${purposePhrase(p)}`
  const statutory = /^statutory:\s*(.+)$/.exec(basis ?? '')
  if (statutory) return `Shared under ${statutory[1]} without consent`
  return 'Shared with you'
}

// Why a fact is held back: "no_consent" or "disputed".
export function withheldBecause (basis, p) {
  if (basis === 'no_consent') return `The family has not consented to sharing this with you for ${purposePhrase(p)}`
  if (basis === 'disputed') return 'Sources disagree; a caseworker must reconcile it first'
  return 'Not shared with you'
}

function shortId (id) {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id
}

// Protobuf's JSON printer names fields in lowerCamelCase; take snake_case too.
function camel (value) {
  if (Array.isArray(value)) return value.map(camel)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) =>
    [k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()), camel(v)]))
}

// --- rendering (text only: nothing from the server becomes markup) ----------------------

function row (key, value, attributes = {}) {
  return el('div', { class: 'govuk-summary-list__row', ...attributes },
    el('dt', { class: 'govuk-summary-list__key' }, key),
    el('dd', { class: 'govuk-summary-list__value' }, value))
}

// The content as written, a paragraph per line (no inline style may keep line breaks).
function contentText (content) {
  const lines = String(content ?? '').split(/\r?\n/).filter((line) => line.trim() !== '')
  if (lines.length === 0) return 'Nothing recorded'
  return lines.map((line) => el('p', { class: 'govuk-body govuk-!-margin-bottom-1' }, line))
}

function sharedFact (f, index, p, agency) {
  const id = `fact-${index}`
  const given = f.sourceAgency
    ? (f.sourceAgency === agency ? `${f.sourceAgency} (your organisation)` : f.sourceAgency)
    : 'Not recorded'
  return el('div', { class: 'govuk-summary-card', 'data-fact': f.type ?? '', id },
    el('div', { class: 'govuk-summary-card__title-wrapper' },
      el('h3', { class: 'govuk-summary-card__title', id: `${id}-title` }, factTypeName(f.type))),
    el('div', { class: 'govuk-summary-card__content' },
      el('dl', { class: 'govuk-summary-list' },
        row('Information', contentText(f.content), { 'data-row': 'content' }),
        row('Given by', given, { 'data-row': 'given-by' }),
        row('Recorded', dateText(f.recordedOn) || 'Not known', { 'data-row': 'recorded' }),
        row('Valid until', dateText(f.validUntil) || 'Not known', { 'data-row': 'valid-until' }),
        row('Why you can see this', disclosedBecause(f.basis, p), { 'data-row': 'why' }))))
}

function render (r) {
  const p = r.purpose || purpose
  const facts = r.facts ?? []
  const shared = facts.filter((f) => f.disclosed)
  const withheld = facts.filter((f) => !f.disclosed)
  const agency = r.agency || session?.agency || ''

  document.getElementById('summary').replaceChildren(
    row('Child ID', shortId(r.childId || childId)),
    row('Purpose', purposeLabel(p)),
    row('Your organisation', agency || 'Not known'),
    row('Record as of', dateText(r.on) || 'Today'))

  document.getElementById('shared').replaceChildren(...(shared.length === 0
    ? [el('p', { class: 'govuk-body' }, `Nothing in the record is shared with you for ${purposePhrase(p)}.`)]
    : shared.map((f, index) => sharedFact(f, index, p, agency))))

  document.getElementById('withheld').replaceChildren(...(withheld.length === 0
    ? [el('p', { class: 'govuk-body' }, 'Nothing in the record is held back from you.')]
    : [
        el('p', { class: 'govuk-body' }, 'The record holds this information, but you cannot see it for this purpose.'),
        el('dl', { class: 'govuk-summary-list', id: 'withheld-list' }, withheld.map((f) =>
          row(factTypeName(f.type), withheldBecause(f.basis, p), { 'data-fact': f.type ?? '', 'data-basis': f.basis ?? '' })))
      ]))

  const consents = r.consents ?? []
  document.getElementById('consents').replaceChildren(consents.length === 0
    ? el('p', { class: 'govuk-body' }, 'The family has not recorded a consent decision about your organisation.')
    : el('table', { class: 'govuk-table', 'aria-labelledby': 'consents-heading', id: 'consents-table' },
      el('thead', { class: 'govuk-table__head' },
        el('tr', { class: 'govuk-table__row' },
          ['Purpose', 'Decision', 'Date'].map((h) => el('th', { scope: 'col', class: 'govuk-table__header' }, h)))),
      el('tbody', { class: 'govuk-table__body' }, consents.map((c) => {
        const decision = DECISIONS[c.decision] ?? UNKNOWN_DECISION
        return el('tr', { class: 'govuk-table__row', 'data-purpose': c.purpose ?? '' },
          el('th', { scope: 'row', class: 'govuk-table__header' }, purposeLabel(c.purpose) || 'Not known'),
          el('td', { class: 'govuk-table__cell' }, el('strong', { class: `govuk-tag ${decision.colour}` }, decision.text)),
          el('td', { class: 'govuk-table__cell' }, dateText(c.on) || 'Not known'))
      }))))

  show('view', PAGE)
}

// --- states of the page ---------------------------------------------------------------

function show (name, title, { chooser = true } = {}) {
  for (const [key, section] of Object.entries(sections)) section.hidden = key !== name
  form.hidden = !chooser
  audited.hidden = !chooser
  // Back to the timeline only where the child may be seen (the chooser's states).
  backLinks.hidden = !chooser || !form.dataset.ready
  if (heading.textContent !== title) heading.textContent = title
  setTitle(title)
  document.body.dataset.state = name
}

function clearPurposeError () {
  document.getElementById('purpose-error')?.remove()
  group.classList.remove('govuk-form-group--error')
  group.querySelector('fieldset').setAttribute('aria-describedby', 'purpose-hint')
  feedback.replaceChildren()
}

// The error summary on top (focused) and the message on the chooser.
function purposeError (text) {
  clearPurposeError()
  group.classList.add('govuk-form-group--error')
  document.getElementById('purpose-radios').before(el('p', { id: 'purpose-error', class: 'govuk-error-message' },
    el('span', { class: 'govuk-visually-hidden' }, 'Error:'), ` ${text}`))
  group.querySelector('fieldset').setAttribute('aria-describedby', 'purpose-hint purpose-error')
  showErrorSummary(feedback, [{ text, href: '#purpose' }])
  setTitle(PAGE, { error: true })
}

function problem (detail) {
  document.getElementById('problem-detail').textContent = detail
  show('problem', 'Sorry, there is a problem', { chooser: false })
}

async function load () {
  show('loading', PAGE)
  let response
  try {
    response = await request(`/v1/children/${encodeURIComponent(childId)}/record?purpose=${encodeURIComponent(purpose)}`,
      { timeoutMs: 15000 })
  } catch {
    show('unavailable', PAGE)
    return
  }
  const answer = await json(response)
  if (response.status === 200) {
    render(camel(answer))
  } else if (response.status === 401) {
    window.location.assign('/')
  } else if (response.status === 400 && answer.rule === PURPOSE_RULE) {
    show('none', PAGE)
    purposeError(CHOOSE_PURPOSE)
  } else if (response.status === 403 && answer.rule === 'authorisation.role') {
    problem(`A ${session ? roleName(session.role).toLowerCase() : 'person in your role'} cannot see children’s records.`)
  } else if (response.status === 403) {
    show('cannot-see', 'You cannot see this child’s record', { chooser: false })
  } else if (response.status === 404 || response.status === 400) {
    show('not-found', 'Child not found', { chooser: false })
  } else if (response.status === 429 || response.status >= 500) {
    show('unavailable', PAGE)
  } else {
    problem(answer.detail || answer.title || 'The record could not be shown.')
  }
}

async function main () {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(childId)) {
    show('not-found', 'Child not found', { chooser: false })
    return
  }
  session = await currentSession()
  if (!session) {
    window.location.replace('/')
    return
  }
  const timeline = document.getElementById('timeline-link')
  timeline.setAttribute('href', `/timeline.html?child=${encodeURIComponent(childId)}`)
  form.dataset.ready = 'true'
  document.getElementById('child-field').value = childId
  for (const radio of form.querySelectorAll('input[name="purpose"]')) radio.checked = radio.value === purpose

  // A plain GET: the chosen purpose goes in the URL and the page asks again. Only an
  // empty choice is stopped here.
  form.addEventListener('submit', (event) => {
    if (!form.querySelector('input[name="purpose"]:checked')) {
      event.preventDefault()
      purposeError(CHOOSE_PURPOSE)
    }
  })
  document.getElementById('try-again').addEventListener('click', async () => {
    await load()
    heading.setAttribute('tabindex', '-1')
    heading.focus()
  })

  if (purpose === '') {
    show('none', PAGE)
    return
  }
  await load()
}

main()
