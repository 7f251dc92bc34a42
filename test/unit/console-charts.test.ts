import { describe, expect, it } from 'vitest';
import { legend, niceMax, paidChart, paidTable, stateChart, stateTable, statesIn, type HourStat } from '../../src/console/charts.js';

const HOUR = 3_600_000;
const start = Date.UTC(2025, 2, 1, 0);
const hours = (n: number, f: (i: number) => Partial<HourStat>): HourStat[] =>
  Array.from({ length: n }, (_, i) => ({ hour: new Date(start + i * HOUR).toISOString(), states: {}, paidKopecks: 0, ...f(i) }));

const count = (s: string, re: RegExp) => s.match(re)?.length ?? 0;
/** Markup with its formatting whitespace gone: what a browser makes of it, for matching. */
const squash = (s: string) => s.replace(/\s+/g, ' ').replace(/>\s+</g, '><').replace(/\s+>/g, '>');

describe('niceMax', () => {
  it('rounds an axis up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 7, 10, 11, 180, 501].map(niceMax)).toEqual([1, 1, 5, 10, 10, 20, 200, 1000]);
  });
});

describe('the state chart', () => {
  const stats = hours(24, (i) => ({ states: i % 2 ? { succeeded: i, failed: 1 } : i === 4 ? { awaiting_review: 2 } : {} }));
  const svg = squash(stateChart(stats).value);

  it('has one bar per hour and one segment per state present in it', () => {
    expect(count(svg, /<g class="hour">/g)).toBe(24);
    // 12 odd hours with two states each, one even hour with one
    expect(count(svg, /<rect /g)).toBe(12 * 2 + 1);
    expect(count(svg, /class="seg s-succeeded"/g)).toBe(12);
    expect(count(svg, /class="seg s-awaiting_review"/g)).toBe(1);
  });

  it('is an image with a name and a description, styled by classes only', () => {
    expect(svg).toMatch(/^<svg class="chart" viewBox="0 0 480 250" role="img" aria-labelledby="by-state-title by-state-desc"/);
    expect(svg).toContain('<title id="by-state-title">Payouts by state, last 24 hours</title>');
    expect(svg).toContain(`${(12 * 24) / 2 + 12 + 2} payouts over 24 hours`);
    expect(svg).not.toMatch(/style=|<style|<script/);
  });

  it('stacks segments within the plot, the tallest bar reaching the axis top', () => {
    // the tallest hour (23 succeeded + 1 failed = 24) on an axis to 50: 24/50 of 200 px
    const heights = [...svg.matchAll(/<rect class="seg s-(\w+)" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/g)].map((m) => ({
      y: Number(m[2]),
      h: Number(m[3]),
    }));
    for (const { y, h } of heights) {
      expect(y).toBeGreaterThanOrEqual(12);
      expect(y + h).toBeLessThanOrEqual(220.01);
    }
    expect(svg).toContain('>50</text>');
  });

  it('lists the states present, in lifecycle order, in the legend and the table', () => {
    expect(statesIn(stats)).toEqual(['awaiting_review', 'succeeded', 'failed']);
    expect(count(legend(statesIn(stats)).value, /<li>/g)).toBe(3);
    const table = squash(stateTable(stats).value);
    expect(count(table, /<tr>/g)).toBe(25);
    expect(table).toContain('<th scope="col">awaiting review</th>');
  });

  it('draws an empty day as an empty frame', () => {
    const empty = squash(stateChart(hours(24, () => ({}))).value);
    expect(count(empty, /<g class="hour">/g)).toBe(24);
    expect(count(empty, /<rect /g)).toBe(0);
    expect(empty).toContain('0 payouts over 24 hours');
  });
});

describe('the paid chart', () => {
  const stats = hours(24, (i) => ({ paidKopecks: i * 1_000_00 }));
  it('has one bar per hour, zero-high for an hour that paid nothing', () => {
    const svg = squash(paidChart(stats).value);
    expect(count(svg, /<rect class="bar paid"/g)).toBe(24);
    expect(svg).toContain('height="0"');
    expect(svg).toContain('<title>23:00 UTC: RUB 23,000.00</title>');
    expect(svg).not.toMatch(/style=|<style|<script/);
  });
  it('and a table of the same sums', () => {
    const table = squash(paidTable(stats).value);
    expect(count(table, /<tr>/g)).toBe(25);
    expect(table).toContain('<th scope="row">05:00</th><td class="num">RUB 5,000.00</td>');
  });
});
