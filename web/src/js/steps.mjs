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

// --- EHC needs assessment, annual review and phase transfer (ehc-step.html, for
// caseworkers): proto/pathway/v1/pathways.proto, Envelope fields 140-149 and 200-208.

const request = reference('request_id', 'Request ID',
  'The council’s reference for the request, for example EHC-REQ-2025-118',
  'There is no EHC needs assessment with this request ID for this child')
const review = reference('review_id', 'Review ID',
  'The council’s reference for this review of the plan, for example AR-2025-0042',
  'There is no annual review with this review ID for this child')

const ADVICE_SOURCES = [
  ['ADVICE_SOURCE_PARENT', 'Parent'],
  ['ADVICE_SOURCE_EDUCATION', 'Education (school, college or early years setting)'],
  ['ADVICE_SOURCE_HEALTH', 'Health'],
  ['ADVICE_SOURCE_EDUCATIONAL_PSYCHOLOGY', 'Educational psychology'],
  ['ADVICE_SOURCE_SOCIAL_CARE', 'Social care'],
  ['ADVICE_SOURCE_PREPARING_FOR_ADULTHOOD', 'Preparing for adulthood (from Year 9)'],
  ['ADVICE_SOURCE_SENSORY', 'Vision or hearing impairment']
]
const URN_HINT = 'Its unique reference number (URN), for example 100000'

function appealRights (hint) {
  return checkbox('appeal_rights_given', 'Appeal rights', 'The family was told of their right to appeal', hint)
}

export const ehcAssessmentSteps = [
  step({
    command: 'ehc_assessment_requested',
    heading: 'Request for an assessment received',
    description: 'The council received a request for an EHC needs assessment: the 6-week decision clock starts.',
    button: 'Record the request',
    done: 'Request recorded',
    fields: [nhs, request,
      radios('requested_by', 'Who made the request', [
        ['EHC_REQUESTER_PARENT', 'Parent'],
        ['EHC_REQUESTER_YOUNG_PERSON', 'The young person'],
        ['EHC_REQUESTER_SCHOOL_OR_COLLEGE', 'School or college'],
        ['EHC_REQUESTER_PROFESSIONAL', 'Another professional']
      ], 'Select who made the request'),
      date('received_on', 'Date the council received the request')]
  }),
  step({
    command: 'ehc_assessment_decided',
    heading: 'Decision whether to assess',
    description: 'The council decided whether to carry out an EHC needs assessment.',
    button: 'Record the decision',
    done: 'Decision recorded',
    fields: [nhs, request,
      radios('decision', 'Decision', [
        ['ASSESSMENT_DECISION_ASSESS', 'Assess'],
        ['ASSESSMENT_DECISION_REFUSE', 'Refuse to assess']
      ], 'Select the decision'),
      date('decided_on', 'Date of the decision'),
      appealRights('Required for a refusal (SEND Regulations 2014 reg 5(3))')]
  }),
  step({
    command: 'ehc_advice_requested',
    heading: 'Advice requested',
    description: 'Advice was asked for: it is due within 6 weeks.',
    button: 'Record the advice requested',
    done: 'Advice request recorded',
    fields: [nhs, request, radios('source', 'Advice from', ADVICE_SOURCES, 'Select who the advice is from'),
      date('requested_on', 'Date the advice was requested')]
  }),
  step({
    command: 'ehc_advice_received',
    heading: 'Advice received',
    description: 'Advice that was asked for has arrived.',
    button: 'Record the advice received',
    done: 'Advice recorded',
    fields: [nhs, request, radios('source', 'Advice from', ADVICE_SOURCES, 'Select who the advice is from'),
      date('received_on', 'Date the advice was received')]
  }),
  step({
    command: 'ehc_decided_not_to_issue',
    heading: 'Decided not to issue a plan',
    description: 'After the assessment, the council decided not to issue an EHC plan.',
    button: 'Record the decision not to issue',
    done: 'Decision not to issue recorded',
    fields: [nhs, request, date('decided_on', 'Date of the decision'),
      appealRights('Required (SEND Regulations 2014 reg 10(1))')]
  }),
  step({
    command: 'ehc_draft_plan_issued',
    heading: 'Draft plan issued',
    description: 'The draft plan was served on the family: they have at least 15 days to comment.',
    button: 'Record the draft plan',
    done: 'Draft plan recorded',
    fields: [nhs, request, date('served_on', 'Date the draft plan was served')]
  }),
  step({
    command: 'ehc_draft_plan_comments_received',
    heading: 'Comments on the draft plan received',
    description: 'The family commented on the draft plan, and may have asked for a school or college.',
    button: 'Record the comments',
    done: 'Comments recorded',
    fields: [nhs, request, date('received_on', 'Date the comments were received'),
      text('school_preference', 'School or college the family asks for (optional)', URN_HINT, REFERENCE_MAX)]
  }),
  step({
    command: 'ehc_final_plan_issued',
    heading: 'Final plan issued',
    description: 'The final EHC plan was issued.',
    button: 'Record the final plan',
    done: 'Final plan recorded',
    fields: [nhs, request, date('issued_on', 'Date the final plan was issued'),
      text('named_setting', 'Setting named in section I (optional)', URN_HINT, REFERENCE_MAX)]
  }),
  step({
    command: 'ehc_exception_recorded',
    heading: 'Exception to the time limits',
    description: 'A reason the time limits need not be met (SEND Regulations 2014 reg 10(4)). It is reported; it moves no deadline.',
    button: 'Record the exception',
    done: 'Exception recorded',
    fields: [nhs, request,
      radios('exception', 'Exception', [
        ['STATUTORY_EXCEPTION_SCHOOL_CLOSED', 'The school or college was closed for 4 weeks or more'],
        ['STATUTORY_EXCEPTION_EARLY_YEARS_CLOSED', 'The early years setting was closed for 4 weeks or more'],
        ['STATUTORY_EXCEPTION_PERSONAL_CIRCUMSTANCES', 'Exceptional personal circumstances of the child or family'],
        ['STATUTORY_EXCEPTION_AWAY_FROM_AREA', 'The child or family was away from the area for 4 weeks or more']
      ], 'Select the exception'),
      date('recorded_on', 'Date the exception was recorded')]
  }),
  step({
    command: 'ehc_request_withdrawn',
    heading: 'Request withdrawn',
    description: 'The request for an assessment was withdrawn.',
    button: 'Record the withdrawal',
    done: 'Withdrawal recorded',
    fields: [nhs, request, date('withdrawn_on', 'Date the request was withdrawn')]
  })
]

export const reviewSteps = [
  step({
    command: 'annual_review_due',
    heading: 'Annual review due',
    description: 'Starts the review of a plan: due within 12 months of the plan or its last review.',
    button: 'Record the review due',
    done: 'Review recorded',
    fields: [nhs, review, date('plan_or_last_review_on', 'Date of the plan or its last review'),
      date('date_of_birth', 'Date of birth (optional)', {
        optional: true,
        hint: 'Leave it blank when pathway already holds it from the child’s referral. For example, 27 3 2014'
      })]
  }),
  step({
    command: 'annual_review_meeting_scheduled',
    heading: 'Review meeting arranged',
    description: 'Notice of the review meeting was sent: at least two weeks before it.',
    button: 'Record the meeting arranged',
    done: 'Meeting arrangement recorded',
    fields: [nhs, review, date('notice_sent_on', 'Date the notice was sent'),
      date('meeting_on', 'Date of the meeting', { future: true })]
  }),
  step({
    command: 'annual_review_meeting_held',
    heading: 'Review meeting held',
    description: 'The review meeting took place: the report is due within 2 weeks, the decision within 4.',
    button: 'Record the meeting held',
    done: 'Meeting recorded',
    fields: [nhs, review, date('held_on', 'Date the meeting was held'),
      checkbox('preparing_for_adulthood_discussed', 'Preparing for adulthood',
        'The meeting considered preparing for adulthood', 'Required from Year 9 (SEND Regulations 2014 reg 20(6))')]
  }),
  step({
    command: 'annual_review_report_sent',
    heading: 'Review report sent',
    description: 'The report of the review meeting was sent.',
    button: 'Record the report sent',
    done: 'Report recorded',
    fields: [nhs, review, date('sent_on', 'Date the report was sent')]
  }),
  step({
    command: 'annual_review_decided',
    heading: 'Review decision',
    description: 'The council decided to maintain, amend or cease the plan.',
    button: 'Record the decision',
    done: 'Decision recorded',
    fields: [nhs, review,
      radios('decision', 'Decision', [
        ['REVIEW_DECISION_MAINTAIN', 'Maintain the plan as it is'],
        ['REVIEW_DECISION_AMEND', 'Amend the plan'],
        ['REVIEW_DECISION_CEASE', 'Cease to maintain the plan']
      ], 'Select the decision'),
      date('decided_on', 'Date of the decision'),
      appealRights('Required to cease the plan (Children and Families Act 2014 s51)')]
  }),
  step({
    command: 'plan_amendment_proposed',
    heading: 'Amendments proposed',
    description: 'The proposed amendments were sent to the family: they have at least 15 days to comment.',
    button: 'Record the amendments proposed',
    done: 'Proposed amendments recorded',
    fields: [nhs, review, date('proposed_on', 'Date the amendments were proposed')]
  }),
  step({
    command: 'plan_amendment_comments_received',
    heading: 'Comments on the amendments received',
    description: 'The family commented on the proposed amendments.',
    button: 'Record the comments',
    done: 'Comments recorded',
    fields: [nhs, review, date('received_on', 'Date the comments were received')]
  }),
  step({
    command: 'amended_plan_issued',
    heading: 'Amended plan issued',
    description: 'The amended plan was issued.',
    button: 'Record the amended plan',
    done: 'Amended plan recorded',
    fields: [nhs, review, date('issued_on', 'Date the amended plan was issued')]
  })
]

export const phaseTransferSteps = [
  step({
    command: 'phase_transfer_due',
    heading: 'Phase transfer',
    description: 'The child moves to a new phase of education: the plan must be reviewed and amended in time.',
    button: 'Record the phase transfer',
    done: 'Phase transfer recorded',
    fields: [nhs, review,
      radios('transfer', 'Transfer', [
        ['PHASE_TRANSFER_SCHOOL', 'Between schools (early years, infant, junior, primary or secondary)'],
        ['PHASE_TRANSFER_SECONDARY_TO_POST16', 'From secondary school to post-16'],
        ['PHASE_TRANSFER_POST16_TO_POST16', 'From one post-16 institution to another']
      ], 'Select the transfer'),
      date('moves_on', 'Date of the move', { future: true }),
      date('recorded_on', 'Date the transfer was recorded on the review')]
  })
]

// ehc-step.html: the steps in groups, as its chooser lists them.
export const ehcGroups = [
  { heading: 'EHC needs assessment', steps: ehcAssessmentSteps },
  { heading: 'Annual review and plan amendment', steps: reviewSteps },
  { heading: 'Phase transfer', steps: phaseTransferSteps }
]
