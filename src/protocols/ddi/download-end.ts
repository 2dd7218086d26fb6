/**
 * When a DDI artifact download counts as the whole image reaching the controller: the fleet is told
 * (`FleetService.downloadCompleted`, protocol `ddi`) once the device listener wrote every byte of an
 * answer that ends at the image's last byte: a `200`, or a `206` whose range ends there (the last
 * piece of a resumed download; the pieces before it are not checked). An answer cut short, or a
 * range that stops earlier, leaves the outcome `downloading`. Feedback then closes the deployment.
 */
import type { DeviceReply } from '../../http/device-api.ts';
import type { FleetService } from '../../fleet/service.ts';
import { bootId } from '../../fleet/instance.ts';
import type { ControllerRequest, Offered } from './controller.ts';

/** The `onSent` of an artifact reply for the release `o` offered to the controller of `c`. */
export function downloadEnd(reply: DeviceReply, o: Offered, c: ControllerRequest, fleet: FleetService | undefined): DeviceReply['onSent'] {
  const expected = bodyLength(reply);
  const last = (reply.status === 200 || reply.status === 206) && !reply.partial && expected > 0;
  const boot = bootId(c);
  return (bytes, ok) => {
    if (fleet && last && ok && bytes === expected) fleet.downloadCompleted(o.instance, o.stream, o.release.version, boot, c.remoteAddress, 'ddi');
  };
}

/** The number of body bytes a reply sends (0 for none or text). */
function bodyLength(reply: DeviceReply): number {
  const body = reply.body;
  if (body === null || typeof body === 'string') return 0;
  return Buffer.isBuffer(body) ? body.byteLength : body.end - body.start + 1;
}
