/**
 * Clean strings: what a remote server sends must not steer a terminal, a log line,
 * the table or a notification.
 *
 * "Control" here is every C0 and C1 control character, DEL, the Unicode line and
 * paragraph separators and the bidirectional overrides and isolates (a "Trojan
 * source" reorders what a reader sees). Values are validated when read (a graph
 * version must parse, a channel must match its pattern); `printable` is for the few
 * places that name a rejected value in a message.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_GLOBAL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function hasControlCharacters(value: string): boolean {
  return CONTROL.test(value);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Output that is already laid out (a table, JSON text, a message line) with every
 * control character but the newline written as `\uXXXX`. In JSON text this changes
 * no value: C0 characters inside strings are escaped by JSON.stringify already, and
 * `\uXXXX` is how JSON spells the rest.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escape);
}

/**
 * A value quoted for a message: JSON-quoted, every control character escaped as
 * `\uXXXX`, and cut to `max` characters (`…` marks the cut).
 */
export function printable(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut).replace(CONTROL_GLOBAL, escape);
}
