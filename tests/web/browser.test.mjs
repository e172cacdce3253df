// The web app as a clinician uses it, in Debian's chromium (headless) driven by
// playwright-core, against a running devbroker + engine + gateway that
// tests/web/browser_test.sh starts (it also publishes the child's referral). axe-core
// checks every page and state against WCAG 2.2 AA; a keyboard-only pass records a step
// without the mouse. Run with node's test runner; the tests run in order and share one
// browser. Every wait is bounded (Playwright's timeouts, the tests' own).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const base = process.env.PATHWAY_BASE_URL
const nhs = process.env.PATHWAY_NHS_NUMBER
const referralId = process.env.PATHWAY_REFERRAL_ID
const artifacts = process.env.PATHWAY_ARTIFACTS
const webDir = process.env.PATHWAY_WEB_DIR
for (const [name, value] of Object.entries({ base, nhs, referralId, artifacts, webDir })) {
  if (!value) throw new Error(`${name} is not set: run tests/web/browser_test.sh`)
}

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
const urls = [] // every URL the page asked for
let shot = 0

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
  page = await context.newPage()
  page.on('console', (message) => {
    // The API's expected refusals (not signed in, a mistake in a form) are no problem; a
    // CSP violation, a missing file or a script error is.
    const expected = /^Failed to load resource: the server responded with a status of (401|422) /
    if (message.type() === 'error' && !expected.test(message.text())) problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('request', (request) => urls.push(request.url()))
})

after(async () => {
  await browser?.close()
})

// axe-core in the page (evaluated through the DevTools protocol, so the page's CSP,
// which would refuse an injected script, stays as the gateway sent it).
async function expectAccessible (state) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource)
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG)
  const violations = results.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  assert.deepEqual(violations, [], `axe-core found WCAG 2.2 AA violations on ${state}`)
}

async function screenshot (name) {
  shot += 1
  await page.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true })
}

async function fillDate (prefix, day, month, year) {
  await page.fill(`#${prefix}-date-day`, day)
  await page.fill(`#${prefix}-date-month`, month)
  await page.fill(`#${prefix}-date-year`, year)
}

async function expectNoPersonalDataInTitleOrUrl () {
  const title = await page.title()
  assert.ok(!title.includes(nhs) && !title.includes(referralId), `the title holds what was typed: ${title}`)
  for (const url of urls) assert.ok(!url.includes(nhs), `an NHS number in a URL: ${url}`)
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
