// Build time only (build.mjs): the GOV.UK markup of the step forms that
// src/js/steps.mjs describes. Every id is `${prefix}-${key}` (a date's parts add -day,
// -month, -year; radios after the first add -2, -3, ...), the group `${id}-group` with
// data-field the key, which step-form.mjs relies on to read values and place errors.
// Only our own strings go in, escaped all the same.

function escape (text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

function hint (id, text) {
  return text ? `<div id="${id}-hint" class="govuk-hint">${escape(text)}</div>` : ''
}

function describedBy (id, text) {
  return text ? ` aria-describedby="${id}-hint"` : ''
}

function group (id, field, inner) {
  return `<div class="govuk-form-group" data-field="${field.key}" id="${id}-group">
${inner}
</div>`
}

function input (id, field) {
  const nhs = field.type === 'nhs'
  const width = nhs ? 'govuk-input--width-10' : field.type === 'reference' || field.type === 'text' ? 'govuk-input--width-20' : 'govuk-!-width-full'
  return group(id, field, `<label class="govuk-label govuk-label--s" for="${id}">${escape(field.label)}</label>
${hint(id, field.hint)}
<input class="govuk-input ${width}" id="${id}" name="${id}" type="text"${describedBy(id, field.hint)}${nhs ? ' inputmode="numeric"' : ''} autocomplete="off" spellcheck="false">`)
}

function textarea (id, field) {
  return group(id, field, `<label class="govuk-label govuk-label--s" for="${id}">${escape(field.label)}</label>
${hint(id, field.hint)}
<textarea class="govuk-textarea" id="${id}" name="${id}" rows="3"${describedBy(id, field.hint)} autocomplete="off"></textarea>`)
}

function date (id, field) {
  const parts = [['day', 'Day', 2], ['month', 'Month', 2], ['year', 'Year', 4]].map(([part, label, width]) => `<div class="govuk-date-input__item">
<div class="govuk-form-group">
<label class="govuk-label govuk-date-input__label" for="${id}-${part}">${label}</label>
<input class="govuk-input govuk-date-input__input govuk-input--width-${width}" id="${id}-${part}" name="${id}-${part}" type="text" inputmode="numeric" autocomplete="off">
</div>
</div>`)
  return group(id, field, `<fieldset class="govuk-fieldset" role="group" aria-describedby="${id}-hint">
<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">${escape(field.label)}</legend>
${hint(id, field.hint ?? 'For example, 27 3 2025')}
<div class="govuk-date-input" id="${id}">
${parts.join('\n')}
</div>
</fieldset>`)
}

function radios (id, field) {
  const items = field.options.map(([value, label], i) => {
    const itemId = i === 0 ? id : `${id}-${i + 1}`
    return `<div class="govuk-radios__item">
<input class="govuk-radios__input" id="${itemId}" name="${id}" type="radio" value="${escape(value)}">
<label class="govuk-label govuk-radios__label" for="${itemId}">${escape(label)}</label>
</div>`
  })
  return group(id, field, `<fieldset class="govuk-fieldset"${describedBy(id, field.hint)}>
<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">${escape(field.label)}</legend>
${hint(id, field.hint)}
<div class="govuk-radios" data-module="govuk-radios">
${items.join('\n')}
</div>
</fieldset>`)
}

function checkbox (id, field) {
  return group(id, field, `<fieldset class="govuk-fieldset"${describedBy(id, field.hint)}>
<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">${escape(field.legend)}</legend>
${hint(id, field.hint)}
<div class="govuk-checkboxes govuk-checkboxes--small" data-module="govuk-checkboxes">
<div class="govuk-checkboxes__item">
<input class="govuk-checkboxes__input" id="${id}" name="${id}" type="checkbox" value="true">
<label class="govuk-label govuk-checkboxes__label" for="${id}">${escape(field.label)}</label>
</div>
</div>
</fieldset>`)
}

const render = { nhs: input, reference: input, text: input, textarea, date, radios, checkbox }

// One form. method="post": were it ever submitted without the page's script, the NHS
// number would travel in a body, never in a URL.
export function formHtml (step, { hidden = false } = {}) {
  const fields = step.fields.map((field) => {
    const make = render[field.type]
    if (!make) throw new Error(`${step.command}.${field.name}: no form field of type ${field.type}`)
    return make(`${step.prefix}-${field.key}`, field)
  })
  return `<form id="${step.id}" data-step="${step.id}" method="post" action="#" novalidate${hidden ? ' hidden' : ''}>
<h2 class="govuk-heading-m">${escape(step.heading)}</h2>
<p class="govuk-body">${escape(step.description)}</p>
${fields.join('\n')}
<button type="submit" class="govuk-button" data-module="govuk-button">${escape(step.button)}</button>
</form>`
}

// The forms of a page, with a section break between them.
export function formsHtml (steps, options) {
  return steps.map((step) => formHtml(step, options))
    .join('\n<hr class="govuk-section-break govuk-section-break--l govuk-section-break--visible">\n')
}

// The list a page of many forms starts with: each step a link to the page with ?step=
// its command (a name of ours, never anything typed), under its group's heading.
export function chooserHtml (page, groups) {
  return groups.map((g) => `<h2 class="govuk-heading-m">${escape(g.heading)}</h2>
<ul class="govuk-list">
${g.steps.map((step) => `<li><a class="govuk-link" href="/${page}?step=${step.command}">${escape(step.heading)}</a></li>`).join('\n')}
</ul>`).join('\n')
}
