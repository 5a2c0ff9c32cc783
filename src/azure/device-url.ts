/**
 * The one way this layer builds a device's URL: the id becomes exactly one percent-encoded path segment
 * under the device's collection, and the built URL is checked to still be there after URL resolution. An
 * id that could address anything else ('.', '..', their encoded forms) is refused before any request.
 */
import { isDotSegment } from '../domain/device-id';
import { FailureType } from '../domain/failure-codes';
import { AzureRequestError } from './errors';

/** Encodes a device id as one URL path segment (ids may hold '#', '?', '%', '$', '/'…). */
export function encodeDeviceIdSegment(deviceId: string): string {
  return encodeURIComponent(deviceId).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function refuse(deviceId: string): AzureRequestError {
  return new AzureRequestError({
    code: FailureType.InvalidDeviceId,
    deviceId,
    message:
      `device id '${deviceId}' cannot be addressed as a resource of its own (it is, or decodes to, a '.' or '..' ` +
      `path segment, which would address the hub itself); nothing was sent. Rename the device. Not retried.`,
  });
}

/**
 * `${collectionUrl}/${segment}?${query}` for one device, or AzureRequestError InvalidDeviceId when the id
 * would not stay in its own segment. `collectionUrl` has no query and no trailing slash.
 */
export function deviceResourceUrl(collectionUrl: string, deviceId: string, query: string): string {
  if (deviceId === '' || isDotSegment(deviceId)) throw refuse(deviceId);
  const segment = encodeDeviceIdSegment(deviceId);
  const collection = new URL(collectionUrl.replace(/\/+$/, ''));
  const url = new URL(`${collection.href}/${segment}?${query}`);
  if (url.origin !== collection.origin || url.pathname !== `${collection.pathname}/${segment}`) {
    throw refuse(deviceId);
  }
  return url.href;
}
