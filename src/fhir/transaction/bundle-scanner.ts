/** A value's place in the body: bytes [start, end). */
export interface Span {
  start: number;
  end: number;
}

/** Where a Bundle's parts are in its body, found without parsing the body as a whole. */
export interface BundleLayout {
  /** The top-level members other than the `entry` array: each name's and value's place (both JSON). */
  members: { key: Span; value: Span }[];
  /** Each element of the top-level `entry` array (none when there is no such array). */
  entries: Span[];
}

export class JsonSyntaxError extends Error {}

const enum State {
  /** Before the root object. */
  Root,
  /** After `{`: a name or `}`. */
  FirstKey,
  /** After `,` between members: a name. */
  NextKey,
  /** In a member's name. */
  Key,
  /** After a member's name: `:`. */
  Colon,
  /** After `:`: the member's value. */
  MemberValue,
  /** After `[` of the entry array: an element or `]`. */
  FirstElement,
  /** After `,` between elements: an element. */
  NextElement,
  /** Inside a value's nested arrays and objects. */
  Nested,
  /** Inside a string of a value. */
  String,
  /** Inside a number, `true`, `false` or `null`. */
  Literal,
  /** After an element of the entry array: `,` or `]`. */
  AfterElement,
  /** After a member's value: `,` or `}`. */
  AfterMember,
  /** After the root object: only whitespace. */
  End,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** The first byte of a number or of `true`, `false`, `null`. */
function startsLiteral(byte: number): boolean {
  return byte === 0x2d || (byte >= 0x30 && byte <= 0x39) || byte === 0x74 || byte === 0x66 || byte === 0x6e;
}

/** Longer than any spelling of `entry` (`\u0065` for each letter is 30 bytes): such a name is some other member's. */
const KEY_CAPTURE = 32;

/**
 * Finds, chunk by chunk as a body arrives, where the top-level members of a JSON object are and
 * where each element of its `entry` array is, so that a large Bundle can be kept on disk and its
 * entries read one at a time. It works on bytes: the bytes that matter (quotes, backslashes,
 * brackets) are ASCII and never occur inside a multi-byte UTF-8 sequence.
 *
 * It checks the structure of the root object and the nesting of brackets; what is inside a value
 * (numbers, escapes, commas) is checked when that value is parsed, which every value is before the
 * Bundle is used (the members when the body ends, the entries in the first pass over them).
 */
export class BundleScanner {
  private state = State.Root;
  /** Bytes before the current chunk. */
  private offset = 0;
  /** The closing brackets of the nested arrays and objects of the current value. */
  private readonly closers: number[] = [];
  private escaped = false;
  /** Where the value being scanned started, and whether it is an element of the entry array. */
  private valueStart = 0;
  private inEntries = false;
  private key: Span = { start: 0, end: 0 };
  private keyBytes: number[] = [];
  private keyIsEntry = false;
  private members: { key: Span; value: Span; isEntry: boolean }[] = [];
  private entries: Span[] = [];

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) i = this.step(chunk, i);
    this.offset += chunk.length;
  }

  /** The layout, once the whole body has been fed. */
  finish(): BundleLayout {
    if (this.state !== State.End) throw new JsonSyntaxError('the body ends before its JSON object does');
    return { members: this.members.map(({ key, value }) => ({ key, value })), entries: this.entries };
  }

  /** Consumes what it can of `chunk` from `i` in the current state; answers where it stopped. */
  private step(chunk: Uint8Array, i: number): number {
    switch (this.state) {
      case State.String:
        return this.inString(chunk, i);
      case State.Nested:
        return this.inNested(chunk, i);
      case State.Key:
        return this.inKey(chunk, i);
      case State.Literal:
        return this.inLiteral(chunk, i);
      default:
        return this.structural(chunk[i], i) + 1;
    }
  }

  /** One byte between the tokens of the root object and of the entry array. */
  private structural(byte: number, i: number): number {
    if (isWhitespace(byte)) return i;
    switch (this.state) {
      case State.Root:
        return this.expect(byte === OPEN_OBJECT, i, 'the body must be a JSON object', State.FirstKey);
      case State.FirstKey:
        if (byte === CLOSE_OBJECT) return this.to(State.End, i);
        return this.startKey(byte, i);
      case State.NextKey:
        return this.startKey(byte, i);
      case State.Colon:
        return this.expect(byte === COLON, i, 'expected ":"', State.MemberValue);
      case State.MemberValue:
        return this.startMemberValue(byte, i);
      case State.FirstElement:
        if (byte === CLOSE_ARRAY) return this.to(State.AfterMember, i);
        return this.startValue(byte, i, true);
      case State.NextElement:
        return this.startValue(byte, i, true);
      case State.AfterElement:
        if (byte === COMMA) return this.to(State.NextElement, i);
        return this.expect(byte === CLOSE_ARRAY, i, 'expected "," or "]"', State.AfterMember);
      case State.AfterMember:
        if (byte === COMMA) return this.to(State.NextKey, i);
        return this.expect(byte === CLOSE_OBJECT, i, 'expected "," or "}"', State.End);
      default:
        throw this.error(i, 'unexpected data after the JSON object');
    }
  }

  private to(state: State, i: number): number {
    this.state = state;
    return i;
  }

  private expect(ok: boolean, i: number, what: string, next: State): number {
    if (!ok) throw this.error(i, what);
    return this.to(next, i);
  }

  private error(i: number, what: string): JsonSyntaxError {
    return new JsonSyntaxError(`${what} (at byte ${this.offset + i})`);
  }

  private startKey(byte: number, i: number): number {
    if (byte !== QUOTE) throw this.error(i, 'expected a member name');
    this.key = { start: this.offset + i, end: 0 };
    this.keyBytes = [byte];
    return this.to(State.Key, i);
  }

  private inKey(chunk: Uint8Array, i: number): number {
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.keyBytes.length <= KEY_CAPTURE) this.keyBytes.push(byte);
      if (this.escaped) this.escaped = false;
      else if (byte === BACKSLASH) this.escaped = true;
      else if (byte === QUOTE) {
        this.key.end = this.offset + i + 1;
        this.keyIsEntry = this.keyBytes.length <= KEY_CAPTURE && decodedName(this.keyBytes) === 'entry';
        this.state = State.Colon;
        return i + 1;
      }
    }
    return i;
  }

  /** JSON.parse keeps the last of a repeated name: so does the layout, for `entry` too. */
  private startMemberValue(byte: number, i: number): number {
    if (this.keyIsEntry) {
      this.members = this.members.filter((member) => !member.isEntry);
      this.entries = [];
      if (byte === OPEN_ARRAY) return this.to(State.FirstElement, i);
    }
    return this.startValue(byte, i, false);
  }

  private startValue(byte: number, i: number, inEntries: boolean): number {
    this.valueStart = this.offset + i;
    this.inEntries = inEntries;
    if (byte === QUOTE) return this.to(State.String, i);
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      this.closers.push(byte === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY);
      return this.to(State.Nested, i);
    }
    if (startsLiteral(byte)) return this.to(State.Literal, i);
    throw this.error(i, 'expected a value');
  }

  private endValue(end: number): void {
    const value = { start: this.valueStart, end };
    if (this.inEntries) {
      this.entries.push(value);
      this.state = State.AfterElement;
    } else {
      this.members.push({ key: this.key, value, isEntry: this.keyIsEntry });
      this.state = State.AfterMember;
    }
  }

  private inString(chunk: Uint8Array, i: number): number {
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.escaped) this.escaped = false;
      else if (byte === BACKSLASH) this.escaped = true;
      else if (byte === QUOTE) {
        if (this.closers.length === 0) this.endValue(this.offset + i + 1);
        else this.state = State.Nested;
        return i + 1;
      }
    }
    return i;
  }

  private inNested(chunk: Uint8Array, i: number): number {
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) {
        this.state = State.String;
        return i + 1;
      }
      if (byte === OPEN_OBJECT) this.closers.push(CLOSE_OBJECT);
      else if (byte === OPEN_ARRAY) this.closers.push(CLOSE_ARRAY);
      else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        if (this.closers.pop() !== byte) throw this.error(i, 'mismatched brackets');
        if (this.closers.length === 0) {
          this.endValue(this.offset + i + 1);
          return i + 1;
        }
      }
    }
    return i;
  }

  /** A literal ends where whitespace or punctuation starts; that byte belongs to what follows. */
  private inLiteral(chunk: Uint8Array, i: number): number {
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (isWhitespace(byte) || byte === COMMA || byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
        this.endValue(this.offset + i);
        return i;
      }
    }
    return i;
  }
}

/** A member name as JSON.parse reads it (escapes and all), from its bytes with the quotes. */
function decodedName(bytes: number[]): string | undefined {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as string;
  } catch {
    return undefined;
  }
}
