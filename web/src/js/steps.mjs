// The step forms as data: one entry per command a person records in the browser, with
// its fields. build.mjs turns each entry into GOV.UK form markup at build time
// (web/forms.mjs) and step-form.mjs checks, sends and explains the same entries at run
// time, so a form's HTML, its checks and its body cannot drift apart. Pure data: no
// browser API, so node imports it too.
//
// A field: {type, name (the protobuf field name), key (the id suffix: `${prefix}-${key}`),
// label, hint?, ...}. Types: 'nhs' (the child, sent as subject.nhsNumber), 'reference'
// (the case's reference, required), 'date' (a pathway.v1.Date: `future` allows a date
// after today, `optional` allows it blank), 'radios' (an enum: options [value, label]),
// 'checkbox' (a bool, true when ticked), 'text' and 'textarea' (optional unless
// `required`; `max` bytes as the engine's input limits have them).

// "attended_on" -> "attendedOn": the protobuf JSON name.
export function camel (snake) {
  return snake.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())
}

function lowerFirst (text) {
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text
}

const NHS_HINT = 'The child’s 10-digit NHS number, for example 943 476 5919'
const REFERENCE_MAX = 128 // an identifier (workflow/input_limits.cc)

function field (type, name, label, extra = {}) {
  return { type, name, key: name.replaceAll('_', '-'), json: camel(name), label, ...extra }
}

const nhs = field('nhs', 'nhs_number', 'NHS number', { hint: NHS_HINT, missing: 'Enter the child’s NHS number' })

function reference (name, label, hint, unknown) {
  return field('reference', name, label, { hint, unknown, max: REFERENCE_MAX, missing: `Enter the ${lowerFirst(label)}` })
}

function date (name, label, extra = {}) {
  return field('date', name, label, { missing: `Enter the ${lowerFirst(label)}`, ...extra })
}

function radios (name, label, options, missing) {
  return field('radios', name, label, { options, missing })
}

function checkbox (name, legend, label, hint) {
  return field('checkbox', name, label, { legend, hint })
}

function text (name, label, hint, max) {
  return field('text', name, label, { hint, max })
}

// A form: id (the form's id and data-step), prefix (of its fields' ids), the command
// (its Envelope payload field), its heading, description, button and success title.
function step (spec) {
  const prefix = spec.prefix ?? spec.command.replaceAll('_', '-')
  return { id: prefix, prefix, payload: camel(spec.command), ...spec }
}

// --- Neurodevelopmental assessment (nd-step.html, for clinicians) -----------------------

const ndReferral = reference('referral_id', 'Referral ID',
  'The neurodevelopmental service’s referral ID, for example RV5-ND-25-0147',
  'There is no neurodevelopmental referral with this referral ID for this child')

export const ndSteps = [
  step({
    id: 'first-appointment',
    prefix: 'fa',
    command: 'nd_first_appointment_attended',
    heading: 'First appointment attended',
    description: 'The child came to their first assessment appointment.',
    button: 'Record first appointment',
    done: 'First appointment recorded',
    fields: [nhs, ndReferral,
      date('attended_on', 'Date attended', { key: 'date', missing: 'Enter the date the first appointment was attended' })]
  }),
  step({
    id: 'outcome',
    prefix: 'oc',
    command: 'nd_outcome_recorded',
    heading: 'Outcome recorded',
    description: 'The assessment has reached its outcome.',
    button: 'Record outcome',
    done: 'Outcome recorded',
    fields: [nhs, ndReferral,
      radios('outcome', 'Outcome', [
        ['ND_OUTCOME_DIAGNOSED', 'Diagnosed'],
        ['ND_OUTCOME_NOT_DIAGNOSED', 'Not diagnosed'],
        ['ND_OUTCOME_INCONCLUSIVE', 'Inconclusive']
      ], 'Select the outcome'),
      date('decided_on', 'Date of the outcome', { key: 'date', missing: 'Enter the date the outcome was decided' })]
  }),
  step({
    id: 'discharge',
    prefix: 'dc',
    command: 'nd_discharged',
    heading: 'Discharged',
    description: 'The child has been discharged from the neurodevelopmental service.',
    button: 'Record discharge',
    done: 'Discharge recorded',
    fields: [nhs, ndReferral,
      date('discharged_on', 'Date discharged', { key: 'date', missing: 'Enter the date the child was discharged' }),
      field('textarea', 'reason', 'Reason for discharge', { required: true, max: 4000, missing: 'Enter the reason for discharge' })]
  })
]
