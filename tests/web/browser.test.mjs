// The web app as a clinician uses it, in Debian's chromium (headless) driven by
// playwright-core, against a running devbroker + engine + gateway that
// tests/web/browser_test.sh starts (it also publishes the children's referrals). axe-core
// checks every page and state against WCAG 2.2 AA; keyboard-only passes record a step
// and find a child without the mouse. Run with node's test runner; the tests run in
// order and share one browser. Every wait is bounded (Playwright's timeouts, the tests'
// own); nothing sleeps: a wait is for a condition (an element, a request, an answer).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const base = process.env.PATHWAY_BASE_URL
const nhs = process.env.PATHWAY_NHS_NUMBER
const referralId = process.env.PATHWAY_REFERRAL_ID
const artifacts = process.env.PATHWAY_ARTIFACTS
const webDir = process.env.PATHWAY_WEB_DIR
// The timeline's children: one whose first appointment is still to come, one whose
// outcome came without it (implied), an NHS number nobody referred, and a clinician of
// an agency involved with none of them.
const timelineNhs = process.env.PATHWAY_TIMELINE_NHS_NUMBER
const timelineReferralId = process.env.PATHWAY_TIMELINE_REFERRAL_ID
const impliedNhs = process.env.PATHWAY_IMPLIED_NHS_NUMBER
const unknownNhs = process.env.PATHWAY_UNKNOWN_NHS_NUMBER
const otherAgencyTokenFile = process.env.PATHWAY_OTHER_AGENCY_TOKEN_FILE
// The EHC forms' child: referred by a GP, nothing else recorded.
const ehcNhs = process.env.PATHWAY_EHC_NHS_NUMBER
// Dead letters: pathwayctl publishes undecodable messages onto the broker's
// pathway.inbound.v1 (browser_test.sh has published one already).
const pathwayctl = process.env.PATHWAY_CTL
const bootstrap = process.env.PATHWAY_BOOTSTRAP
// Caseloads: a clinician of agency RCL01, team nd-north, and the NHS numbers of the
// children browser_test.sh referred for RCL01 (see there).
const caseloadTokenFile = process.env.PATHWAY_CASELOAD_TOKEN_FILE
const caseloadNhs = process.env.PATHWAY_CASELOAD_NHS_NUMBERS
const caseloadCDue = process.env.PATHWAY_CASELOAD_C_DUE
const caseloadEDue = process.env.PATHWAY_CASELOAD_E_DUE
for (const [name, value] of Object.entries({
  base, nhs, referralId, artifacts, webDir, timelineNhs, timelineReferralId, impliedNhs, unknownNhs, otherAgencyTokenFile,
  ehcNhs, pathwayctl, bootstrap, caseloadTokenFile, caseloadNhs, caseloadCDue, caseloadEDue
})) {
  if (!value) throw new Error(`${name} is not set: run tests/web/browser_test.sh`)
}
const nhsNumbers = [nhs, '9434765910', timelineNhs, impliedNhs, unknownNhs, ehcNhs, ...caseloadNhs.split(' ')]

// playwright-core and axe-core are web/'s (pinned in its package-lock.json).
const require = createRequire(join(webDir, 'package.json'))
const { chromium } = require('playwright-core')
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
const TIMEOUT = { timeout: 60_000 }

let browser
let context
let page
const problems = [] // CSP violations, script errors
const urls = [] // every URL any page asked for or went to
const consoleLines = [] // every console message of any page
let shot = 0

// The API's expected refusals (not signed in, a mistake in a form; for the children's
// routes: not found, not permitted, unavailable) are no problem; a CSP violation, a
// missing file or a script error is.
function watch (p) {
  p.on('console', (message) => {
    consoleLines.push(message.text())
    const status = /^Failed to load resource: the server responded with a status of ([0-9]{3}) /.exec(message.text())?.[1]
    const path = new URL(message.location()?.url || base, base).pathname
    const children = path.startsWith('/v1/children/') || path === '/v1/caseload'
    const expected = status === '401' || status === '422' ||
      (children && ['403', '404', '429', '503'].includes(status))
    if (message.type() === 'error' && !expected) problems.push(`console: ${message.text()}`)
  })
  p.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  p.on('request', (request) => urls.push(request.url()))
  p.on('framenavigated', (frame) => urls.push(frame.url()))
  return p
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.PATHWAY_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-dev-shm-usage']
  })
  context = await browser.newContext({ viewport: { width: 1024, height: 900 }, locale: 'en-GB' })
  context.setDefaultTimeout(15_000)
  context.setDefaultNavigationTimeout(15_000)
  page = watch(await context.newPage())
})

after(async () => {
  await browser?.close()
})

// axe-core in the page (evaluated through the DevTools protocol, so the page's CSP,
// which would refuse an injected script, stays as the gateway sent it).
async function expectAccessible (state, on = page) {
  if (!(await on.evaluate(() => typeof window.axe !== 'undefined'))) await on.evaluate(axeSource)
  const results = await on.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG)
  const violations = results.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  assert.deepEqual(violations, [], `axe-core found WCAG 2.2 AA violations on ${state}`)
}

async function screenshot (name, on = page) {
  shot += 1
  await on.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true })
}

async function fillDate (prefix, day, month, year) {
  await page.fill(`#${prefix}-date-day`, day)
  await page.fill(`#${prefix}-date-month`, month)
  await page.fill(`#${prefix}-date-year`, year)
}

async function expectNoPersonalDataInTitleOrUrl (on = page) {
  const title = await on.title()
  for (const typed of [...nhsNumbers, referralId, timelineReferralId]) {
    assert.ok(!title.includes(typed), `the title holds what was typed: ${title}`)
  }
  for (const url of urls) {
    const squeezed = url.replace(/%20|\+|\s/g, '')
    for (const number of nhsNumbers) assert.ok(!squeezed.includes(number), `an NHS number in a URL: ${url}`)
  }
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December']
const DATE = /^[0-9]{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) [0-9]{4}$/
const RECORD_STEP = 'Record a step of this neurodevelopmental assessment'
const NOT_FOUND = 'No child with this NHS number is known to your service'
let timelineChildId = null // the child id the search answered (a pseudonym: allowed in URLs)

function utcDateText (d) {
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`
}

// A JavaScript date's UTC day as a pathway.v1.Date.
function protoDate (d) {
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }
}

function spaced (number) {
  return `${number.slice(0, 3)} ${number.slice(3, 6)} ${number.slice(6)}`
}

function timelineUrl (childId) {
  return `${base}/timeline.html?child=${encodeURIComponent(childId)}`
}

function searches () {
  return urls.filter((url) => url === `${base}/v1/children/search`).length
}

async function findChild (on, typed) {
  await on.fill('#nhs-number', typed)
  await on.getByRole('button', { name: 'Find child' }).click()
}

// The error summary (focused, one link to the field) and the field's own message.
async function expectFindError (on, text) {
  const summary = on.locator('.govuk-error-summary')
  await summary.getByRole('link', { name: text }).waitFor()
  const links = await summary.locator('a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]))
  assert.deepEqual(links, [[text, '#nhs-number']])
  assert.equal(await on.evaluate(() => document.activeElement?.classList.contains('govuk-error-summary')), true,
    'the error summary is not focused')
  assert.equal((await on.locator('#nhs-number-error').innerText()).replace(/\s+/g, ' ').trim(), `Error: ${text}`)
  assert.equal(await on.locator('#nhs-number-group.govuk-form-group--error #nhs-number.govuk-input--error').count(), 1)
  assert.equal(await on.getAttribute('#nhs-number', 'aria-describedby'), 'nhs-number-hint nhs-number-error')
  assert.equal(await on.title(), 'Error: Find a child – pathway')
}

function ndSection (on) {
  return on.locator('section[data-pathway="PATHWAY_KIND_NEURODEVELOPMENTAL"]')
}

function deadlineRow (on, name) {
  return ndSection(on).locator(`tr[data-deadline="${name}"]`)
}

async function cellTexts (row) {
  return row.locator('th, td').evaluateAll((cells) => cells.map((c) => c.innerText.replace(/\s+/g, ' ').trim()))
}

async function summaryValue (within, key) {
  return (await within.locator('.govuk-summary-list__row', { has: within.page().locator('dt', { hasText: key }) })
    .first().locator('dd').innerText()).trim()
}

// Tab until `wanted` has the focus, checking at every stop that the focus is visible.
async function tabUntil (on, wanted, max = 40) {
  const stops = []
  for (let i = 0; i < max; i++) {
    await on.keyboard.press('Tab')
    const focus = await on.evaluate(() => {
      const e = document.activeElement
      const style = getComputedStyle(e)
      // A GOV.UK radio or checkbox shows its focus on its label's box (::before).
      const box = e.matches('input[type="radio"], input[type="checkbox"]') && e.labels?.[0]
        ? getComputedStyle(e.labels[0], '::before')
        : null
      return {
        id: e.id,
        text: e === document.body ? '(the page)' : e.textContent.trim().slice(0, 80),
        visible: style.outlineStyle !== 'none' || style.boxShadow !== 'none' || style.backgroundColor === 'rgb(255, 221, 0)' ||
          (box !== null && box.boxShadow !== 'none')
      }
    })
    stops.push(focus.id || focus.text)
    assert.ok(focus.visible, `no visible focus on ${focus.id || focus.text}`)
    if (wanted(focus)) return stops
  }
  assert.fail(`never reached the element wanted: ${stops.join(' > ')}`)
}

// A context of its own (its own cookies), signed in through the API as `how` says.
async function signedInContext (how) {
  const other = await browser.newContext({ viewport: { width: 1024, height: 900 }, locale: 'en-GB' })
  other.setDefaultTimeout(15_000)
  other.setDefaultNavigationTimeout(15_000)
  const answer = how.role
    ? await other.request.post(`${base}/dev/sign-in`, { data: { role: how.role } })
    : await other.request.post(`${base}/v1/session`, { headers: { Authorization: `Bearer ${how.token}` } })
  assert.equal(answer.status(), 200, `sign-in: ${await answer.text()}`)
  return { other, session: await answer.json() }
}

test('the sign-in page offers the development sign-ins', TIMEOUT, async () => {
  const response = await page.goto(`${base}/`)
  assert.equal(response.status(), 200)
  assert.match(response.headers()['content-security-policy'], /default-src 'self'/)
  assert.equal(await page.getAttribute('html', 'lang'), 'en-GB')
  assert.equal(await page.title(), 'Sign in – pathway')
  await page.getByRole('button', { name: 'Sign in as clinician (staff-clin-1)' }).waitFor()
  assert.equal(await page.locator('.govuk-generic-header').innerText(), 'pathway')
  assert.match(await page.locator('.govuk-phase-banner').innerText(), /Development/)
  await expectAccessible('the sign-in page')
  await screenshot('sign-in')
})

test('a clinician signs in with the button and sees who is signed in', TIMEOUT, async () => {
  await page.getByRole('button', { name: 'Sign in as clinician (staff-clin-1)' }).click()
  await page.waitForURL(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  const who = await page.locator('#who').innerText()
  for (const expected of ['staff-clin-1', 'Clinician', 'RXX01', 'nd-team']) {
    assert.ok(who.includes(expected), `start page lacks ${expected}: ${who}`)
  }
  const cookies = await context.cookies()
  const session = cookies.find((c) => c.name === 'pathway_session')
  assert.ok(session, 'no session cookie')
  assert.equal(session.httpOnly, true)
  assert.equal(session.sameSite, 'Strict')
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts can read the session cookie')
  await expectAccessible('the start page')
  await screenshot('start')
})

test('the start page offers "Find a child" to a clinician, not to operations', TIMEOUT, async () => {
  const link = page.getByRole('link', { name: 'Find a child' })
  assert.equal(await link.isVisible(), true)
  assert.equal(await link.getAttribute('href'), '/find.html')
  const { other } = await signedInContext({ role: 'operations' })
  try {
    const ops = watch(await other.newPage())
    await ops.goto(`${base}/start.html`)
    await ops.locator('#signed-in').waitFor()
    assert.match(await ops.locator('#who').innerText(), /Operations/)
    assert.equal(await ops.getByRole('link', { name: 'Find a child' }).count(), 0, 'operations do not read timelines')
    assert.equal(await ops.getByRole('link', { name: 'Record a neurodevelopmental assessment step' }).count(), 1)
  } finally {
    await other.close()
  }
})

test('records a first appointment attended and sees the success panel', TIMEOUT, async () => {
  await page.getByRole('link', { name: 'Record a neurodevelopmental assessment step' }).click()
  await page.waitForURL(`${base}/nd-step.html`)
  await page.locator('#forms').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Record a neurodevelopmental assessment step')
  await expectAccessible('the form page')
  await screenshot('nd-step-form')

  await page.fill('#fa-nhs-number', nhs)
  await page.fill('#fa-referral-id', referralId)
  await fillDate('fa', '8', '4', '2025')
  await page.getByRole('button', { name: 'Record first appointment' }).click()
  const panel = page.locator('#success-panel')
  await panel.waitFor({ timeout: 30_000 })
  assert.equal(await panel.locator('.govuk-panel__title').innerText(), 'First appointment recorded')
  assert.match(await panel.innerText(), new RegExp(referralId))
  assert.match(await page.locator('#recorded').innerText(), /First appointment attended on 8 April 2025/,
    "the engine's events are not shown")
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'success-panel')
  assert.equal(await page.inputValue('#fa-nhs-number'), '', 'the form is not cleared for the next child')
  await expectNoPersonalDataInTitleOrUrl()
  await expectAccessible('the success panel')
  await screenshot('nd-step-recorded')
})

test('an invalid NHS number and a missing date: error summary and field errors', TIMEOUT, async () => {
  await page.fill('#fa-nhs-number', '9434765910') // wrong check digit
  await page.fill('#fa-referral-id', referralId)
  await page.getByRole('button', { name: 'Record first appointment' }).click()
  const summary = page.locator('.govuk-error-summary')
  await summary.waitFor()
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('govuk-error-summary')), true,
    'the error summary is not focused')
  const links = await summary.locator('a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]))
  assert.deepEqual(links, [
    ['Enter a valid NHS number', '#fa-nhs-number'],
    ['Enter the date the first appointment was attended', '#fa-date-day']
  ])
  assert.match(await page.locator('#fa-nhs-number-group-error').innerText(), /Enter a valid NHS number/)
  assert.match(await page.locator('#fa-date-group-error').innerText(), /Enter the date the first appointment was attended/)
  assert.match(await page.getAttribute('#fa-nhs-number', 'aria-describedby'), /fa-nhs-number-group-error/)
  assert.match(await page.getAttribute('#fa-date-group fieldset', 'aria-describedby'), /fa-date-group-error/)
  assert.equal(await page.title(), 'Error: Record a neurodevelopmental assessment step – pathway')
  await expectNoPersonalDataInTitleOrUrl()
  await expectAccessible('the error summary')
  await screenshot('nd-step-errors')
  // The summary's link takes the focus to the field.
  await summary.getByRole('link', { name: 'Enter a valid NHS number' }).click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'fa-nhs-number')
})

test("the engine's rejection is shown beside the field it names", TIMEOUT, async () => {
  await page.fill('#fa-nhs-number', nhs)
  await page.fill('#fa-referral-id', 'ND-NO-SUCH-REFERRAL')
  await fillDate('fa', '8', '4', '2025')
  await page.getByRole('button', { name: 'Record first appointment' }).click()
  const summary = page.locator('.govuk-error-summary')
  await summary.locator('a[href="#fa-referral-id"]').waitFor({ timeout: 30_000 })
  assert.match(await page.locator('#fa-referral-id-group-error').innerText(),
    /no neurodevelopmental referral with this referral ID/)
  assert.equal(await page.locator('#fa-nhs-number-group-error').count(), 0, 'an earlier error stayed')
  assert.equal(await page.locator('#fa-date-group-error').count(), 0, 'an earlier error stayed')
  await expectAccessible("the engine's rejection")
  await screenshot('nd-step-engine-rejection')
})

test('keyboard only: Tab through the outcome form, choose with Space, submit with Enter', TIMEOUT, async () => {
  await page.goto(`${base}/nd-step.html`)
  await page.locator('#forms').waitFor()
  // Every stop of the Tab order until the outcome form's NHS number, each with a visible focus.
  const stops = []
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab')
    const focus = await page.evaluate(() => {
      const e = document.activeElement
      const style = getComputedStyle(e)
      return {
        id: e.id || e.textContent.trim().slice(0, 40),
        visible: style.outlineStyle !== 'none' || style.boxShadow !== 'none' || style.backgroundColor === 'rgb(255, 221, 0)'
      }
    })
    stops.push(focus.id)
    assert.ok(focus.visible, `no visible focus on ${focus.id}`)
    if (focus.id === 'oc-nhs-number') break
  }
  assert.equal(stops[0], 'Skip to main content')
  assert.equal(stops.at(-1), 'oc-nhs-number', `never reached the outcome form: ${stops.join(' > ')}`)
  for (const id of ['fa-nhs-number', 'fa-referral-id', 'fa-date-day', 'fa-date-month', 'fa-date-year']) {
    assert.ok(stops.includes(id), `${id} is not in the Tab order: ${stops.join(' > ')}`)
  }
  await page.keyboard.type(nhs)
  await page.keyboard.press('Tab')
  await page.keyboard.type(referralId)
  await page.keyboard.press('Tab') // the radios: one Tab stop
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'oc-outcome')
  await page.keyboard.press('Space')
  assert.equal(await page.isChecked('#oc-outcome'), true)
  await page.keyboard.press('Tab')
  await page.keyboard.type('16')
  await page.keyboard.press('Tab')
  await page.keyboard.type('6')
  await page.keyboard.press('Tab')
  await page.keyboard.type('2025')
  await page.keyboard.press('Enter')
  const panel = page.locator('#success-panel')
  await panel.waitFor({ timeout: 30_000 })
  assert.equal(await panel.locator('.govuk-panel__title').innerText(), 'Outcome recorded')
  assert.match(await page.locator('#recorded').innerText(), /Outcome recorded on 16 June 2025: .* to Diagnosed/)
  await expectAccessible('the outcome recorded by keyboard')
  await screenshot('nd-step-keyboard-outcome')
})

test('find a child: nothing typed, an invalid NHS number, one nobody referred', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  await page.getByRole('link', { name: 'Find a child' }).click()
  await page.waitForURL(`${base}/find.html`)
  await page.locator('#find').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Find a child')
  assert.equal(await page.title(), 'Find a child – pathway')
  assert.equal(await page.getAttribute('#find', 'method'), 'post', 'a plain submission would put the number in a URL')
  await expectAccessible('the find page')
  await screenshot('find')

  const searchesBefore = searches()
  await page.getByRole('button', { name: 'Find child' }).click()
  await expectFindError(page, 'Enter the child’s NHS number')
  await findChild(page, '943 476 5910') // wrong check digit
  await expectFindError(page, 'Enter a valid 10 digit NHS number')
  await expectAccessible('the find page with an error')
  await screenshot('find-invalid')
  await findChild(page, '12345')
  await expectFindError(page, 'Enter a valid 10 digit NHS number')
  assert.equal(searches(), searchesBefore, 'an invalid NHS number was sent')
  // The summary's link takes the focus to the field.
  await page.locator('.govuk-error-summary').getByRole('link').click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'nhs-number')

  // A valid number nobody referred: sent in the body (spaces stripped) with the CSRF token.
  const [search] = await Promise.all([
    page.waitForRequest((r) => r.url() === `${base}/v1/children/search`),
    findChild(page, spaced(unknownNhs))
  ])
  assert.equal(search.method(), 'POST')
  assert.match(search.headers()['x-csrf-token'] ?? '', /^[0-9a-f]{64}$/)
  assert.deepEqual(search.postDataJSON(), { nhs_number: unknownNhs })
  await expectFindError(page, NOT_FOUND)
  assert.equal(new URL(page.url()).pathname, '/find.html')
  await expectNoPersonalDataInTitleOrUrl()
  await expectAccessible('a child not found')
  await screenshot('find-not-found')
})

test("find a child: another problem shows its detail; a session that ended goes to sign-in", TIMEOUT, async () => {
  const route = '**/v1/children/search'
  await page.route(route, (r) => r.fulfill({
    status: 429,
    headers: { 'Retry-After': '30' },
    contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'about:blank', title: 'Too many requests', status: 429, detail: 'Too many requests: try again in 30 seconds', rule: 'rate_limit.exceeded' })
  }))
  try {
    await findChild(page, timelineNhs)
    const summary = page.locator('.govuk-error-summary')
    await summary.getByText('Too many requests: try again in 30 seconds').waitFor()
    assert.equal(await page.locator('#nhs-number-error').count(), 0, 'not a mistake in the field')
    await page.unroute(route)
    await page.route(route, (r) => r.fulfill({
      status: 401,
      contentType: 'application/problem+json',
      body: JSON.stringify({ title: 'Unauthorized', status: 401, rule: 'authentication.missing', detail: 'sign in' })
    }))
    const toSignIn = page.waitForRequest((r) => r.url() === `${base}/` && r.isNavigationRequest())
    await findChild(page, timelineNhs)
    await toSignIn
  } finally {
    await page.unroute(route)
  }
  // Still signed in here, so the sign-in page sends the clinician on.
  await page.waitForURL(`${base}/start.html`)
})

test("finds the child and sees the first appointment's deadline pending, with its rule", TIMEOUT, async () => {
  await page.goto(`${base}/find.html`)
  await page.locator('#find').waitFor()
  await findChild(page, spaced(timelineNhs))
  await page.waitForURL(/\/timeline\.html\?child=[0-9A-Za-z]+$/)
  timelineChildId = new URL(page.url()).searchParams.get('child')
  await page.locator('#view').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Child’s timeline')
  assert.equal(await page.title(), 'Child’s timeline – pathway')
  const summary = page.locator('#summary')
  assert.equal(await summaryValue(summary, 'Child ID'), `${timelineChildId.slice(0, 8)}…`)
  assert.equal(await summaryValue(summary, 'Why you can see this'), 'Your agency is involved with this child')
  assert.match(await summaryValue(summary, 'History'), /^[0-9]+ entr(y|ies)$/)

  const nd = ndSection(page)
  assert.equal(await nd.count(), 1, 'no neurodevelopmental pathway')
  assert.equal(await nd.locator('h2').innerText(), 'Neurodevelopmental assessment')
  assert.equal(await summaryValue(nd, 'State'), 'Waiting')
  assert.equal(await summaryValue(nd, 'Reference'), timelineReferralId)
  assert.match(await summaryValue(nd, 'Started'), DATE)
  assert.deepEqual(await nd.locator('thead th').allInnerTexts(), ['Deadline', 'Due', 'Status', 'Statutory rule'])
  const [name, due, status, rule] = await cellTexts(deadlineRow(page, 'first_appointment'))
  assert.equal(name, 'First appointment')
  assert.match(due, DATE)
  assert.equal(status, 'Pending')
  assert.match(rule, /^NICE QS51 statement 1/)
  const tag = deadlineRow(page, 'first_appointment').locator('.govuk-tag')
  assert.equal(await tag.getAttribute('class'), 'govuk-tag', 'pending is GOV.UK’s blue tag')
  assert.match(await nd.locator('li[data-step="referral_accepted"]').innerText(), /^Referral accepted, [0-9]{1,2} [A-Z][a-z]+ [0-9]{4}$/)
  assert.equal(await nd.getByText('implied – never reported').count(), 0)
  assert.equal(await nd.getByRole('link', { name: RECORD_STEP }).getAttribute('href'), '/nd-step.html')

  const events = page.locator('#events tbody tr')
  assert.ok(await events.count() > 0, 'no events')
  for (const [kind, date, agency] of await events.evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim())))) {
    assert.doesNotMatch(kind, /_/, `an event kind not in words: ${kind}`)
    assert.match(date, DATE)
    assert.ok(agency.length > 0)
  }
  await expectNoPersonalDataInTitleOrUrl()
  await expectAccessible('the timeline')
  await screenshot('timeline-pending')
})

test('records the first appointment in another tab: the timeline turns MET by itself, no reload', TIMEOUT, async () => {
  const link = ndSection(page).getByRole('link', { name: RECORD_STEP })
  await page.evaluate(() => { window.notReloaded = true })
  await link.focus()
  const focused = await page.evaluate(() => document.activeElement.id)
  assert.match(focused, /^pathway-[0-9]+-record$/)

  const attended = new Date(Date.now() - 2 * 86_400_000)
  const form = watch(await context.newPage())
  await form.goto(new URL(await link.getAttribute('href'), base).href)
  await form.locator('#forms').waitFor()
  await form.fill('#fa-nhs-number', timelineNhs)
  await form.fill('#fa-referral-id', timelineReferralId)
  await form.fill('#fa-date-day', String(attended.getUTCDate()))
  await form.fill('#fa-date-month', String(attended.getUTCMonth() + 1))
  await form.fill('#fa-date-year', String(attended.getUTCFullYear()))
  await form.getByRole('button', { name: 'Record first appointment' }).click()
  await form.locator('#success-panel').waitFor({ timeout: 30_000 })
  assert.equal(await form.locator('#success-panel .govuk-panel__title').innerText(), 'First appointment recorded')
  await form.close()

  // The timeline polls (every 5 s): a bounded wait for the tag, never a reload.
  await page.bringToFront()
  const row = deadlineRow(page, 'first_appointment')
  await row.locator('.govuk-tag', { hasText: /^Met$/ }).waitFor({ timeout: 30_000 })
  assert.equal(await row.locator('.govuk-tag').getAttribute('class'), 'govuk-tag govuk-tag--green')
  assert.match((await cellTexts(row))[2], new RegExp(`^Met Met on ${utcDateText(attended)}$`))
  assert.equal(await summaryValue(ndSection(page), 'State'), 'Assessing')
  assert.match(await ndSection(page).locator('li[data-step="first_appointment_attended"]').innerText(),
    new RegExp(`^First appointment attended, ${utcDateText(attended)}$`))
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was reloaded')
  assert.match(await page.locator('#announcer').innerText(), /the first appointment deadline is now met/)
  assert.equal(await page.getAttribute('#announcer', 'aria-live'), 'polite')
  assert.equal(await page.evaluate(() => document.activeElement.id), focused, 'the update moved the focus')
  await expectAccessible('the timeline updated in place')
  await screenshot('timeline-met')
})

test('the timeline says when it is temporarily unavailable, keeps trying and recovers', TIMEOUT, async () => {
  const route = '**/v1/children/*/timeline*'
  let refused = 0
  await page.route(route, (r) => {
    refused += 1
    return r.fulfill({
      status: 503,
      headers: { 'Retry-After': '1' },
      contentType: 'application/problem+json',
      body: JSON.stringify({ title: 'Service unavailable', status: 503, rule: 'engine.rebalancing', detail: 'the engines are rebalancing' })
    })
  })
  try {
    await page.goto(timelineUrl(timelineChildId))
    await page.locator('#unavailable').waitFor()
    assert.match(await page.locator('#unavailable').innerText(), /temporarily unavailable: pathway is trying again/)
    assert.match(await page.locator('#announcer').innerText(), /temporarily unavailable: trying again/)
    assert.equal(await page.locator('#view').isVisible(), false)
    await expectAccessible('the timeline unavailable')
    await screenshot('timeline-unavailable')
    // It keeps asking (Retry-After: 1 s), and is refused again.
    const first = refused
    await page.waitForResponse((r) => r.url().includes('/timeline') && r.status() === 503, { timeout: 15_000 })
    assert.ok(refused > first)
  } finally {
    await page.unroute(route)
  }
  await page.locator('#view').waitFor({ timeout: 20_000 })
  assert.equal(await page.locator('#unavailable').isVisible(), false)
  assert.equal(await deadlineRow(page, 'first_appointment').locator('.govuk-tag').innerText(), 'Met')
  assert.match(await page.locator('#announcer').innerText(), /available again/)
})

test('the timeline stops polling while the page is hidden and polls every 5 s when it is not', TIMEOUT, async () => {
  const { other } = await signedInContext({ role: 'clinician' })
  try {
    await other.clock.install() // timers that move only when told: no waiting for real seconds
    const p = watch(await other.newPage())
    let polls = 0
    p.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('/timeline')) polls += 1 })
    await p.goto(timelineUrl(timelineChildId))
    await p.locator('#view').waitFor()
    await p.locator('body[data-poll="waiting"]').waitFor()
    const visibility = (hidden) => p.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)

    await visibility(true)
    await p.locator('body[data-poll="paused"]').waitFor()
    const before = polls
    await other.clock.fastForward(60_000)
    assert.equal(await p.evaluate(() => document.body.dataset.poll), 'paused', 'it polled while hidden')
    assert.equal(polls, before)

    // Visible again: at once, then 5 s later.
    const now = p.waitForResponse((r) => r.url().includes('/timeline'))
    await visibility(false)
    await now
    await p.locator('body[data-poll="waiting"]').waitFor()
    const later = p.waitForResponse((r) => r.url().includes('/timeline'))
    await other.clock.fastForward(5_000)
    assert.equal((await later).status(), 200)
  } finally {
    await other.close()
  }
})

test('keyboard only: find a child with Tab and Enter', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  const toLink = await tabUntil(page, (focus) => focus.text === 'Find a child')
  assert.equal(toLink[0], 'Skip to main content')
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/find.html`)
  await page.locator('#find').waitFor()
  await tabUntil(page, (focus) => focus.id === 'nhs-number')
  await page.keyboard.type(spaced(timelineNhs))
  await page.keyboard.press('Enter')
  await page.waitForURL(timelineUrl(timelineChildId))
  await deadlineRow(page, 'first_appointment').locator('.govuk-tag', { hasText: /^Met$/ }).waitFor()
  // And on, by keyboard, to record the next step.
  await tabUntil(page, (focus) => focus.text === RECORD_STEP, 60)
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/nd-step.html`)
  await screenshot('keyboard-find')
})

test('an implied step is marked and its data-quality warning shown', TIMEOUT, async () => {
  await page.goto(`${base}/find.html`)
  await page.locator('#find').waitFor()
  await findChild(page, impliedNhs)
  await page.waitForURL(/\/timeline\.html\?child=[0-9A-Za-z]+$/)
  await page.locator('#view').waitFor()
  const nd = ndSection(page)
  assert.equal(await summaryValue(nd, 'State'), 'Diagnosed')
  assert.match(await nd.locator('li[data-step="first_appointment_attended"]').innerText(),
    /^First appointment attended, [0-9]{1,2} [A-Z][a-z]+ [0-9]{4} \(implied – never reported\)$/)
  assert.doesNotMatch(await nd.locator('li[data-step="outcome_recorded"]').innerText(), /implied/)
  const warnings = nd.locator('.govuk-warning-text')
  assert.ok(await warnings.count() >= 1, 'no data-quality warning')
  assert.match(await warnings.first().innerText(), /^!\s*Warning\s*\S/)
  assert.equal(await deadlineRow(page, 'first_appointment').locator('.govuk-tag').innerText(), 'Met')
  await expectNoPersonalDataInTitleOrUrl()
  await expectAccessible('an implied step')
  await screenshot('timeline-implied')
})

test("a clinician of another agency: cannot see the timeline, and the search finds no child", TIMEOUT, async () => {
  const { other, session } = await signedInContext({ token: readFileSync(otherAgencyTokenFile, 'utf8').trim() })
  try {
    assert.equal(session.agency, 'RYY99')
    const p = watch(await other.newPage())
    await p.goto(timelineUrl(timelineChildId))
    await p.locator('#cannot-see').waitFor()
    assert.equal(await p.locator('h1').innerText(), 'You cannot see this child’s timeline')
    assert.equal(await p.title(), 'You cannot see this child’s timeline – pathway')
    const text = await p.locator('#cannot-see').innerText()
    assert.match(text, /not involved with this child/)
    assert.match(text, /not given consent/)
    assert.equal(await p.locator('#view').isVisible(), false)
    assert.equal(await p.locator('tr[data-deadline]').count(), 0)
    assert.equal(await p.evaluate(() => document.body.dataset.poll), 'stopped')
    await expectAccessible('cannot see the timeline', p)
    await screenshot('timeline-cannot-see', p)

    // Known to the partnership but not to this agency: the same answer as nobody referred.
    await p.goto(`${base}/find.html`)
    await p.locator('#find').waitFor()
    await findChild(p, timelineNhs)
    await expectFindError(p, NOT_FOUND)
    await expectNoPersonalDataInTitleOrUrl(p)
  } finally {
    await other.close()
  }
})

test('a child with no timeline, and a link naming no child: not found', TIMEOUT, async () => {
  await page.goto(timelineUrl('0'.repeat(64)))
  await page.locator('#not-found').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Child not found')
  assert.equal(await page.title(), 'Child not found – pathway')
  await expectAccessible('a child not found')
  const asked = urls.filter((url) => url.includes('/v1/children/')).length
  await page.goto(`${base}/timeline.html`)
  await page.locator('#not-found').waitFor()
  assert.equal(await page.evaluate(() => document.body.dataset.poll), 'stopped')
  assert.equal(urls.filter((url) => url.includes('/v1/children/')).length, asked, 'asked the server about no child')
})

test('every deadline status in its colour; fields protobuf leaves out are handled', TIMEOUT, async () => {
  // A timeline no test child reaches, as protobuf's JSON mapping prints it (defaults left out).
  const route = '**/v1/children/*/timeline*'
  const date = (year, month, day) => ({ year, month, day })
  await page.route(route, (r) => r.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({
      accessBasis: 'consent: ehc_needs_assessment',
      historyLength: '7',
      pathways: [{
        pathway: 'PATHWAY_KIND_EHC_NEEDS_ASSESSMENT',
        state: 'assessing',
        deadlines: [
          { name: 'decide_to_assess', due: date(2026, 3, 10), status: 'DEADLINE_STATUS_PENDING', rule: 'SEND Regulations 2014 reg 4(1)' },
          { name: 'advice', due: date(2026, 3, 10), status: 'DEADLINE_STATUS_MET', metOn: date(2026, 3, 2) },
          { name: 'draft_plan', due: date(2026, 2, 1), status: 'DEADLINE_STATUS_BREACHED', rule: 'SEND Regulations 2014 reg 13(2)' },
          { name: 'appeal_window', status: 'DEADLINE_STATUS_SUPERSEDED', supersededBy: 'appeal_window_after_mediation', supersededByDue: date(2026, 5, 1) },
          { name: 'final_plan', status: 'DEADLINE_STATUS_EXCEPTED' },
          { name: 'annual_review', status: 'DEADLINE_STATUS_CANCELLED' }
        ]
      }],
      events: [
        { kind: 'nd_first_appointment_attended', recordedAt: '2026-06-10T23:30:00Z', sourceAgency: 'RXX01', sequence: '6' },
        { kind: 'deadline_met', recordedAt: '2026-03-10T23:30:00Z' }
      ]
    })
  }))
  try {
    await page.goto(timelineUrl(timelineChildId))
    await page.locator('#view').waitFor()
  } finally {
    await page.unroute(route)
  }
  assert.equal(await summaryValue(page.locator('#summary'), 'Why you can see this'),
    'The family’s consent to share with your agency for EHC needs assessment')
  assert.equal(await summaryValue(page.locator('#summary'), 'History'), '7 entries')
  const ehc = page.locator('section[data-pathway="PATHWAY_KIND_EHC_NEEDS_ASSESSMENT"]')
  assert.equal(await ehc.locator('h2').innerText(), 'EHC needs assessment')
  assert.equal(await summaryValue(ehc, 'Reference'), 'None')
  assert.equal(await summaryValue(ehc, 'Started'), 'Not known')
  const expected = {
    decide_to_assess: ['Decide to assess', '10 March 2026', 'Pending', 'SEND Regulations 2014 reg 4(1)', 'govuk-tag'],
    advice: ['Advice', '10 March 2026', 'Met Met on 2 March 2026', 'Not named', 'govuk-tag govuk-tag--green'],
    draft_plan: ['Draft plan', '1 February 2026', 'Breached', 'SEND Regulations 2014 reg 13(2)', 'govuk-tag govuk-tag--red'],
    appeal_window: ['Appeal window', 'Not set', 'Superseded Replaced by appeal window after mediation, due 1 May 2026', 'Not named', 'govuk-tag govuk-tag--grey'],
    final_plan: ['Final plan', 'Not set', 'Missed: exception recorded', 'Not named', 'govuk-tag govuk-tag--orange'],
    annual_review: ['Annual review', 'Not set', 'No longer applies', 'Not named', 'govuk-tag govuk-tag--grey']
  }
  for (const [name, [...cells]] of Object.entries(expected)) {
    const row = ehc.locator(`tr[data-deadline="${name}"]`)
    const colour = cells.pop()
    assert.deepEqual(await cellTexts(row), cells)
    assert.equal(await row.locator('.govuk-tag').getAttribute('class'), colour, name)
  }
  assert.equal(await ehc.getByText('No steps have been recorded.').count(), 1)
  assert.equal(await ehc.getByRole('link', { name: RECORD_STEP }).count(), 0, 'not a neurodevelopmental pathway')
  // Dates in London: 23:30 UTC on 10 June is 11 June (summer time), on 10 March still 10 March.
  assert.deepEqual(await page.locator('#events tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim()))), [
    ['Neurodevelopmental first appointment attended', '11 June 2026', 'RXX01'],
    ['Deadline met', '10 March 2026', 'Not recorded']
  ])
  assert.match(await page.locator('#events').innerText(), /The latest 2 events, newest first\. The child’s history has 7 entries in all\./)
  await expectAccessible('every deadline status')
  await screenshot('timeline-statuses')
})

// --- dead letters (operations) ---------------------------------------------------------

const UNDECODABLE = 'value does not decode as a pathway.v1.Envelope'

function publishUndecodable (text) {
  const file = join(artifacts, 'undecodable.txt')
  writeFileSync(file, `${text}\n`)
  execFileSync(pathwayctl, ['publish', '--raw', '--bootstrap-servers', bootstrap, '--topic', 'pathway.inbound.v1', file],
    { timeout: 30_000, stdio: ['ignore', 'ignore', 'pipe'] })
}

test('operations: the start page links to the dead letters, reached by keyboard; others have no link', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  assert.equal(await page.getByRole('link', { name: 'Dead letters' }).count(), 0, 'a clinician has no dead letters link')
  // A clinician who opens the page anyway is told, and the page asks the API nothing.
  let asked = 0
  page.on('request', (r) => { if (new URL(r.url()).pathname === '/v1/deadletters') asked += 1 })
  await page.goto(`${base}/deadletters.html`)
  await page.locator('#problem').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'You cannot see dead letters')
  assert.equal(asked, 0)
  await expectAccessible('dead letters refused to a clinician')

  const { other } = await signedInContext({ role: 'operations' })
  try {
    const ops = watch(await other.newPage())
    await ops.goto(`${base}/start.html`)
    await ops.locator('#signed-in').waitFor()
    const stops = await tabUntil(ops, (focus) => focus.text === 'Dead letters')
    assert.equal(stops[0], 'Skip to main content')
    await ops.keyboard.press('Enter')
    await ops.waitForURL(`${base}/deadletters.html`)
    // The message browser_test.sh published: its row with the engine's reason.
    const row = ops.locator('#rows tr', { hasText: UNDECODABLE }).first()
    await row.waitFor(TIMEOUT)
    const cells = await row.locator('td').evaluateAll((tds) => tds.map((td) => td.innerText.trim()))
    assert.equal(cells.length, 5)
    assert.match(cells[0], /^[0-9]{1,2} [A-Z][a-z]+ [0-9]{4}(,| at) [0-9]{2}:[0-9]{2}:[0-9]{2}$/)
    assert.equal(cells[1], UNDECODABLE)
    assert.match(cells[2], /^pathway\.inbound\.v1\s+partition [0-9]+, offset [0-9]+$/)
    assert.match(cells[3], /^[0-9,]+ bytes$/)
    assert.match(cells[4], /^partition [0-9]+, offset [0-9]+$/)
    assert.equal(await ops.title(), 'Dead letters – pathway')
    assert.equal(await ops.locator('#pagination').isVisible(), false, 'one page only')
    await expectAccessible('the dead letters', ops)
    await screenshot('dead-letters', ops)
    // Keyboard: from the table on to the way back.
    await tabUntil(ops, (focus) => focus.text === 'Back to the start page')
  } finally {
    await other.close()
  }
})

test('operations: a new dead letter appears by polling alone, announced politely', TIMEOUT, async () => {
  const { other } = await signedInContext({ role: 'operations' })
  try {
    await other.clock.install() // the 10 s between polls pass only when told
    const ops = watch(await other.newPage())
    await ops.goto(`${base}/deadletters.html`)
    await ops.locator('#rows tr').first().waitFor()
    await ops.locator('body[data-poll="waiting"]').waitFor()
    const rowsBefore = await ops.locator('#rows tr').count()
    const back = ops.getByRole('link', { name: 'Back to the start page' })
    await back.focus()
    publishUndecodable('another message that is not an Envelope')
    // The engine dead-letters it within moments; each poll is 10 s of the page's clock.
    let rows = rowsBefore
    for (let i = 0; i < 60 && rows === rowsBefore; i++) {
      const polled = ops.waitForResponse((r) => new URL(r.url()).pathname === '/v1/deadletters')
      await other.clock.fastForward(10_000)
      assert.equal((await polled).status(), 200)
      await ops.locator('body[data-poll="waiting"]').waitFor()
      rows = await ops.locator('#rows tr').count()
    }
    assert.equal(rows, rowsBefore + 1, 'the new dead letter never appeared')
    assert.equal(await ops.locator('#announcer').innerText(), '1 new dead letter.')
    assert.equal(await ops.locator('#announcer').getAttribute('aria-live'), 'polite')
    assert.equal(await ops.evaluate(() => document.activeElement.textContent.trim()), 'Back to the start page', 'the focus moved')
    await expectAccessible('the dead letters, updated', ops)
  } finally {
    await other.close()
  }
})

test('operations: "Older" pages with the cursor; an empty page says so', TIMEOUT, async () => {
  const { other } = await signedInContext({ role: 'operations' })
  try {
    const ops = watch(await other.newPage())
    const item = (offset) => ({
      partition: 0, offset, deadLetteredAt: '2026-03-10T09:30:00.000Z', reason: `reason ${offset}`,
      original: { topic: 'pathway.inbound.v1', partition: 1, offset: 40 + offset, sizeBytes: 1 }
    })
    const asked = []
    await ops.route(`${base}/v1/deadletters*`, (r) => {
      const url = new URL(r.request().url())
      asked.push(url.search)
      const before = url.searchParams.get('before')
      const body = before === null
        ? { items: [item(9), item(8)], next: '1773135000000-0-8' }
        : before === '1773135000000-0-8' ? { items: [item(7)] } : { items: [] }
      return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) })
    })
    await ops.goto(`${base}/deadletters.html`)
    await ops.locator('#rows tr').nth(1).waitFor()
    assert.equal(await ops.locator('#rows tr').first().locator('td').first().innerText(), '10 March 2026 at 09:30:00')
    assert.equal(await ops.locator('#rows tr').first().locator('td').nth(3).innerText(), '1 byte')
    const older = ops.getByRole('link', { name: 'Older dead letters' })
    assert.equal(await older.getAttribute('href'), '/deadletters.html?before=1773135000000-0-8')
    await expectAccessible('the dead letters with pages', ops)
    await older.click()
    await ops.waitForURL(`${base}/deadletters.html?before=1773135000000-0-8`)
    await ops.locator('#rows tr', { hasText: 'reason 7' }).waitFor()
    assert.equal(await ops.getByRole('link', { name: 'Older dead letters' }).isVisible(), false)
    assert.equal(await ops.getByRole('link', { name: 'Newest dead letters' }).getAttribute('href'), '/deadletters.html')
    assert.ok(asked.includes('?limit=50&before=1773135000000-0-8'), asked.join(' '))
    // Nothing older, and a link that is not a cursor: the newest page instead.
    await ops.goto(`${base}/deadletters.html?before=0-0-1`)
    await ops.getByText('No older dead letters').waitFor()
    assert.equal(await ops.locator('#table').isVisible(), false)
    await expectAccessible('no older dead letters', ops)
    await ops.goto(`${base}/deadletters.html?before=%3Cscript%3E`)
    await ops.locator('#rows tr', { hasText: 'reason 9' }).waitFor()
    assert.equal(asked.at(-1), '?limit=50')
    await ops.unroute(`${base}/v1/deadletters*`)
    await ops.route(`${base}/v1/deadletters*`, (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: '{"items":[]}' }))
    await ops.goto(`${base}/deadletters.html`)
    await ops.getByText('No dead letters', { exact: true }).waitFor()
    await expectAccessible('no dead letters', ops)
    await screenshot('dead-letters-empty', ops)
  } finally {
    await other.close()
  }
})

// --- EHC steps (ehc-step.html), as a caseworker -------------------------------------------
// The caseworker (agency 209) records an EHC needs assessment and an annual review for
// the child browser_test.sh referred for them (`ehcNhs`, received 13 January 2025). The
// engine's state is fresh for each run, so the references are fixed; the dates are in
// the past whatever the day.
const EHC_PAGE = 'Record an EHC step'
const EHC_LINK = 'Record an EHC needs assessment, annual review or phase transfer step'
const EHC_REQUEST = 'EHC-WEB-0001'
let cw // the caseworker's page, in a context of its own

async function ehcStep (command) {
  await cw.goto(`${base}/ehc-step.html?step=${command}`)
  await cw.locator(`form[data-step="${command.replaceAll('_', '-')}"]`).waitFor()
  return command.replaceAll('_', '-')
}

async function expectSuccess (on, title, recorded) {
  const panel = on.locator('#success-panel')
  await panel.waitFor({ timeout: 30_000 })
  assert.equal(await panel.locator('.govuk-panel__title').innerText(), title)
  assert.equal(await on.evaluate(() => document.activeElement?.id), 'success-panel')
  assert.match(await on.locator('#recorded').innerText(), recorded, "the engine's events are not shown")
}

async function summaryLinks (on) {
  const summary = on.locator('.govuk-error-summary')
  await summary.waitFor({ timeout: 30_000 })
  assert.equal(await on.evaluate(() => document.activeElement?.classList.contains('govuk-error-summary')), true,
    'the error summary is not focused')
  return summary.locator('a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]))
}

// What the page answered a submission with (an error summary, the success panel or the
// waiting banner), once it has: a failure then says what the page showed.
async function answered (on) {
  await on.locator('#feedback > *').first().waitFor({ timeout: 30_000 })
  return (await on.locator('#feedback').innerText()).replace(/\s+/g, ' ')
}

async function fieldError (on, groupId) {
  return (await on.locator(`#${groupId}-error`).innerText()).replace(/\s+/g, ' ').trim()
}

function commandsSent (command) {
  return urls.filter((url) => url === `${base}/v1/commands/${command}`).length
}

test('the start page offers the EHC steps to a caseworker, not to a clinician; the page lists every step', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  assert.equal(await page.getByRole('link', { name: EHC_LINK }).count(), 0, 'a clinician has the EHC link')
  const { other } = await signedInContext({ role: 'caseworker' })
  cw = watch(await other.newPage())
  await cw.goto(`${base}/start.html`)
  await cw.locator('#signed-in').waitFor()
  await cw.getByRole('link', { name: EHC_LINK }).click()
  await cw.waitForURL(`${base}/ehc-step.html`)
  await cw.locator('#chooser').waitFor()
  assert.equal(await cw.title(), `${EHC_PAGE} – pathway`)
  assert.equal(await cw.locator('#forms').isVisible(), false)
  // Every command of Envelope fields 140-149 and 200-208, once, under its group.
  const steps = await cw.locator('#chooser a').evaluateAll((as) => as.map((a) => new URL(a.href).searchParams.get('step')))
  assert.deepEqual(steps, [
    'ehc_assessment_requested', 'ehc_assessment_decided', 'ehc_advice_requested', 'ehc_advice_received',
    'ehc_decided_not_to_issue', 'ehc_draft_plan_issued', 'ehc_draft_plan_comments_received', 'ehc_final_plan_issued',
    'ehc_exception_recorded', 'ehc_request_withdrawn',
    'annual_review_due', 'annual_review_meeting_scheduled', 'annual_review_meeting_held', 'annual_review_report_sent',
    'annual_review_decided', 'plan_amendment_proposed', 'plan_amendment_comments_received', 'amended_plan_issued',
    'phase_transfer_due'])
  assert.deepEqual(await cw.locator('#chooser h2').allInnerTexts(),
    ['EHC needs assessment', 'Annual review and plan amendment', 'Phase transfer'])
  await expectAccessible('the EHC steps', cw)
  await screenshot('ehc-chooser', cw)
})

test('a caseworker records a request for an EHC needs assessment and sees the success panel', TIMEOUT, async () => {
  await cw.getByRole('link', { name: 'Request for an assessment received' }).click()
  await cw.waitForURL(`${base}/ehc-step.html?step=ehc_assessment_requested`)
  const form = cw.locator('#ehc-assessment-requested')
  await form.waitFor()
  assert.equal(await cw.locator('#forms form:visible').count(), 1, 'one form at a time')
  assert.equal(await cw.title(), `Request for an assessment received – ${EHC_PAGE} – pathway`)
  await expectAccessible('the EHC request form', cw)
  await screenshot('ehc-request-form', cw)

  await cw.fill('#ehc-assessment-requested-nhs-number', spaced(ehcNhs))
  await cw.fill('#ehc-assessment-requested-request-id', EHC_REQUEST)
  await form.getByLabel('Parent', { exact: true }).check()
  await cw.fill('#ehc-assessment-requested-received-on-day', '3')
  await cw.fill('#ehc-assessment-requested-received-on-month', '3')
  await cw.fill('#ehc-assessment-requested-received-on-year', '2025')
  await cw.getByRole('button', { name: 'Record the request' }).click()
  await expectSuccess(cw, 'Request recorded', /Request received on 3 March 2025: Request received/)
  assert.match(await cw.locator('#success-panel').innerText(), new RegExp(EHC_REQUEST))
  assert.equal(await cw.inputValue('#ehc-assessment-requested-nhs-number'), '', 'the form is not cleared for the next child')
  assert.equal(await cw.isChecked('#ehc-assessment-requested-requested-by'), false)
  await expectNoPersonalDataInTitleOrUrl(cw)
  await expectAccessible('the EHC request recorded', cw)
  await screenshot('ehc-request-recorded', cw)
})

test('EHC form: a reference too long and a missing date: error summary and field errors, nothing sent', TIMEOUT, async () => {
  const f = await ehcStep('ehc_assessment_requested')
  const sent = commandsSent('ehc_assessment_requested')
  await cw.fill(`#${f}-nhs-number`, ehcNhs)
  await cw.fill(`#${f}-request-id`, 'R'.repeat(129))
  await cw.getByRole('button', { name: 'Record the request' }).click()
  assert.deepEqual(await summaryLinks(cw), [
    ['Request ID must be 128 characters or fewer', `#${f}-request-id`],
    ['Select who made the request', `#${f}-requested-by`],
    ['Enter the date the council received the request', `#${f}-received-on-day`]
  ])
  assert.equal(await fieldError(cw, `${f}-request-id-group`), 'Error: Request ID must be 128 characters or fewer')
  assert.equal(await fieldError(cw, `${f}-received-on-group`), 'Error: Enter the date the council received the request')
  assert.equal(await cw.getAttribute(`#${f}-request-id`, 'aria-describedby'), `${f}-request-id-hint ${f}-request-id-group-error`)
  assert.match(await cw.getAttribute(`#${f}-received-on-group fieldset`, 'aria-describedby'), new RegExp(`${f}-received-on-group-error`))
  assert.equal(await cw.locator(`#${f}-request-id.govuk-input--error`).count(), 1)
  assert.equal(await cw.title(), `Error: Request for an assessment received – ${EHC_PAGE} – pathway`)
  assert.equal(commandsSent('ehc_assessment_requested'), sent, 'a form with errors was sent')
  await expectAccessible('the EHC form with errors', cw)
  await screenshot('ehc-errors', cw)
  // A part of a date: the message names it and the link goes to it.
  await cw.fill(`#${f}-request-id`, 'EHC-WEB-0002')
  await cw.locator(`#${f}`).getByLabel('Parent', { exact: true }).check()
  await cw.fill(`#${f}-received-on-day`, '3')
  await cw.fill(`#${f}-received-on-year`, '2025')
  await cw.getByRole('button', { name: 'Record the request' }).click()
  await cw.locator(`.govuk-error-summary a[href="#${f}-received-on-month"]`).waitFor()
  assert.deepEqual(await summaryLinks(cw), [['Date the council received the request must include a month', `#${f}-received-on-month`]])
  assert.equal(await cw.locator(`#${f}-request-id-group-error`).count(), 0, 'an earlier error stayed')
  await cw.locator('.govuk-error-summary').getByRole('link').click()
  assert.equal(await cw.evaluate(() => document.activeElement?.id), `${f}-received-on-month`)
})

test("EHC forms: the engine's rejections beside the fields they name, then the decision to assess", TIMEOUT, async () => {
  const f = await ehcStep('ehc_assessment_decided')
  const fill = async (decision, day) => {
    await cw.fill(`#${f}-nhs-number`, ehcNhs)
    await cw.fill(`#${f}-request-id`, EHC_REQUEST)
    await cw.locator(`#${f}`).getByLabel(decision, { exact: true }).check()
    await cw.fill(`#${f}-decided-on-day`, day)
    await cw.fill(`#${f}-decided-on-month`, '4')
    await cw.fill(`#${f}-decided-on-year`, '2025')
    await cw.evaluate(() => document.getElementById('feedback').replaceChildren()) // so answered() waits for the new answer
    await cw.getByRole('button', { name: 'Record the decision' }).click()
  }
  // A refusal must tell the family of their right to appeal: the engine's rule, beside the box.
  await fill('Refuse to assess', '14')
  const links = await summaryLinks(cw)
  assert.equal(links.length, 1)
  assert.equal(links[0][1], `#${f}-appeal-rights-given`)
  assert.match(links[0][0], /right to appeal/)
  assert.match(await fieldError(cw, `${f}-appeal-rights-given-group`), /^Error: A decision not to assess must tell the family of their right to appeal/)
  assert.match(await cw.getAttribute(`#${f}-appeal-rights-given-group fieldset`, 'aria-describedby'), /appeal-rights-given-group-error/)
  await expectNoPersonalDataInTitleOrUrl(cw)
  await expectAccessible("the engine's rejection of a refusal without appeal rights", cw)
  await screenshot('ehc-engine-rejection', cw)

  // Its 6-week deadline (14 April 2025) has long been breached by the engine's clock, so the
  // engine re-decides the case from the decision's date and answers with a correction.
  await fill('Assess', '14')
  await expectSuccess(cw, 'Decision recorded', /Decision to assess on 14 April 2025: now assessing\nDeadline decision to assess: met, due 14 April 2025/)
  assert.equal(await cw.locator(`#${f}-appeal-rights-given-group-error`).count(), 0, 'the earlier error stayed')
  await expectAccessible('the decision to assess recorded', cw)

  // Deciding again, a day later (on the same day, the order of the two in the engine's
  // re-decision is not fixed): the step does not fit the case's state. The engine names
  // the command, not a field; the message goes beside the request ID, which chose the case.
  await fill('Assess', '15')
  assert.match(await answered(cw), /is not possible while the EHC needs assessment is at 'assessing'/)
  assert.deepEqual((await summaryLinks(cw)).map(([, href]) => href), [`#${f}-request-id`])
  assert.match(await fieldError(cw, `${f}-request-id-group`), /is not possible while the EHC needs assessment is at 'assessing'/)
  await expectAccessible("the engine's rejection of a step out of order", cw)

  // A draft plan dated before the decision to assess: beside the date.
  const d = await ehcStep('ehc_draft_plan_issued')
  await cw.fill(`#${d}-nhs-number`, ehcNhs)
  await cw.fill(`#${d}-request-id`, EHC_REQUEST)
  await cw.fill(`#${d}-served-on-day`, '1')
  await cw.fill(`#${d}-served-on-month`, '4')
  await cw.fill(`#${d}-served-on-year`, '2025')
  await cw.getByRole('button', { name: 'Record the draft plan' }).click()
  // (date.before_previous_step, or date.before_reported_step when the case is re-decided.)
  const dateLinks = await summaryLinks(cw)
  assert.deepEqual(dateLinks.map(([, href]) => href), [`#${d}-served-on-day`])
  assert.match(dateLinks[0][0], /^This date is before the decision to assess\b.*2025-04-14/)
  assert.match(await fieldError(cw, `${d}-served-on-group`), /^Error: This date is before the decision to assess\b.*2025-04-14/)
  assert.equal(await cw.locator(`#${d}-served-on-group .govuk-input--error`).count(), 3)
  await expectAccessible("the engine's rejection of a date before the previous step", cw)
  await screenshot('ehc-step-out-of-order', cw)

  // A request nobody made.
  await cw.fill(`#${d}-request-id`, 'EHC-NO-SUCH-REQUEST')
  await cw.getByRole('button', { name: 'Record the draft plan' }).click()
  await cw.locator(`.govuk-error-summary a[href="#${d}-request-id"]`).waitFor({ timeout: 30_000 })
  assert.equal(await fieldError(cw, `${d}-request-id-group`), 'Error: There is no EHC needs assessment with this request ID for this child')
  assert.equal(await cw.locator(`#${d}-served-on-group-error`).count(), 0, 'an earlier error stayed')
})

test('keyboard only: advice requested with Tab, arrow keys and Enter', TIMEOUT, async () => {
  const f = await ehcStep('ehc_advice_requested')
  const stops = await tabUntil(cw, (focus) => focus.id === `${f}-nhs-number`)
  assert.equal(stops[0], 'Skip to main content')
  assert.ok(stops.includes('Choose another step'), `no way back to the steps: ${stops.join(' > ')}`)
  await cw.keyboard.type(ehcNhs)
  await cw.keyboard.press('Tab')
  await cw.keyboard.type(EHC_REQUEST)
  await cw.keyboard.press('Tab') // the radios: one Tab stop
  assert.equal(await cw.evaluate(() => document.activeElement?.id), `${f}-source`)
  await cw.keyboard.press('ArrowDown')
  await cw.keyboard.press('ArrowDown')
  assert.equal(await cw.isChecked(`#${f}-source-3`), true, 'Health is not chosen')
  assert.equal(await cw.locator(`label[for="${f}-source-3"]`).innerText(), 'Health')
  for (const part of ['22', '4', '2025']) {
    await cw.keyboard.press('Tab')
    await cw.keyboard.type(part)
  }
  assert.equal(await cw.evaluate(() => document.activeElement?.id), `${f}-requested-on-year`)
  await cw.keyboard.press('Enter')
  await expectSuccess(cw, 'Advice request recorded', /Advice requested on 22 April 2025/)
  await expectAccessible('advice requested by keyboard', cw)
  await screenshot('ehc-keyboard-advice', cw)
})

// Dated after the referral (13 January 2025): in business-date order the case knows the
// date of birth by then (before it, the engine asks for it: annual_review_due.date_of_birth).
test('an annual review due, with the date of birth left to the child’s record', TIMEOUT, async () => {
  const f = await ehcStep('annual_review_due')
  await cw.fill(`#${f}-nhs-number`, ehcNhs)
  await cw.fill(`#${f}-review-id`, 'AR-WEB-0001')
  await cw.fill(`#${f}-plan-or-last-review-on-day`, '3')
  await cw.fill(`#${f}-plan-or-last-review-on-month`, '2')
  await cw.fill(`#${f}-plan-or-last-review-on-year`, '2025')
  await cw.getByRole('button', { name: 'Record the review due' }).click()
  await expectSuccess(cw, 'Review recorded', /Review due on 3 February 2025: Review due/)
  assert.match(await cw.locator('#success-panel').innerText(), /Review ID AR-WEB-0001/)
  await expectAccessible('the annual review recorded', cw)
  await expectNoPersonalDataInTitleOrUrl(cw)
  await cw.context().close()
})

// --- Caseloads and waiting lists (caseload.html, waiting.html) ---------------------------
// browser_test.sh's children of agency RCL01 (see there), each on the neurodevelopmental
// assessment (ND-CL-*): team nd-north has E (17 weeks waited, first appointment
// breached), G (14, diagnosed: not waiting), A (12, seen: no deadline pending), B (9,
// risk high: monthly contact due first) and C (3); team nd-south D (6) and F1..F20 (1).
// The pages' clinician is nd-north's. Whether their referral intakes (GP-CL-*, submitted
// by the same clinicians) are on the lists is the engine's rule, not the page's: the
// tests look at the neurodevelopmental rows.
const ND = 'PATHWAY_KIND_NEURODEVELOPMENTAL'
const QS51 = 'NICE QS51 statement 1 (NHS England: 13 weeks from referral to first appointment)'
const MONTHLY = 'Local partnership standard: children waiting at high risk are contacted at least monthly'
const CASELOAD_QUERY = /^\?list=(caseload|waiting)&scope=(team|service)&sort=(next_deadline|waited)(&pathway=[a-z_]+)?(&cursor=[0-9a-f]+)?$/

function caseloadSignIn () {
  return signedInContext({ token: readFileSync(caseloadTokenFile, 'utf8').trim() })
}

function isCaseloadAnswer (r) {
  return new URL(r.url()).pathname === '/v1/caseload'
}

// Does `action` and waits for the list's answer and for the page to have shown it.
async function listAnswer (on, action) {
  const answer = on.waitForResponse(isCaseloadAnswer)
  await action()
  const response = await answer
  await on.locator('body[data-poll="waiting"], body[data-poll="stopped"]').waitFor()
  return response
}

async function openList (on, path) {
  return listAnswer(on, () => on.goto(`${base}${path}`))
}

// The rows as shown: {pathway, cells: [child, pathway, state, weeks, next deadline, breaches, risk]}.
async function caseloadRows (on) {
  return on.locator('#rows tr').evaluateAll((rows) => rows.map((r) => ({
    pathway: r.dataset.pathway,
    cells: [...r.cells].map((c) => c.innerText.replace(/\s+/g, ' ').trim())
  })))
}

async function references (on, pathway) {
  return (await caseloadRows(on)).filter((r) => !pathway || r.pathway === pathway).map((r) => r.cells[0])
}

async function applyControls (on, { sort, pathway, scope } = {}) {
  if (sort) await on.selectOption('#sort', sort)
  if (pathway !== undefined) await on.selectOption('#pathway', pathway)
  if (scope) await on.check(`#scope-${scope}`)
  return listAnswer(on, () => on.getByRole('button', { name: 'Update the list' }).click())
}

test('caseloads: the start page links to "My caseload" and "Waiting list" for clinicians and caseworkers; operations have no link and are refused', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  assert.equal(await page.getByRole('link', { name: 'My caseload' }).getAttribute('href'), '/caseload.html')
  assert.equal(await page.getByRole('link', { name: 'Waiting list' }).getAttribute('href'), '/waiting.html')
  for (const role of ['caseworker', 'operations']) {
    const { other } = await signedInContext({ role })
    try {
      const p = watch(await other.newPage())
      await p.goto(`${base}/start.html`)
      await p.locator('#signed-in').waitFor()
      const expected = role === 'operations' ? 0 : 1
      assert.equal(await p.getByRole('link', { name: 'My caseload' }).count(), expected, role)
      assert.equal(await p.getByRole('link', { name: 'Waiting list' }).count(), expected, role)
      if (role !== 'operations') continue
      // Operations opening the page anyway: the API's 403, said plainly.
      const answer = await openList(p, '/caseload.html')
      assert.equal(answer.status(), 403)
      await p.locator('#problem').waitFor()
      assert.equal(await p.locator('h1').innerText(), 'You cannot see caseloads')
      assert.equal(await p.title(), 'You cannot see caseloads – pathway')
      assert.match(await p.locator('#problem-detail').innerText(), /^Your role \(Operations\) cannot see caseloads or waiting lists\. Clinicians, caseworkers and team managers can\.$/)
      assert.equal(await p.locator('#controls').isVisible(), false)
      assert.equal(await p.evaluate(() => document.body.dataset.poll), 'stopped')
      await expectAccessible('a caseload refused to operations', p)
      await screenshot('caseload-refused', p)
    } finally {
      await other.close()
    }
  }
})

test("my caseload: the team's children with weeks waited and the next deadline with its rule, next deadline first", TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    const answer = await openList(p, '/caseload.html')
    assert.equal(new URL(answer.url()).search, '?list=caseload&scope=team&sort=next_deadline')
    await p.locator('#table').waitFor()
    assert.equal(await p.locator('h1').innerText(), 'My caseload')
    assert.equal(await p.title(), 'My caseload – pathway')
    assert.match(await p.locator('#audited').innerText(), /records that you viewed each child/)
    assert.equal(await p.isChecked('#scope-team'), true, 'a sign-in with a team sees the team first')
    assert.equal(await p.locator('#scope-team-hint').innerText(), 'Team nd-north')
    assert.equal(await p.locator('#scope-service-hint').innerText(), 'Every team of RCL01')
    assert.equal(await p.locator('#caption').innerText(), 'Your team’s caseload, next deadline first – page 1')
    assert.deepEqual(await p.locator('#table thead th').allInnerTexts(),
      ['Child', 'Pathway', 'State', 'Weeks waited', 'Next deadline', 'Breaches', 'Risk'])

    const rows = (await caseloadRows(p)).filter((r) => r.pathway === ND)
    const byRef = Object.fromEntries(rows.map((r) => [r.cells[0], r.cells]))
    assert.deepEqual(Object.keys(byRef).sort(), ['ND-CL-A', 'ND-CL-B', 'ND-CL-C', 'ND-CL-E', 'ND-CL-G'])
    const nd = 'Neurodevelopmental assessment'
    assert.match(byRef['ND-CL-B'][4], new RegExp(`^Waiting contact Due [0-9]{1,2} [A-Z][a-z]+ [0-9]{4} Pending ${MONTHLY}$`))
    assert.deepEqual([...byRef['ND-CL-B'].slice(0, 4), ...byRef['ND-CL-B'].slice(5)], ['ND-CL-B', nd, 'Waiting', '9', '0', 'High'])
    assert.deepEqual(byRef['ND-CL-C'], ['ND-CL-C', nd, 'Waiting', '3', `First appointment Due ${caseloadCDue} Pending ${QS51}`, '0', 'Not assessed'])
    // E's first appointment is overdue: still its next deadline, breached, until it is met.
    assert.deepEqual(byRef['ND-CL-E'], ['ND-CL-E', nd, 'Waiting', '17', `First appointment Due ${caseloadEDue} Breached ${QS51}`, '1', 'Not assessed'])
    assert.deepEqual(byRef['ND-CL-A'], ['ND-CL-A', nd, 'Assessing', '12', 'None open', '0', 'Not assessed'])
    assert.deepEqual(byRef['ND-CL-G'], ['ND-CL-G', nd, 'Diagnosed', '14', 'None open', '0', 'Not assessed'])
    // Next deadline first: E's overdue first appointment, B's monthly contact, C's first
    // appointment, then those with none open.
    assert.deepEqual((await references(p, ND)).slice(0, 3), ['ND-CL-E', 'ND-CL-B', 'ND-CL-C'])
    assert.equal(await p.locator('#rows tr', { hasText: 'ND-CL-E' }).locator('.govuk-tag').getAttribute('class'), 'govuk-tag govuk-tag--red')
    // The tag coloured as on the timeline (pending: GOV.UK's blue).
    assert.equal(await p.locator('#rows tr', { hasText: 'ND-CL-C' }).locator('.govuk-tag').getAttribute('class'), 'govuk-tag')
    assert.match(await p.locator('#as-of').innerText(), /^Weeks waited are counted to [0-9]{1,2} [A-Z][a-z]+ [0-9]{4}, from the dates the partners gave\.$/)
    assert.equal(await p.locator('#pagination').isVisible(), false, 'one page')
    await expectNoPersonalDataInTitleOrUrl(p)
    await expectAccessible('my caseload', p)
    await screenshot('caseload', p)
  } finally {
    await other.close()
  }
})

test('my caseload: sorting by longest wait changes the order; the pathway filter', TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    await openList(p, '/caseload.html')
    const byDeadline = await references(p, ND)
    const sorted = await applyControls(p, { sort: 'waited' })
    assert.equal(new URL(sorted.url()).search, '?list=caseload&scope=team&sort=waited')
    assert.equal(await p.locator('#caption').innerText(), 'Your team’s caseload, longest wait first – page 1')
    const byWait = await references(p, ND)
    assert.deepEqual(byWait, ['ND-CL-E', 'ND-CL-G', 'ND-CL-A', 'ND-CL-B', 'ND-CL-C'])
    assert.notDeepEqual(byWait, byDeadline)
    const weeks = (await caseloadRows(p)).map((r) => Number(r.cells[3]))
    assert.deepEqual(weeks, [...weeks].sort((a, b) => b - a), 'not longest wait first')
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'table', 'the focus is not on the list it asked for')

    await applyControls(p, { pathway: 'neurodevelopmental' })
    assert.equal(await p.locator('#caption').innerText(), 'Your team’s caseload, neurodevelopmental assessment only, longest wait first – page 1')
    assert.deepEqual((await caseloadRows(p)).map((r) => r.pathway), [ND, ND, ND, ND, ND])
    await expectAccessible('my caseload, one pathway', p)

    const none = await applyControls(p, { pathway: 'disagreement' })
    assert.equal(new URL(none.url()).search, '?list=caseload&scope=team&sort=waited&pathway=disagreement')
    await p.locator('#empty').waitFor()
    assert.equal(await p.locator('#empty').innerText(), 'There are no children on your team’s caseload for disagreement resolution.')
    assert.equal(await p.locator('#table').isVisible(), false)
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'empty')
    await expectAccessible('my caseload, none for a pathway', p)
    // Every pathway is offered by its name.
    assert.deepEqual(await p.locator('#pathway option').evaluateAll((os) => os.map((o) => o.value)),
      ['', 'referral_intake', 'ehc_needs_assessment', 'annual_review', 'neurodevelopmental', 'preparing_for_adulthood',
        'exceptional_needs_grant', 'disagreement'])
  } finally {
    await other.close()
  }
})

test('my caseload: my team or my service; Next and Previous page with the cursor', TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    const asked = []
    p.on('request', (r) => { if (isCaseloadAnswer(r)) asked.push(new URL(r.url()).search) })
    await openList(p, '/caseload.html')
    assert.ok(!(await references(p)).includes('ND-CL-D'), 'a child of another team on the team’s list')

    // The service's neurodevelopmental assessments: 26, 25 a page.
    await applyControls(p, { scope: 'service', pathway: 'neurodevelopmental' })
    assert.equal(await p.locator('#caption').innerText(), 'Your service’s caseload, neurodevelopmental assessment only, next deadline first – page 1')
    const first = await references(p)
    assert.equal(first.length, 25)
    assert.equal(await p.locator('#pagination').isVisible(), true)
    assert.equal(await p.getByRole('link', { name: 'Previous page of the list' }).isVisible(), false)
    const next = p.getByRole('link', { name: 'Next page of the list' })
    await expectAccessible('the service’s caseload, page 1', p)
    const second = await listAnswer(p, () => next.click())
    assert.match(new URL(second.url()).search, /^\?list=caseload&scope=service&sort=next_deadline&pathway=neurodevelopmental&cursor=[0-9a-f]+$/)
    assert.equal(await p.locator('#caption').innerText(), 'Your service’s caseload, neurodevelopmental assessment only, next deadline first – page 2')
    const rest = await references(p)
    assert.equal(rest.length, 1)
    const all = [...first, ...rest]
    assert.equal(new Set(all).size, 26, 'an entry on both pages')
    assert.deepEqual(all.filter((r) => !/^ND-CL-F/.test(r)).sort(), ['ND-CL-A', 'ND-CL-B', 'ND-CL-C', 'ND-CL-D', 'ND-CL-E', 'ND-CL-G'])
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'table')
    assert.equal(await p.getByRole('link', { name: 'Next page of the list' }).isVisible(), false)
    await expectAccessible('the service’s caseload, page 2', p)
    await screenshot('caseload-page-2', p)
    const back = await listAnswer(p, () => p.getByRole('link', { name: 'Previous page of the list' }).click())
    assert.equal(new URL(back.url()).search, '?list=caseload&scope=service&sort=next_deadline&pathway=neurodevelopmental')
    assert.deepEqual(await references(p), first)
    assert.equal(await p.locator('#caption').innerText(), 'Your service’s caseload, neurodevelopmental assessment only, next deadline first – page 1')

    // Back to the team: its five children only.
    await applyControls(p, { scope: 'team', pathway: 'neurodevelopmental' })
    assert.deepEqual((await references(p)).sort(), ['ND-CL-A', 'ND-CL-B', 'ND-CL-C', 'ND-CL-E', 'ND-CL-G'])
    for (const search of asked) assert.match(search, CASELOAD_QUERY)
    assert.equal(new URL(p.url()).search, '', 'the controls went into the page’s URL')
  } finally {
    await other.close()
  }
})

test('the waiting list: the pathways in a waiting state, longest wait first', TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    const answer = await openList(p, '/waiting.html')
    assert.equal(new URL(answer.url()).search, '?list=waiting&scope=team&sort=waited')
    await p.locator('#table').waitFor()
    assert.equal(await p.locator('h1').innerText(), 'Waiting list')
    assert.equal(await p.title(), 'Waiting list – pathway')
    assert.equal(await p.inputValue('#sort'), 'waited')
    assert.equal(await p.locator('#caption').innerText(), 'Your team’s waiting list, longest wait first – page 1')
    // G has its diagnosis: on the caseload, no longer waiting.
    assert.deepEqual(await references(p, ND), ['ND-CL-E', 'ND-CL-A', 'ND-CL-B', 'ND-CL-C'])
    await expectAccessible('the waiting list', p)
    await screenshot('waiting-list', p)
    await applyControls(p, { sort: 'next_deadline' })
    assert.deepEqual((await references(p, ND)).slice(0, 3), ['ND-CL-E', 'ND-CL-B', 'ND-CL-C'])
  } finally {
    await other.close()
  }
})

test("my caseload: a child's reference opens the child's timeline", TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    await openList(p, '/caseload.html')
    const link = p.locator('#rows tr[data-pathway="PATHWAY_KIND_NEURODEVELOPMENTAL"]').getByRole('link', { name: 'ND-CL-B', exact: true })
    assert.match(await link.getAttribute('href'), /^\/timeline\.html\?child=[0-9a-f]{64}$/)
    await link.click()
    await p.waitForURL(/\/timeline\.html\?child=[0-9a-f]{64}$/)
    await p.locator('#view').waitFor()
    assert.equal(await summaryValue(ndSection(p), 'Reference'), 'ND-CL-B')
    assert.equal(await summaryValue(ndSection(p), 'State'), 'Waiting')
  } finally {
    await other.close()
  }
})

test('keyboard only: to my caseload, choose my service and the longest wait, and on to a child', TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    const p = watch(await other.newPage())
    await p.goto(`${base}/start.html`)
    await p.locator('#signed-in').waitFor()
    const toLink = await tabUntil(p, (focus) => focus.text === 'My caseload')
    assert.equal(toLink[0], 'Skip to main content')
    await listAnswer(p, () => p.keyboard.press('Enter'))
    await p.locator('#table').waitFor()
    await tabUntil(p, (focus) => focus.id === 'scope-team')
    await p.keyboard.press('ArrowDown') // radios: the arrow keys choose
    assert.equal(await p.isChecked('#scope-service'), true)
    await tabUntil(p, (focus) => focus.id === 'sort')
    await p.keyboard.press('ArrowDown') // a closed select: the arrow keys choose
    assert.equal(await p.inputValue('#sort'), 'waited')
    await tabUntil(p, (focus) => focus.id === 'pathway')
    await tabUntil(p, (focus) => focus.id === 'apply')
    const answer = await listAnswer(p, () => p.keyboard.press('Enter'))
    assert.equal(new URL(answer.url()).search, '?list=caseload&scope=service&sort=waited')
    assert.equal(await p.locator('#caption').innerText(), 'Your service’s caseload, longest wait first – page 1')
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'table')
    // From the list, the next Tab is its first child.
    const [firstChild] = await references(p)
    await p.keyboard.press('Tab')
    assert.equal(await p.evaluate(() => document.activeElement?.textContent), firstChild)
    await p.keyboard.press('Enter')
    await p.waitForURL(/\/timeline\.html\?child=[0-9a-f]{64}$/)
    await p.locator('#view').waitFor()
    await screenshot('keyboard-caseload', p)
  } finally {
    await other.close()
  }
})

test('my caseload refreshes once a minute only while visible, and on "Refresh"; a change is announced politely', TIMEOUT, async () => {
  const { other, session } = await caseloadSignIn()
  try {
    await other.clock.install() // the minute between refreshes passes only when told
    const p = watch(await other.newPage())
    let asks = 0
    p.on('request', (r) => { if (isCaseloadAnswer(r)) asks += 1 })
    await openList(p, '/caseload.html')
    await p.locator('body[data-poll="waiting"]').waitFor()
    assert.equal(asks, 1)
    // The page's clock also runs in real time: margins of seconds, not milliseconds.
    await other.clock.fastForward(55_000)
    assert.equal(asks, 1, 'asked again within the minute')
    await listAnswer(p, () => other.clock.fastForward(5_000))
    assert.equal(asks, 2)

    // The clinician's colleague records C's risk: the next refresh shows it, and says so.
    const back = p.getByRole('link', { name: 'Back to the start page' })
    await back.focus()
    const recorded = await other.request.post(`${base}/v1/commands/nd_risk_assessed`, {
      headers: { 'X-CSRF-Token': session.csrfToken, 'Idempotency-Key': randomUUID(), Prefer: 'wait=20' },
      data: {
        subject: { nhsNumber: process.env.PATHWAY_CASELOAD_C_NHS_NUMBER },
        ndRiskAssessed: { referralId: 'ND-CL-C', risk: 'RISK_LEVEL_LOW', assessedOn: protoDate(new Date(Date.now() - 86_400_000)) }
      }
    })
    assert.equal(recorded.status(), 200, await recorded.text())
    await listAnswer(p, () => other.clock.fastForward(60_000))
    const c = (await caseloadRows(p)).find((r) => r.cells[0] === 'ND-CL-C')
    assert.equal(c.cells[6], 'Low')
    assert.equal(await p.locator('#announcer').innerText(), 'The list has been updated: 1 changed.')
    assert.equal(await p.getAttribute('#announcer', 'aria-live'), 'polite')
    assert.equal(await p.evaluate(() => document.activeElement?.textContent), 'Back to the start page', 'the refresh moved the focus')

    await listAnswer(p, () => p.getByRole('button', { name: 'Refresh' }).click())
    assert.equal(await p.locator('#announcer').innerText(), 'The list has been refreshed: nothing has changed.')
    assert.equal(asks, 4)

    const visibility = (hidden) => p.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)
    await visibility(true)
    await p.locator('body[data-poll="paused"]').waitFor()
    await other.clock.fastForward(180_000)
    assert.equal(asks, 4, 'asked while hidden')
    await listAnswer(p, () => visibility(false))
    assert.equal(asks, 5)
  } finally {
    await other.close()
  }
})

test('my caseload: temporarily unavailable, tried again as Retry-After says, at most 10 times; Refresh recovers', TIMEOUT, async () => {
  const { other } = await caseloadSignIn()
  try {
    await other.clock.install()
    const p = watch(await other.newPage())
    let refused = 0
    await p.route(`${base}/v1/caseload*`, (r) => {
      refused += 1
      return r.fulfill({
        status: 503,
        headers: { 'Retry-After': '30' },
        contentType: 'application/problem+json',
        body: JSON.stringify({ title: 'Service unavailable', status: 503, rule: 'engine.rebalancing', detail: 'partitions are moving' })
      })
    })
    await openList(p, '/caseload.html')
    await p.locator('#unavailable').waitFor()
    assert.match(await p.locator('#unavailable').innerText(), /temporarily unavailable: pathway is trying again/)
    assert.match(await p.locator('#announcer').innerText(), /temporarily unavailable: trying again/)
    await expectAccessible('my caseload unavailable', p)
    await screenshot('caseload-unavailable', p)
    // The page's clock also runs in real time: margins of seconds, not milliseconds.
    for (let i = 2; i <= 10; i++) {
      await other.clock.fastForward(20_000)
      assert.equal(refused, i - 1, 'asked before Retry-After')
      await listAnswer(p, () => other.clock.fastForward(10_000))
      assert.equal(refused, i)
    }
    await p.locator('body[data-poll="stopped"]').waitFor()
    assert.match(await p.locator('#unavailable').innerText(), /still unavailable: pathway has stopped trying/)
    assert.match(await p.locator('#announcer').innerText(), /stopped trying/)
    await other.clock.fastForward(600_000)
    assert.equal(refused, 10, 'it kept trying')
    await expectAccessible('my caseload still unavailable', p)
    await p.unroute(`${base}/v1/caseload*`)
    await listAnswer(p, () => p.getByRole('button', { name: 'Refresh' }).click())
    await p.locator('#table').waitFor()
    assert.equal(await p.locator('#unavailable').isVisible(), false)
    assert.match(await p.locator('#announcer').innerText(), /available again/)
    assert.equal(await p.evaluate(() => document.body.dataset.poll), 'waiting', 'the minute’s refresh did not start again')
  } finally {
    await other.close()
  }
})

test('a clinician of another agency: nobody on the caseload or the waiting list', TIMEOUT, async () => {
  const { other } = await signedInContext({ token: readFileSync(otherAgencyTokenFile, 'utf8').trim() })
  try {
    const p = watch(await other.newPage())
    await openList(p, '/caseload.html')
    await p.locator('#empty').waitFor()
    assert.equal(await p.locator('#empty').innerText(), 'There are no children on your team’s caseload.')
    assert.equal(await p.locator('#table').isVisible(), false)
    assert.equal(await p.locator('#pagination').isVisible(), false)
    await expectAccessible('an empty caseload', p)
    await screenshot('caseload-empty', p)
    await applyControls(p, { scope: 'service' })
    assert.equal(await p.locator('#empty').innerText(), 'There are no children on your service’s caseload.')
    await openList(p, '/waiting.html')
    await p.locator('#empty').waitFor()
    assert.equal(await p.locator('#empty').innerText(), 'There are no children on your team’s waiting list.')
    await expectAccessible('an empty waiting list', p)
  } finally {
    await other.close()
  }
})

test('signs out', TIMEOUT, async () => {
  await page.goto(`${base}/start.html`)
  await page.locator('#signed-in').waitFor()
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('button', { name: 'Sign in as clinician (staff-clin-1)' }).waitFor()
  assert.equal(new URL(page.url()).pathname, '/')
  const who = await page.evaluate(async () => (await fetch('/v1/session')).status)
  assert.equal(who, 401)
  // A signed-out page goes back to the sign-in page.
  await page.goto(`${base}/nd-step.html`)
  await page.waitForURL(`${base}/`)
  await screenshot('signed-out')
})

test('no CSP violation or script error on any page', () => {
  assert.deepEqual(problems, [])
})

test('no NHS number in any URL, navigation or console message', async () => {
  await expectNoPersonalDataInTitleOrUrl()
  for (const line of consoleLines) {
    const squeezed = line.replace(/\s+/g, '')
    for (const number of nhsNumbers) assert.ok(!squeezed.includes(number), `an NHS number in the console: ${line}`)
  }
})

// --- The shared record (record.html) ---------------------------------------------------
// browser_test.sh gives the child with the implied step four facts and two consent
// decisions about the clinician's agency RXX01 (see there): "all about me" from agency
// 209 (shared by consent for the neurodevelopmental assessment, refused for the EHC
// needs assessment), communication needs from RXX01 itself, and a diagnosis on which
// 209 and RXX01 disagree (withheld as disputed).
const RECORD = {
  consented: process.env.PATHWAY_RECORD_CONSENTED_TEXT,
  disputed: process.env.PATHWAY_RECORD_DISPUTED_TEXT,
  disputing: process.env.PATHWAY_RECORD_DISPUTING_TEXT,
  own: process.env.PATHWAY_RECORD_OWN_TEXT,
  recorded: process.env.PATHWAY_RECORD_RECORDED,
  validUntil: process.env.PATHWAY_RECORD_VALID_UNTIL,
  consentOn: process.env.PATHWAY_RECORD_CONSENT_ON
}
const RECORD_PAGE = 'Child’s shared record'
const RECORD_CANNOT_SEE = 'You cannot see this child’s record'

function recordCard (on, type) {
  return on.locator(`#shared .govuk-summary-card[data-fact="${type}"]`)
}

async function rowValue (within, name) {
  return (await within.locator(`[data-row="${name}"] dd`).innerText()).replace(/\s+/g, ' ').trim()
}

async function withheldRows (on) {
  return on.locator('#withheld-list .govuk-summary-list__row').evaluateAll((rows) => rows.map((r) =>
    [r.dataset.fact, r.querySelector('dt').innerText.trim(), r.querySelector('dd').innerText.trim()]))
}

// No fact's content in a URL, a title or a console line, and the withheld ones nowhere
// in the page.
async function expectNoContentLeaked (on, withheld) {
  const title = await on.title()
  for (const text of [RECORD.consented, RECORD.disputed, RECORD.disputing, RECORD.own]) {
    assert.ok(!title.includes(text), `a fact's content in the title: ${title}`)
    for (const url of urls) assert.ok(!decodeURIComponent(url).includes(text), `a fact's content in a URL: ${url}`)
    for (const line of consoleLines) assert.ok(!line.includes(text), `a fact's content in the console: ${line}`)
  }
  const shown = await on.locator('body').innerText()
  for (const text of withheld) assert.ok(!shown.includes(text), 'a withheld fact’s content is on the page')
}

test('the shared record: shared by consent, own, disputed and refused; the purpose switched by keyboard; another agency refused', TIMEOUT, async () => {
  for (const [name, value] of Object.entries(RECORD)) assert.ok(value, `PATHWAY_RECORD_${name} is not set: run tests/web/browser_test.sh`)
  const problemsBefore = problems.length
  const { other, session } = await signedInContext({ role: 'clinician' })
  let childId
  try {
    assert.equal(session.agency, 'RXX01')
    const p = watch(await other.newPage())
    // From the timeline, found by NHS number.
    await p.goto(`${base}/find.html`)
    await p.locator('#find').waitFor()
    await findChild(p, impliedNhs)
    await p.waitForURL(/\/timeline\.html\?child=[0-9A-Za-z]+$/)
    childId = new URL(p.url()).searchParams.get('child')
    await p.locator('#view').waitFor()
    const link = p.getByRole('link', { name: 'Shared record', exact: true })
    assert.equal(await link.getAttribute('href'), `/record.html?child=${childId}&purpose=neurodevelopmental`)
    await link.click()
    await p.waitForURL(`${base}/record.html?child=${childId}&purpose=neurodevelopmental`)
    await p.locator('body[data-state="view"]').waitFor()
    assert.equal(await p.locator('h1').innerText(), RECORD_PAGE)
    assert.equal(await p.title(), `${RECORD_PAGE} – pathway`)
    assert.equal(await p.isChecked('#purpose'), true, 'the chooser shows the purpose of the URL')
    assert.equal(await summaryValue(p.locator('#summary'), 'Purpose'), 'Neurodevelopmental assessment')
    assert.equal(await summaryValue(p.locator('#summary'), 'Child ID'), `${childId.slice(0, 8)}…`)
    assert.match(await summaryValue(p.locator('#summary'), 'Record as of'), DATE)
    assert.match(await p.locator('#audited').innerText(), /recorded in the audit trail/)
    assert.equal(await p.locator('#audited').getAttribute('class'), 'govuk-inset-text')

    // 209's fact, by the family's consent.
    const consented = recordCard(p, 'FACT_TYPE_ALL_ABOUT_ME')
    assert.equal(await consented.locator('h3').innerText(), 'All about me')
    assert.equal(await rowValue(consented, 'content'), RECORD.consented)
    assert.equal(await rowValue(consented, 'given-by'), '209')
    assert.equal(await rowValue(consented, 'recorded'), RECORD.recorded)
    assert.equal(await rowValue(consented, 'valid-until'), RECORD.validUntil)
    assert.equal(await rowValue(consented, 'why'), 'The family consented to sharing it with you for a neurodevelopmental assessment')
    assert.deepEqual(await consented.locator('dt').allInnerTexts(),
      ['Information', 'Given by', 'Recorded', 'Valid until', 'Why you can see this'])
    // RXX01's own fact.
    const own = recordCard(p, 'FACT_TYPE_COMMUNICATION_NEEDS')
    assert.equal(await own.locator('h3').innerText(), 'Communication needs')
    assert.equal(await rowValue(own, 'content'), RECORD.own)
    assert.equal(await rowValue(own, 'given-by'), 'RXX01 (your organisation)')
    assert.equal(await rowValue(own, 'why'), 'Your organisation gave this')
    // The disputed diagnosis: its type and why, never either source's content.
    assert.equal(await recordCard(p, 'FACT_TYPE_DIAGNOSES').count(), 0)
    assert.deepEqual(await withheldRows(p), [
      ['FACT_TYPE_DIAGNOSES', 'Diagnoses', 'Sources disagree; a caseworker must reconcile it first']
    ])
    await expectNoContentLeaked(p, [RECORD.disputed, RECORD.disputing])
    // The family's decisions about RXX01, as tags.
    assert.deepEqual(await p.locator('#consents-table tbody tr').evaluateAll((rows) => rows.map((r) =>
      [...r.cells].map((c) => c.innerText.trim()))), [
      ['Neurodevelopmental assessment', 'Granted', RECORD.consentOn],
      ['EHC needs assessment', 'Refused', RECORD.consentOn]
    ])
    assert.deepEqual(await p.locator('#consents-table .govuk-tag').evaluateAll((tags) => tags.map((t) => t.className)),
      ['govuk-tag govuk-tag--green', 'govuk-tag govuk-tag--red'])
    await expectAccessible('the shared record', p)
    await screenshot('record-consent', p)

    // Another purpose, with the keyboard alone: the radios are one Tab stop, an arrow
    // key chooses, Tab to the button, Enter.
    await tabUntil(p, (focus) => focus.id === 'purpose')
    assert.equal(await p.evaluate(() => getComputedStyle(document.querySelector('label[for="purpose"]'), '::before').boxShadow)
      .then((shadow) => shadow.includes('rgb(255, 221, 0)')), true, 'no visible focus on the radios')
    await p.keyboard.press('ArrowDown')
    assert.equal(await p.evaluate(() => document.activeElement.id), 'purpose-2')
    assert.equal(await p.isChecked('#purpose-2'), true)
    await tabUntil(p, (focus) => focus.id === 'show-record', 3)
    await p.keyboard.press('Enter')
    await p.waitForURL(`${base}/record.html?child=${childId}&purpose=ehc_needs_assessment`)
    await p.locator('body[data-state="view"]').waitFor()
    assert.equal(await p.isChecked('#purpose-2'), true)
    assert.equal(await summaryValue(p.locator('#summary'), 'Purpose'), 'EHC needs assessment')
    assert.equal(await recordCard(p, 'FACT_TYPE_ALL_ABOUT_ME').count(), 0, 'shared without consent')
    assert.equal(await rowValue(recordCard(p, 'FACT_TYPE_COMMUNICATION_NEEDS'), 'why'), 'Your organisation gave this')
    assert.deepEqual(await withheldRows(p), [
      ['FACT_TYPE_ALL_ABOUT_ME', 'All about me', 'The family has not consented to sharing this with you for an EHC needs assessment'],
      ['FACT_TYPE_DIAGNOSES', 'Diagnoses', 'Sources disagree; a caseworker must reconcile it first']
    ])
    await expectNoContentLeaked(p, [RECORD.consented, RECORD.disputed, RECORD.disputing])
    await expectAccessible('the shared record for another purpose', p)
    await screenshot('record-withheld', p)
    const asked = urls.filter((url) => url.includes('/record?')).map((url) => new URL(url).search)
    assert.deepEqual([...new Set(asked)], ['?purpose=neurodevelopmental', '?purpose=ehc_needs_assessment'])

    // A purpose the gateway refuses (400 query.purpose): the error on the chooser.
    await p.goto(`${base}/record.html?child=${childId}&purpose=Not-a-purpose`)
    const summary = p.locator('.govuk-error-summary')
    await summary.getByRole('link', { name: 'Choose why you need to see the record' }).waitFor()
    assert.deepEqual(await summary.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), ['#purpose'])
    assert.equal(await p.evaluate(() => document.activeElement?.classList.contains('govuk-error-summary')), true)
    assert.match(await p.locator('#purpose-error').innerText(), /Choose why you need to see the record/)
    assert.equal(await p.title(), `Error: ${RECORD_PAGE} – pathway`)
    assert.equal(await p.locator('#view').isVisible(), false)
    await expectAccessible('the shared record with a purpose refused', p)
    await screenshot('record-purpose-error', p)
    // No purpose: nothing is asked until one is chosen.
    const before = urls.filter((url) => url.includes('/record?')).length
    await p.goto(`${base}/record.html?child=${childId}`)
    await p.locator('#purpose-form').waitFor()
    await p.getByRole('button', { name: 'Show the record' }).click()
    await summary.getByRole('link', { name: 'Choose why you need to see the record' }).waitFor()
    assert.equal(urls.filter((url) => url.includes('/record?')).length, before, 'asked without a purpose')
    await summary.getByRole('link').click()
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'purpose')
  } finally {
    await other.close()
  }

  // A clinician of another agency, neither involved nor consented to.
  const outsider = await signedInContext({ token: readFileSync(otherAgencyTokenFile, 'utf8').trim() })
  try {
    assert.equal(outsider.session.agency, 'RYY99')
    const p = watch(await outsider.other.newPage())
    await p.goto(`${base}/record.html?child=${childId}&purpose=neurodevelopmental`)
    await p.locator('#cannot-see').waitFor()
    assert.equal(await p.locator('h1').innerText(), RECORD_CANNOT_SEE)
    assert.equal(await p.title(), `${RECORD_CANNOT_SEE} – pathway`)
    assert.match(await p.locator('#cannot-see').innerText(), /not given consent/)
    assert.equal(await p.locator('#view').isVisible(), false)
    assert.equal(await p.locator('.govuk-summary-card').count(), 0)
    assert.equal(await p.locator('#timeline-link').isVisible(), false, 'a link to a timeline it cannot see')
    assert.equal(await p.locator('#purpose-form').isVisible(), false)
    await expectNoContentLeaked(p, [RECORD.consented, RECORD.disputed, RECORD.disputing, RECORD.own])
    await expectAccessible('cannot see the shared record', p)
    await screenshot('record-cannot-see', p)
  } finally {
    await outsider.other.close()
  }
  // The 400 above is the gateway's answer, logged by chromium; nothing else.
  assert.deepEqual(problems.slice(problemsBefore).filter((line) => !/status of 400 /.test(line)), [])
})

test('the shared record: temporarily unavailable, tried again; statutory sharing, withdrawn consent and left-out fields', TIMEOUT, async () => {
  const problemsBefore = problems.length
  const { other } = await signedInContext({ role: 'clinician' })
  try {
    const p = watch(await other.newPage())
    const route = '**/v1/children/*/record*'
    const child = 'a'.repeat(64)
    await p.route(route, (r) => r.fulfill({
      status: 503,
      headers: { 'Retry-After': '1' },
      contentType: 'application/problem+json',
      body: JSON.stringify({ title: 'Service unavailable', status: 503, rule: 'engine.rebalancing', detail: 'the engines are rebalancing' })
    }))
    await p.goto(`${base}/record.html?child=${child}&purpose=annual_review`)
    await p.locator('#unavailable').waitFor()
    assert.match(await p.locator('#unavailable').innerText(), /temporarily unavailable\. Try again/)
    assert.equal(await p.locator('#view').isVisible(), false)
    await expectAccessible('the shared record unavailable', p)
    await screenshot('record-unavailable', p)

    // Back, as protobuf's JSON mapping prints it (defaults left out).
    await p.unroute(route)
    const date = (year, month, day) => ({ year, month, day })
    await p.route(route, (r) => r.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        childId: child,
        agency: 'RXX01',
        purpose: 'annual_review',
        on: date(2026, 3, 10),
        facts: [
          { type: 'FACT_TYPE_CURRENT_SETTING', disclosed: true, basis: 'statutory: SEND Regulations 2014 reg 6(1)', content: 'Line one\nLine two', sourceAgency: 'SCH01', recordedOn: date(2026, 3, 10) },
          { type: 'FACT_TYPE_NEEDS', basis: 'no_consent' }
        ],
        consents: [{ agency: 'RXX01', purpose: 'annual_review', decision: 'CONSENT_DECISION_WITHDRAWN', on: date(2026, 3, 1) }],
        legalBases: ['SEND Regulations 2014 reg 6(1)']
      })
    }))
    await p.getByRole('button', { name: 'Try again' }).click()
    await p.locator('body[data-state="view"]').waitFor()
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'heading', 'the focus is lost')
    const card = recordCard(p, 'FACT_TYPE_CURRENT_SETTING')
    assert.equal(await card.locator('h3').innerText(), 'Current school or setting')
    assert.deepEqual(await card.locator('[data-row="content"] p').allInnerTexts(), ['Line one', 'Line two'])
    assert.equal(await rowValue(card, 'given-by'), 'SCH01')
    assert.equal(await rowValue(card, 'recorded'), '10 March 2026')
    assert.equal(await rowValue(card, 'valid-until'), 'Not known')
    assert.equal(await rowValue(card, 'why'), 'Shared under SEND Regulations 2014 reg 6(1) without consent')
    assert.deepEqual(await withheldRows(p), [
      ['FACT_TYPE_NEEDS', 'Needs', 'The family has not consented to sharing this with you for the annual review of the EHC plan']
    ])
    assert.deepEqual(await p.locator('#consents-table tbody tr').evaluateAll((rows) => rows.map((r) =>
      [...r.cells].map((c) => c.innerText.trim()))), [['Annual review of the EHC plan', 'Withdrawn', '1 March 2026']])
    assert.equal(await p.locator('#consents-table .govuk-tag').getAttribute('class'), 'govuk-tag govuk-tag--grey')
    assert.equal(await summaryValue(p.locator('#summary'), 'Record as of'), '10 March 2026')
    await expectAccessible('the shared record with statutory sharing', p)
    await screenshot('record-statutory', p)
    await p.unroute(route)
  } finally {
    await other.close()
  }
  assert.deepEqual(problems.slice(problemsBefore), [])
})
