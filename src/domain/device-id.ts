/**
 * What makes a device id safe to put in a URL path, shared by the inventory (which refuses such ids where
 * they enter) and the Azure layer (which never builds a URL that leaves the device's segment). Pure.
 */

/**
 * Whether an id is, or percent-decodes (once or more) to, the path segment '.' or '..'. Such an id would
 * leave its own URL segment (URL resolution collapses it onto the parent resource), so it is refused
 * wherever ids enter, even though '.' and '%' are characters IoT Hub allows.
 */
export function isDotSegment(deviceId: string): boolean {
  let current = deviceId;
  // Each decoding shortens an id that changes, so this ends within its length (128 at most).
  for (;;) {
    if (current === '.' || current === '..') return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return false;
    }
    if (decoded === current) return false;
    current = decoded;
  }
}
