// "Record an EHC step": the steps of an EHC needs assessment, an annual review (with
// plan amendment) and a phase transfer that a caseworker records. Without ?step= the
// page lists them; with ?step=<command> it shows that step's form alone (one thing per
// page). The forms are src/js/steps.mjs's, checked, sent and explained by step-form.mjs.
import { requireSession, roleName, setTitle, startPage } from './app.mjs'
import { bindStepForms } from './step-form.mjs'
import { ehcGroups } from './steps.mjs'

startPage()

const PAGE = 'Record an EHC step'
const steps = ehcGroups.flatMap((g) => g.steps)

async function main () {
  const session = await requireSession()
  if (!session) return
  document.getElementById('signed-in-as').textContent = `${session.id} (${roleName(session.role)}, ${session.agency})`
  // Only a step of ours is ever looked up, so nothing from the URL reaches the page.
  const wanted = new URLSearchParams(window.location.search).get('step')
  const step = steps.find((s) => s.command === wanted)
  if (!step) {
    document.getElementById('chooser').hidden = false
    return
  }
  const page = () => `${step.heading} – ${PAGE}`
  setTitle(page())
  bindStepForms(document, [step], { page, session, feedback: document.getElementById('feedback') })
  document.getElementById(step.id).hidden = false
  document.getElementById('forms').hidden = false
}

main()
