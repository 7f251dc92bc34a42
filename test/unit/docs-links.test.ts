import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The links of README.md and docs/*.md, checked the way GitHub renders them: a relative link must
 * name a file that exists (an image too), and a `#anchor` must be a heading of the page it points
 * at. Sections move between the README and the docs; a link left behind would otherwise only be
 * found by a reader who follows it.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/**
 * GitHub's anchor for a heading's text: lower-cased, every character that is not a letter, a
 * digit, a mark, `-`, `_` or a space dropped, and each space made a `-` (so `§5 Webhooks` is
 * `5-webhooks`, and `Retention, and how much Redis` is `retention-and-how-much-redis`).
 */
function slugOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** A heading as rendered text: code spans, emphasis and links reduced to their words. */
function headingText(raw: string): string {
  return raw
    .replace(/\s+#+\s*$/, '') // a closing run of #s is not part of the text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim();
}

/** The lines of a page outside fenced code blocks, with their line numbers (a `# comment` in a shell block is no heading). */
function prose(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (open && open[1]![0] === fence[0] && open[1]!.length >= fence.length && line.trim() === open[1]) fence = null;
      return;
    }
    if (open) {
      fence = open[1]!;
      return;
    }
    if (/^( {4}|\t)/.test(line)) return; // an indented code block, as the README's sizing formula
    out.push({ line, n: i + 1 });
  });
  return out;
}

/** Every anchor a page offers: its headings' slugs (a repeated one numbered as GitHub does) and explicit ids. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of prose(text)) {
    const heading = /^ {0,3}#{1,6}\s+(.*)$/.exec(line);
    if (heading) {
      const slug = slugOf(headingText(heading[1]!));
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+[^>]*(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** The link targets of a page's prose (inline links, images and reference definitions), code spans left out. */
function linksOf(text: string): { target: string; n: number }[] {
  const links: { target: string; n: number }[] = [];
  for (const { line, n } of prose(text)) {
    const bare = line.replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length));
    for (const m of bare.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, n });
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(bare);
    if (definition) links.push({ target: definition[1]!, n });
  }
  return links;
}

/** What is wrong with one page's relative links, one line each; empty when nothing is. */
function problemsOf(page: string): string[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const problems: string[] = [];
  for (const { target, n } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // https:, mailto: … are not ours to check
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const file = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path));
    const where = `${page}:${n}: ${target}`;
    if (file.startsWith('..') || !existsSync(join(ROOT, file))) {
      problems.push(`${where}: ${file} does not exist`);
      continue;
    }
    if (anchor === null) continue;
    if (!file.endsWith('.md')) {
      problems.push(`${where}: an anchor into ${file}, which is not a Markdown page`);
      continue;
    }
    const anchors = anchorsOf(readFileSync(join(ROOT, file), 'utf8'));
    if (!anchors.has(anchor)) problems.push(`${where}: ${file} has no heading whose anchor is #${anchor}`);
  }
  return problems;
}

describe('the anchors GitHub gives headings', () => {
  it('drops punctuation, keeps letters of any script, digits, - and _, and makes spaces dashes', () => {
    expect(slugOf('Retention, and how much Redis')).toBe('retention-and-how-much-redis');
    expect(slugOf('§5 Webhooks')).toBe('5-webhooks');
    expect(slugOf(headingText('The sandbox bank (`npm run sandbox`)'))).toBe('the-sandbox-bank-npm-run-sandbox');
    expect(slugOf(headingText('Plain `node` (systemd, Kubernetes)'))).toBe('plain-node-systemd-kubernetes');
    expect(slugOf('Funding: the partner wallet, and what waits for it')).toBe('funding-the-partner-wallet-and-what-waits-for-it');
    expect(slugOf('REVIEW_ABOVE and ИНН')).toBe('review_above-and-инн');
    expect(slugOf('Statements (export)')).toBe('statements-export');
  });

  it('numbers a repeated heading, and sees no heading inside a code block', () => {
    const anchors = anchorsOf('# Events\n\n## Events\n\n```sh\n# not a heading\n```\n\n    # nor this\n');
    expect([...anchors]).toEqual(['events', 'events-1']);
  });

  it('finds links and images, but not those in code spans or code blocks', () => {
    const text = 'See [a](a.md#x) and ![b](b.png), not `[c](c.md)`.\n\n```md\n[d](d.md)\n```\n\n[e]: e.md\n';
    expect(linksOf(text).map((l) => l.target)).toEqual(['a.md#x', 'b.png', 'e.md']);
  });
});

describe('links in the README and docs/', () => {
  it('has pages to check', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/operations.md', 'docs/architecture.md']));
  });

  for (const page of PAGES) {
    it(`${page}: every relative link and image names a file that exists, and every #anchor a heading of its page`, () => {
      expect(problemsOf(page)).toEqual([]);
    });
  }
});
