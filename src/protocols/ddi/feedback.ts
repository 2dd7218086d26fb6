/**
 * DDI feedback bodies, read leniently: `id` may be a number (SWUpdate), a string (rauc-hawkbit-updater)
 * or absent (Zephyr); the action id in the path is what counts. Only a closed action with a finished
 * result is a result; progress (`proceeding`, `downloaded`, `none`) changes nothing.
 */
export interface Feedback {
  execution?: string;
  finished?: string;
  result?: 'success' | 'failure';
}

export function parseFeedback(text: string): Feedback {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  const status = (body as { status?: { execution?: unknown; result?: { finished?: unknown } } } | null)?.status;
  const execution = typeof status?.execution === 'string' ? status.execution.toLowerCase() : undefined;
  const finished = typeof status?.result?.finished === 'string' ? status.result.finished.toLowerCase() : undefined;
  const f: Feedback = { ...(execution ? { execution } : {}), ...(finished ? { finished } : {}) };
  if (finished === 'failure' && (execution === 'closed' || execution === undefined)) f.result = 'failure';
  else if (finished === 'success' && (execution === 'closed' || execution === undefined)) f.result = 'success';
  return f;
}

/**
 * What a cancelAction feedback says, as hawkBit reads it: `closed` (or `canceled`) without a failure
 * confirms the cancel, `rejected` or a `failure` result refuses it, anything else is progress.
 */
export function cancelVerdict(f: Feedback): 'confirmed' | 'rejected' | undefined {
  if (f.execution === 'rejected' || f.finished === 'failure') return 'rejected';
  if (f.execution === 'closed' || f.execution === 'canceled') return 'confirmed';
  return undefined;
}
