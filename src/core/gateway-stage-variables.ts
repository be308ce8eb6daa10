/**
 * `${stageVariables.NAME}` references, as API Gateway lets integration URIs carry them (a Lambda
 * function's name or alias per stage). Pure.
 */
const REFERENCE = /\$\{stageVariables\.([A-Za-z0-9_]+)\}/g;

export function hasStageVariables(template: string): boolean {
  REFERENCE.lastIndex = 0;
  return REFERENCE.test(template);
}

/**
 * The template with each reference replaced by `lookup(NAME)`; undefined when a name has no value
 * (a stage that does not define a variable the URI names).
 */
export function substituteStageVariables(template: string, lookup: (name: string) => string | undefined): string | undefined {
  let missing = false;
  const out = template.replace(REFERENCE, (_ref, name: string) => {
    const v = lookup(name);
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? undefined : out;
}
