import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issueAt } from '../../errors.js';

const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

/**
 * Elements narrative.html names as forbidden in `Narrative.div` (txt-1): a document's head and
 * body, scripts, forms, base/link, frames and objects; with the HTML elements of the same kinds.
 */
const FORBIDDEN_ELEMENTS = new Set([
  'html', 'head', 'body', 'title', 'meta', 'base', 'link', 'script', 'noscript',
  'form', 'input', 'button', 'select', 'option', 'textarea',
  'frame', 'frameset', 'iframe', 'object', 'applet', 'embed', 'param',
]);

const NAME = /[A-Za-z][\w:.-]*/y;
const NAMESPACE_ATTRIBUTE = /(?:^|\s)xmlns\s*=\s*(["'])(.*?)\1/;
const EVENT_ATTRIBUTE = /(?:^|\s)(on[a-z]+)\s*=/i;
const SCRIPT_URL = /(?:^|\s)(?:href|src)\s*=\s*(["'])\s*(?:javascript|vbscript):/i;
const NO_BREAK_SPACE = /&nbsp;|&#160;|&#xa0;/gi;
const QUOTED = /"[^"]*"|'[^']*'/g;

interface Tag {
  name: string;
  attributes: string;
  closing: boolean;
}

interface Markup {
  tags: Tag[];
  /** Some text outside the tags is not whitespace. */
  hasText: boolean;
}

/**
 * The tags of `div`, read in one pass (no regular expression that could backtrack over a large
 * narrative); a string the message names when the markup is not XML: a `<` that opens no tag, a
 * quote or tag left open.
 */
function scanMarkup(div: string): Markup | string {
  const tags: Tag[] = [];
  let hasText = false;
  let at = 0;
  while (at < div.length) {
    const open = div.indexOf('<', at);
    const text = div.slice(at, open < 0 ? div.length : open);
    if (!hasText && text.replace(NO_BREAK_SPACE, ' ').trim()) hasText = true;
    if (open < 0) break;
    if (div.startsWith('<!--', open)) {
      const end = div.indexOf('-->', open + 4);
      if (end < 0) return 'a comment is left open';
      at = end + 3;
      continue;
    }
    const closing = div[open + 1] === '/';
    NAME.lastIndex = open + (closing ? 2 : 1);
    const name = NAME.exec(div)?.[0];
    if (!name) return "a '<' opens no element (write &lt;)";
    let end = NAME.lastIndex;
    while (end < div.length && div[end] !== '>') {
      const c = div[end];
      if (c === '"' || c === "'") {
        const close = div.indexOf(c, end + 1);
        if (close < 0) return `a quote in <${name}> is left open`;
        end = close + 1;
      } else if (c === '<') {
        return `<${name}> is left open`;
      } else {
        end += 1;
      }
    }
    if (end >= div.length) return `<${name}> is left open`;
    tags.push({ name, attributes: div.slice(NAME.lastIndex, end), closing });
    at = end + 1;
  }
  return { tags, hasText };
}

/** The first markup narrative.html forbids, described; undefined when there is none. */
function forbiddenMarkup(tags: Tag[]): string | undefined {
  for (const { name, attributes } of tags) {
    if (FORBIDDEN_ELEMENTS.has(name.toLowerCase())) return `a <${name}> element`;
    // Attribute values may mention `onclick=` as text: only attribute names count.
    const event = EVENT_ATTRIBUTE.exec(attributes.replace(QUOTED, '""'));
    if (event) return `an event attribute (${event[1]})`;
    if (SCRIPT_URL.test(attributes)) return 'a script URL';
  }
  return undefined;
}

function rootProblem(div: string, tags: Tag[]): string | undefined {
  const first = tags[0];
  const last = tags[tags.length - 1];
  if (!first || first.name !== 'div' || first.closing || !div.trimStart().startsWith('<div') || !last.closing || last.name !== 'div' || !div.trimEnd().endsWith('>')) {
    return 'The narrative must be a single <div> element in the XHTML namespace';
  }
  if (NAMESPACE_ATTRIBUTE.exec(first.attributes)?.[2] !== XHTML_NAMESPACE) {
    return `The narrative's <div> must declare the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`;
  }
  return undefined;
}

/**
 * The rules of `Narrative.div` that a reader's safety depends on (datatypes.html#xhtml,
 * narrative.html): XML markup whose root is a `div` in the XHTML namespace; no scripts, forms,
 * frames, objects, event attributes or script URLs (txt-1); some non-whitespace content (txt-2).
 */
export function narrativeIssues(div: string, at: string): OperationOutcomeIssue[] {
  const markup = scanMarkup(div);
  if (typeof markup === 'string') return [issueAt(at, `The narrative is not well-formed XHTML: ${markup}`, 'invariant')];
  const problem = rootProblem(div, markup.tags);
  if (problem) return [issueAt(at, problem, 'invariant')];
  const forbidden = forbiddenMarkup(markup.tags);
  if (forbidden) return [issueAt(at, `The narrative must not contain ${forbidden}: scripts, forms, frames and objects are not allowed (txt-1)`, 'invariant')];
  const hasImage = markup.tags.some((tag) => tag.name.toLowerCase() === 'img');
  if (!markup.hasText && !hasImage) return [issueAt(at, 'The narrative must have some non-whitespace content (txt-2)', 'invariant')];
  return [];
}
