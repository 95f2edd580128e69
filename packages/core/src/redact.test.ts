import { describe, expect, it } from 'vitest';
import { Redactor } from './redact.js';

const PEM = '-----BEGIN TEST KEY-----\nMIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8\nAgEAAkEAq7BFUpkGp3+LQmlQ\n-----END TEST KEY-----';

describe('Redactor', () => {
  const redactor = new Redactor();
  redactor.add('pem', PEM);
  redactor.add('bin', Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0xc3, 0x28, 0x01, 0x02, 0xfe]));

  it('redacts a secret whole, each of its lines, and its JSON, base64 and hex forms', () => {
    expect(redactor.scrub(`x ${PEM} y`)).toBe('x <secret:pem> y');
    for (const line of PEM.split('\n')) expect(redactor.scrub(`+${line}`)).toBe('+<secret:pem>');
    expect(redactor.scrub(JSON.stringify(PEM))).toBe('"<secret:pem>"');
    expect(redactor.scrub(Buffer.from(PEM).toString('base64'))).toBe('<secret:pem>');
    expect(redactor.scrub(Buffer.from(PEM).toString('hex'))).toBe('<secret:pem>');
  });

  it('redacts any substring of 8 characters or more, such as a message quoting the first 40', () => {
    const quoted = `got the string "${PEM.slice(30, 70)}…"`;
    const scrubbed = redactor.scrub(quoted);
    expect(scrubbed).toBe('got the string "<secret:pem>…"');
    expect(redactor.scrub('MIIBVgIB')).toBe('<secret:pem>');
    // Shorter fragments and unrelated text stay.
    expect(redactor.scrub('MIIBVgI and --------')).toBe('MIIBVgI and --------');
    // Digits alone (a timestamp, a version) are not taken for a piece of a secret that ends in a timestamp.
    const stamped = new Redactor();
    stamped.add('db', 'db-password-x1y2-1764551234567');
    expect(stamped.scrub('site-1.0.1764551234 at 17645512345')).toBe('site-1.0.1764551234 at 17645512345');
    expect(stamped.scrub('password-x1y2-17')).toBe('<secret:db>');
  });

  it('redacts binary secrets as text, base64 and hex, and bytes in JSON values', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0xc3, 0x28, 0x01, 0x02, 0xfe]);
    expect(redactor.scrub(`a${bytes.toString('latin1')}b`)).toBe('a<secret:bin>b');
    expect(redactor.scrub(bytes.toString('base64'))).toBe('<secret:bin>');
    expect(redactor.scrub(bytes.toString('hex'))).toBe('<secret:bin>');
    expect(redactor.scrubValue({ content: bytes, other: Buffer.from('plain bytes') })).toEqual({ content: '<secret:bin>', other: '<11 bytes>' });
  });
});
