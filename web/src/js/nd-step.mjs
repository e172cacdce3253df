// "Record a neurodevelopmental assessment step": one form per step a clinician records
// (src/js/steps.mjs describes them; step-form.mjs checks, sends and explains them).
import { requireSession, roleName, startPage } from './app.mjs'
import { bindStepForms } from './step-form.mjs'
import { ndSteps } from './steps.mjs'

startPage()

const PAGE = 'Record a neurodevelopmental assessment step'

async function main () {
  const session = await requireSession()
  if (!session) return
  document.getElementById('signed-in-as').textContent = `${session.id} (${roleName(session.role)}, ${session.agency})`
  bindStepForms(document, ndSteps, { page: () => PAGE, session, feedback: document.getElementById('feedback') })
  document.getElementById('forms').hidden = false
}

main()
