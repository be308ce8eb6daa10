import { createHash } from 'node:crypto';

/** A message attribute as SQS carries it (BinaryValue already decoded from base64). */
export interface SqsAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Buffer;
  StringListValues?: string[];
  BinaryListValues?: Buffer[];
}

export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** MD5OfMessageBody / MD5OfBody: the hex MD5 of the UTF-8 body. */
export function md5OfBody(body: string): string {
  return md5Hex(Buffer.from(body, 'utf8'));
}

/**
 * MD5OfMessageAttributes (and MD5OfMessageSystemAttributes), computed exactly as SQS does:
 * attributes sorted by name; for each, the 4-byte big-endian length and UTF-8 bytes of the name,
 * then of the data type, then a transport byte (1 string, 2 binary, 3 string list, 4 binary
 * list) and the length-prefixed value(s). Undefined for no attributes.
 */
export function md5OfMessageAttributes(attrs: Record<string, SqsAttributeValue> | undefined): string | undefined {
  if (!attrs) return undefined;
  const names = Object.keys(attrs).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const lenPrefixed = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of names) {
    const v = attrs[name]!;
    lenPrefixed(Buffer.from(name, 'utf8'));
    lenPrefixed(Buffer.from(v.DataType, 'utf8'));
    if (v.StringValue !== undefined) {
      parts.push(Buffer.from([1]));
      lenPrefixed(Buffer.from(v.StringValue, 'utf8'));
    } else if (v.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lenPrefixed(v.BinaryValue);
    } else if (v.StringListValues !== undefined) {
      parts.push(Buffer.from([3]));
      for (const s of v.StringListValues) lenPrefixed(Buffer.from(s, 'utf8'));
    } else if (v.BinaryListValues !== undefined) {
      parts.push(Buffer.from([4]));
      for (const b of v.BinaryListValues) lenPrefixed(b);
    }
  }
  return md5Hex(Buffer.concat(parts));
}
