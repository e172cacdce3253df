// Builds web/dist/: the pages (each in the GOV.UK page template), the app's own ES
// modules as they are, and GOV.UK Frontend's CSS, JS, fonts and images copied from
// node_modules. No bundler, no CDN, no inline script or style: the gateway's
// Content-Security-Policy `default-src 'self'` holds. Run by `npm run build`.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chooserHtml, formHtml, formsHtml } from './forms.mjs'
import { ehcGroups, ndSteps } from './src/js/steps.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, 'dist')
const govuk = join(here, 'node_modules', 'govuk-frontend')
const govukVersion = JSON.parse(readFileSync(join(govuk, 'package.json'), 'utf8')).version
const pinned = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies['govuk-frontend']
if (govukVersion !== pinned) {
  throw new Error(`govuk-frontend ${govukVersion} installed, ${pinned} pinned: run npm ci`)
}
// Versioned, so the gateway may let browsers keep /assets/ for a year.
const govukAssets = `/assets/govuk-frontend-${govukVersion}`

// The pages: file, title (never anything a person typed), the module that drives it and,
// for a page of step forms, the forms' markup (src/js/steps.mjs) in place of @FORMS@.
const pages = [
  { file: 'index.html', title: 'Sign in', script: 'sign-in.mjs' },
  { file: 'start.html', title: 'Start', script: 'start.mjs' },
  { file: 'nd-step.html', title: 'Record a neurodevelopmental assessment step', script: 'nd-step.mjs', forms: () => formsHtml(ndSteps) },
  {
    file: 'ehc-step.html',
    title: 'Record an EHC step',
    script: 'ehc-step.mjs',
    // A list of the steps, or the one form ?step= names (ehc-step.mjs shows which).
    forms: () => `<div id="chooser" hidden>
<p class="govuk-body">Choose the step to record.</p>
${chooserHtml('ehc-step.html', ehcGroups)}
</div>
<div id="forms" hidden>
<p class="govuk-body"><a class="govuk-link" href="/ehc-step.html">Choose another step</a></p>
${ehcGroups.flatMap((g) => g.steps).map((step) => formHtml(step, { hidden: true })).join('\n')}
</div>`
  },
  { file: 'find.html', title: 'Find a child', script: 'find.mjs' },
  { file: 'timeline.html', title: 'Child’s timeline', script: 'timeline.mjs' },
  { file: 'record.html', title: 'Child’s shared record', script: 'record.mjs' },
  { file: 'deadletters.html', title: 'Dead letters', script: 'deadletters.mjs' },
  // Two lists, one page source and one module (caseload.mjs): @NAME@ is the page's vars.NAME.
  {
    file: 'caseload.html',
    title: 'My caseload',
    script: 'caseload.mjs',
    vars: {
      LIST: 'caseload',
      SORT: 'next_deadline',
      HEADING: 'My caseload',
      INTRO: 'The children whose pathways your service is working on: every pathway not yet ended of which your service, or your team, has recorded a step.'
    }
  },
  {
    file: 'waiting.html',
    source: 'caseload.html',
    title: 'Waiting list',
    script: 'caseload.mjs',
    vars: {
      LIST: 'waiting',
      SORT: 'waited',
      HEADING: 'Waiting list',
      INTRO: 'The children waiting for your service: pathways in a waiting state, such as waiting for or in a neurodevelopmental assessment, or an EHC needs assessment until the decision or the plan.'
    }
  }
]

function layout ({ title, script, body }) {
  return `<!DOCTYPE html>
<html lang="en-GB" class="govuk-template">
<head>
  <meta charset="utf-8">
  <title>${title} – pathway</title>
  <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
  <meta name="theme-color" content="#1d70b8">
  <link rel="icon" sizes="48x48" href="/assets/images/favicon.ico">
  <link rel="icon" sizes="any" href="/assets/images/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="${govukAssets}/govuk-frontend.min.css">
  <script type="module" src="/js/${script}"></script>
</head>
<body class="govuk-template__body">
  <a href="#main-content" class="govuk-skip-link" data-module="govuk-skip-link">Skip to main content</a>
  <header class="govuk-template__header">
    <div class="govuk-generic-header">
      <div class="govuk-generic-header__container govuk-width-container">
        <div class="govuk-generic-header__logo">
          <a href="/" class="govuk-generic-header__homepage-link">pathway</a>
        </div>
      </div>
    </div>
  </header>
  <div class="govuk-width-container">
    <div class="govuk-phase-banner">
      <p class="govuk-phase-banner__content">
        <strong class="govuk-tag govuk-phase-banner__content__tag">Development</strong>
        <span class="govuk-phase-banner__text">This service is being built: use it only with test records.</span>
      </p>
    </div>
    <main class="govuk-main-wrapper" id="main-content">
${body}
    </main>
  </div>
  <footer class="govuk-footer">
    <div class="govuk-width-container">
      <div class="govuk-footer__meta">
        <div class="govuk-footer__meta-item govuk-footer__meta-item--grow">
          <p class="govuk-body-s">pathway: referrals and pathways for the local SEND partnership</p>
        </div>
      </div>
    </div>
  </footer>
</body>
</html>
`
}

rmSync(dist, { recursive: true, force: true })
mkdirSync(join(dist, 'js'), { recursive: true })
mkdirSync(join(dist, govukAssets), { recursive: true })

for (const name of ['govuk-frontend.min.css', 'govuk-frontend.min.css.map',
  'govuk-frontend.min.js', 'govuk-frontend.min.js.map']) {
  cpSync(join(govuk, 'dist', 'govuk', name), join(dist, govukAssets, name))
}
// The CSS names /assets/fonts/... and /assets/images/...
cpSync(join(govuk, 'dist', 'govuk', 'assets', 'fonts'), join(dist, 'assets', 'fonts'), { recursive: true })
cpSync(join(govuk, 'dist', 'govuk', 'assets', 'images'), join(dist, 'assets', 'images'), { recursive: true })

for (const name of readdirSync(join(here, 'src', 'js'))) {
  if (!name.endsWith('.mjs')) continue
  const text = readFileSync(join(here, 'src', 'js', name), 'utf8')
    .replaceAll('@GOVUK_FRONTEND@', `${govukAssets}/govuk-frontend.min.js`)
  writeFileSync(join(dist, 'js', name), text)
}

for (const page of pages) {
  let body = readFileSync(join(here, 'src', 'pages', page.source ?? page.file), 'utf8')
  for (const [name, value] of Object.entries(page.vars ?? {})) body = body.replaceAll(`@${name}@`, () => value)
  if (page.forms) {
    if (!body.includes('@FORMS@')) throw new Error(`${page.file}: no @FORMS@ for its forms`)
    body = body.replace('@FORMS@', () => page.forms()) // a function: no $ patterns
  }
  const unset = /@[A-Z]+@/.exec(body)
  if (unset) throw new Error(`${page.file}: ${unset[0]} has no value`)
  if (/<script(?![^>]*\bsrc=)|\sstyle=|<style|\son[a-z]+=/i.test(body)) {
    throw new Error(`${page.file}: inline script, style or event handler (the CSP forbids them)`)
  }
  writeFileSync(join(dist, page.file), layout({ ...page, body }))
}
console.log(`web/dist: ${pages.length} pages, GOV.UK Frontend ${govukVersion}`)
