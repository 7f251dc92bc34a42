import { legend, paidChart, paidTable, stateChart, stateTable, statesIn } from '../charts.js';
import { age, stateText, utc } from '../format.js';
import { html } from '../html.js';
import type { OverviewData } from '../reads.js';
import { page, type Chrome } from './layout.js';

/**
 * `/console`: the payouts in each state now (each a link to the search for that state), the review
 * queue's count, and the last 24 hours as two charts, each followed by its figures as a table. Pure.
 */
export function overviewPage(d: OverviewData, chrome: Chrome): string {
  const waiting = d.counts.filter((c) => c.count > 0);
  const states = statesIn(d.hours);
  const body = html`<h1>Overview</h1>
    <p class="lead"><a class="button${d.held > 0 ? ' primary' : ''}" href="/console/review">Review queue: ${d.held} held</a></p>

    <section aria-labelledby="now">
      <h2 id="now">Payouts now</h2>
      ${
        waiting.length === 0
          ? html`<p>No payouts are kept now.</p>`
          : html`<div class="scroll" tabindex="0" role="region" aria-label="Payouts per state">
              <table>
                <thead>
                  <tr>
                    <th scope="col">State</th>
                    <th scope="col" class="num">Payouts</th>
                    <th scope="col" class="num">Oldest for</th>
                  </tr>
                </thead>
                <tbody>
                  ${waiting.map(
                    (c) =>
                      html`<tr>
                        <th scope="row">
                          <a href="/console/payouts?state=${c.state}"><span class="state s-${c.state}">${stateText(c.state)}</span></a>
                        </th>
                        <td class="num">${c.count}</td>
                        <td class="num nowrap">
                          ${
                            c.oldestCreatedMs === null
                              ? ''
                              : html`<time datetime="${new Date(c.oldestCreatedMs).toISOString()}" title="${utc(c.oldestCreatedMs)}"
                                  >${age(d.now - c.oldestCreatedMs)}</time
                                >`
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
    </section>

    <section aria-labelledby="day">
      <h2 id="day">Last 24 hours</h2>
      <p class="hint">Payouts counted in the hour they were held for review or ended; hours in UTC.</p>
      <div class="charts">
        <figure>
          ${stateChart(d.hours)}
          <figcaption>${states.length ? legend(states) : 'No payout was held or ended in these hours.'}</figcaption>
          <details>
            <summary>The figures as a table</summary>
            <div class="scroll" tabindex="0" role="region" aria-label="Payouts per hour by state">${stateTable(d.hours)}</div>
          </details>
        </figure>
        <figure>
          ${paidChart(d.hours)}
          <figcaption>Money paid per hour, in roubles.</figcaption>
          <details>
            <summary>The figures as a table</summary>
            <div class="scroll" tabindex="0" role="region" aria-label="Money paid per hour">${paidTable(d.hours)}</div>
          </details>
        </figure>
      </div>
    </section>`;
  return page('Overview', body, chrome);
}
