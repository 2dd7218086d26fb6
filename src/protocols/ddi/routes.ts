/**
 * Where the hawkBit DDI routes live: every one is under `/{tenant}/controller/v1/{controllerId}`.
 * Metrics use this to count DDI requests under `protocol="ddi"`.
 */

/** The route template every DDI route starts with. */
export const DDI_BASE = '/:tenant/controller/v1/:controllerId';

/** Whether a route template (as the metrics name it) is a DDI route. */
export function isDdiRoute(template: string): boolean {
  return template === DDI_BASE || template.startsWith(`${DDI_BASE}/`);
}
